-- hf_featured kept in step with hf_daily by the database itself: a row written to hf_daily by
-- any writer (an import, a bulk load, a script) puts its featured day on the curated lists.
-- Further days of a paper featured again are added by the ingest (store/papers._write_hf_rows),
-- since hf_daily.featured_on keeps the first. The backfill repeats 0060's for rows written
-- between the two.
CREATE TRIGGER hf_daily_featured_ins AFTER INSERT ON hf_daily WHEN NEW.featured_on IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO hf_featured(day, paper_id) VALUES (NEW.featured_on, NEW.paper_id);
END;
CREATE TRIGGER hf_daily_featured_upd AFTER UPDATE OF featured_on ON hf_daily WHEN NEW.featured_on IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO hf_featured(day, paper_id) VALUES (NEW.featured_on, NEW.paper_id);
END;
INSERT OR IGNORE INTO hf_featured(day, paper_id)
    SELECT featured_on, paper_id FROM hf_daily WHERE featured_on IS NOT NULL;
