-- Bulk imports and the per-row triggers on papers (migrations 0020 and 0090). A bulk import's
-- transactions set paperwire.bulk = 'on' (paperwire.store.bulk_pg.begin_bulk) and its catch-up
-- writes what a new paper derives, set-based, one papers rowid range at a time
-- (bulk_pg.write_derived). Calling a per-row trigger function only for it to return at once
-- still costs a PL/pgSQL call per row, and refreshing listing_rank row by row cut COPY of the
-- papers rows from ~29,000 to ~1,700 rows/s; so:
--   * the papers insert triggers carry the bulk test in their WHEN clause (checked without a
--     function call) and do nothing for a paper a bulk transaction inserts;
--   * the other listing_rank triggers (an updated paper, its links, Hugging Face row, vote
--     count) leave alone, inside a bulk transaction, a paper that has no listing_rank row yet:
--     such a paper was inserted by a bulk transaction, so its rowid is at or after the
--     deferral's from_rowid and the catch-up writes its row (pw_listing_rank_range, below);
--     a paper that has its row keeps it right as before.
-- listing_rank stays equal to the keys computed from the source tables
-- (paperwire.store.listings.listing_rank_drift) once the catch-up has run.

-- Inside a bulk transaction, and this paper's listing_rank row is left to the catch-up.
CREATE FUNCTION pw_listing_rank_deferred(pid TEXT) RETURNS boolean LANGUAGE sql AS $$
    SELECT coalesce(current_setting('paperwire.bulk', true), '') = 'on'
           AND NOT EXISTS (SELECT 1 FROM listing_rank WHERE paper_id = pid)
$$;

CREATE OR REPLACE FUNCTION pw_listing_rank_papers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pw_listing_rank_deferred(NEW.id) THEN
        PERFORM pw_listing_rank_refresh(NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION pw_listing_rank_paper_of_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND NOT pw_listing_rank_deferred(OLD.paper_id) THEN
        PERFORM pw_listing_rank_refresh(OLD.paper_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.paper_id <> OLD.paper_id)
       AND NOT pw_listing_rank_deferred(NEW.paper_id) THEN
        PERFORM pw_listing_rank_refresh(NEW.paper_id);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER listing_rank_papers ON papers;
CREATE TRIGGER listing_rank_papers_ai AFTER INSERT ON papers FOR EACH ROW
    WHEN (coalesce(current_setting('paperwire.bulk', true), '') <> 'on')
    EXECUTE FUNCTION pw_listing_rank_papers();
CREATE TRIGGER listing_rank_papers_au AFTER UPDATE OF listed, hidden, published, journal_ref, comments ON papers
    FOR EACH ROW EXECUTE FUNCTION pw_listing_rank_papers();

DROP TRIGGER search_papers_ai ON papers;
CREATE TRIGGER search_papers_ai AFTER INSERT ON papers FOR EACH ROW
    WHEN (coalesce(current_setting('paperwire.bulk', true), '') <> 'on')
    EXECUTE FUNCTION pw_search_papers_write();

-- The listing_rank rows of the papers with lo <= rowid < hi, set-based: the keys
-- pw_listing_rank_refresh computes for one paper, for the whole range at once.
CREATE FUNCTION pw_listing_rank_range(lo BIGINT, hi BIGINT) RETURNS void LANGUAGE sql AS $$
    INSERT INTO listing_rank AS r (paper_id, listed, hidden, newest, upvotes, has_code, evidence)
    SELECT p.id, p.listed, p.hidden, COALESCE(p.published, p.listed),
           COALESCE(c.upvotes, 0) + COALESCE(h.upvotes, 0),
           CASE WHEN l.has_code THEN 1 ELSE 0 END,
           CASE WHEN l.has_code THEN 3 ELSE 0 END
             + CASE WHEN h.github_stars >= 10 THEN 1 ELSE 0 END
             + CASE WHEN h.github_stars >= 100 THEN 1 ELSE 0 END
             + CASE WHEN h.github_stars >= 1000 THEN 1 ELSE 0 END
             + CASE WHEN h.project_page IS NOT NULL OR l.has_project THEN 2 ELSE 0 END
             + CASE WHEN p.journal_ref IS NOT NULL OR lower(COALESCE(p.comments, '')) LIKE '%accepted%'
                      OR lower(COALESCE(p.comments, '')) LIKE '%to appear%'
                      OR lower(COALESCE(p.comments, '')) LIKE '%published in%'
                      OR lower(COALESCE(p.comments, '')) LIKE '%camera-ready%'
                      OR lower(COALESCE(p.comments, '')) LIKE '%camera ready%'
                    THEN 2 ELSE 0 END
    FROM papers p
    LEFT JOIN paper_counts c ON c.paper_id = p.id
    LEFT JOIN hf_daily h ON h.paper_id = p.id
    LEFT JOIN LATERAL (
        SELECT coalesce(bool_or(k.kind IN ('github', 'gitlab')), false) AS has_code,
               coalesce(bool_or(k.kind = 'project'), false) AS has_project
        FROM links k WHERE k.paper_id = p.id) l ON true
    WHERE p.rowid >= lo AND p.rowid < hi
    ON CONFLICT (paper_id) DO UPDATE SET listed = excluded.listed, hidden = excluded.hidden,
        newest = excluded.newest, upvotes = excluded.upvotes, has_code = excluded.has_code,
        evidence = excluded.evidence;
$$;

-- The change sequence (migration 0021): a bulk transaction skips the row of a NEW search
-- document only (its catch-up writes those rows set-based); a document updated or deleted
-- inside a bulk transaction (a stored paper whose text a re-imported record changed) is
-- logged as at any other time, so every host re-reads it.
CREATE OR REPLACE FUNCTION pw_search_changes_doc() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO search_changes(docid) VALUES (OLD.docid);
    ELSIF TG_OP = 'INSERT' OR OLD.tsv IS DISTINCT FROM NEW.tsv THEN
        INSERT INTO search_changes(docid) VALUES (NEW.docid);
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER search_changes_doc ON search_docs;
CREATE TRIGGER search_changes_doc_ai AFTER INSERT ON search_docs FOR EACH ROW
    WHEN (coalesce(current_setting('paperwire.bulk', true), '') <> 'on')
    EXECUTE FUNCTION pw_search_changes_doc();
CREATE TRIGGER search_changes_doc_aud AFTER UPDATE OF tsv OR DELETE ON search_docs
    FOR EACH ROW EXECUTE FUNCTION pw_search_changes_doc();
