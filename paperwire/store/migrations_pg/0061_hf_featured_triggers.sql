-- hf_featured kept in step with hf_daily by the database itself (migrations/0061). The
-- featured day is added only when absent, the form SQLite reached in 0072.
CREATE FUNCTION pw_hf_daily_featured() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.featured_on IS NOT NULL THEN
        INSERT INTO hf_featured(day, paper_id) VALUES (NEW.featured_on, NEW.paper_id) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER hf_daily_featured_ins AFTER INSERT ON hf_daily
    FOR EACH ROW EXECUTE FUNCTION pw_hf_daily_featured();
CREATE TRIGGER hf_daily_featured_upd AFTER UPDATE OF featured_on ON hf_daily
    FOR EACH ROW EXECUTE FUNCTION pw_hf_daily_featured();
INSERT INTO hf_featured(day, paper_id)
    SELECT featured_on, paper_id FROM hf_daily WHERE featured_on IS NOT NULL
    ON CONFLICT DO NOTHING;
