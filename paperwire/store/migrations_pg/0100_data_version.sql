-- One number every app host reads to learn that the pages it cached are stale (the web page
-- cache, paperwire.web.render, compares it once per request). It moves when something a
-- visitor expects to see at once changes -- a vote, a comment, a submission to a day's list,
-- a moderator hiding a paper or comment -- whichever host or command made the change.
-- New papers are seen through the highest search_docs.docid instead
-- (paperwire.store.shared_state.data_version), so a COPY import pays no trigger per paper;
-- edits of stored papers and signals show within settings.page_cache_seconds.
--
-- The triggers are deferred to commit and bump at most once per transaction: the counter row
-- is locked only for the instant of the commit, never while a transaction still takes other
-- row locks (which could deadlock two votes), and a reader that sees the new number also sees
-- the change it announces (same commit). A sequence would not block at all, but nextval() is
-- visible before the commit, so a host could cache the old page under the new number.
CREATE TABLE data_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO data_version(id, n) VALUES (1, 0);

CREATE FUNCTION paperwire_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('paperwire.data_version_xact', true) IS DISTINCT FROM txid_current()::text THEN
        UPDATE data_version SET n = n + 1 WHERE id = 1;
        PERFORM set_config('paperwire.data_version_xact', txid_current()::text, true);
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER data_version_upvotes AFTER INSERT OR DELETE ON upvotes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION paperwire_bump_data_version();
CREATE CONSTRAINT TRIGGER data_version_comments AFTER INSERT OR UPDATE OR DELETE ON comments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION paperwire_bump_data_version();
CREATE CONSTRAINT TRIGGER data_version_submissions AFTER INSERT OR UPDATE OR DELETE ON submissions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION paperwire_bump_data_version();
CREATE CONSTRAINT TRIGGER data_version_papers_hidden AFTER UPDATE OF hidden ON papers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.hidden IS DISTINCT FROM OLD.hidden)
    EXECUTE FUNCTION paperwire_bump_data_version();
