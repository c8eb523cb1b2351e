-- A harvest that sees a featured paper again with more upvotes updates its hf_daily row with an
-- upsert; inside the triggers of 0061, SQLite applies the outer statement's conflict handling
-- instead of their OR IGNORE, so the day already in hf_featured made the whole harvest fail
-- (UNIQUE constraint failed: hf_featured.day, hf_featured.paper_id). The same triggers, adding a
-- day only when it is not there yet.
DROP TRIGGER IF EXISTS hf_daily_featured_ins;
DROP TRIGGER IF EXISTS hf_daily_featured_upd;
CREATE TRIGGER hf_daily_featured_ins AFTER INSERT ON hf_daily WHEN NEW.featured_on IS NOT NULL
BEGIN
    INSERT INTO hf_featured(day, paper_id) SELECT NEW.featured_on, NEW.paper_id
        WHERE NOT EXISTS (SELECT 1 FROM hf_featured WHERE day = NEW.featured_on AND paper_id = NEW.paper_id);
END;
CREATE TRIGGER hf_daily_featured_upd AFTER UPDATE OF featured_on ON hf_daily WHEN NEW.featured_on IS NOT NULL
BEGIN
    INSERT INTO hf_featured(day, paper_id) SELECT NEW.featured_on, NEW.paper_id
        WHERE NOT EXISTS (SELECT 1 FROM hf_featured WHERE day = NEW.featured_on AND paper_id = NEW.paper_id);
END;
