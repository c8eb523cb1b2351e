-- On SQLite this migration rewrote 0061's triggers (an upsert's conflict handling leaked into
-- them). PostgreSQL's ON CONFLICT inside a trigger is the trigger's own: 0061 already has the
-- final form. The function is restated so both engines record the same migration.
CREATE OR REPLACE FUNCTION pw_hf_daily_featured() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.featured_on IS NOT NULL THEN
        INSERT INTO hf_featured(day, paper_id) VALUES (NEW.featured_on, NEW.paper_id) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
