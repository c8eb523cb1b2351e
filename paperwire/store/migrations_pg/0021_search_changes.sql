-- The change sequence that the index folders of every app host follow (the tantivy lexical
-- index and the vector index, paperwire/search/tantivy.py and vectors.py). On SQLite this
-- table is a set of changed documents that the one indexing process drains; with several
-- hosts nobody may drain it: each host keeps its own position in the sequence
-- (paperwire.store.changes) and old rows are pruned by age.
--
-- `seq` is the id of the writing transaction, `id` the order inside it. Transactions commit
-- out of order, so a plain serial could be read past: a reader takes only rows of
-- transactions older than the oldest one still running (all of which have committed or
-- rolled back), in (seq, id) order, and never misses a row.
CREATE TABLE search_changes (
    id    BIGINT GENERATED ALWAYS AS IDENTITY,
    seq   BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    docid BIGINT NOT NULL,
    at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (seq, id)
);
CREATE INDEX search_changes_at ON search_changes(at);

-- A new search document (a new paper), a changed text, a removed paper: the host re-reads
-- the paper's current text (or learns it is gone). Bulk imports write these rows set-based
-- (paperwire.store.bulk), their transactions skip the per-row trigger.
CREATE FUNCTION pw_search_changes_doc() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('paperwire.bulk', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO search_changes(docid) VALUES (OLD.docid);
    ELSIF TG_OP = 'INSERT' OR OLD.tsv IS DISTINCT FROM NEW.tsv THEN
        INSERT INTO search_changes(docid) VALUES (NEW.docid);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER search_changes_doc AFTER INSERT OR UPDATE OF tsv OR DELETE ON search_docs
    FOR EACH ROW EXECUTE FUNCTION pw_search_changes_doc();
