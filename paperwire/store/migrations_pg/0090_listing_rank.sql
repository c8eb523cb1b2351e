-- The two daily lists ranked on write (migrations/0090_listing_rank.sql says why): one narrow
-- row of sort keys per paper, refreshed by triggers in the transaction of any write that changes
-- them, so a day's "All new" page walks listing_rank_day in its order with LIMIT/OFFSET.
-- The code kinds are models.CODE_KINDS and the venue words listings.VENUE_WORDS (lower(): the
-- SQLite LIKE ignores ASCII case, PostgreSQL's does not).
CREATE TABLE listing_rank (
    paper_id TEXT PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
    listed   TEXT,
    hidden   INTEGER NOT NULL DEFAULT 0,
    newest   TEXT,
    upvotes  INTEGER NOT NULL DEFAULT 0,
    has_code INTEGER NOT NULL DEFAULT 0,
    evidence INTEGER NOT NULL DEFAULT 0
);

-- the keys of one paper from the source tables, written into its row (made when missing)
CREATE FUNCTION pw_listing_rank_refresh(pid TEXT) RETURNS void LANGUAGE sql AS $$
    INSERT INTO listing_rank AS r (paper_id, listed, hidden, newest, upvotes, has_code, evidence)
    SELECT p.id, p.listed, p.hidden, COALESCE(p.published, p.listed),
           COALESCE((SELECT c.upvotes FROM paper_counts c WHERE c.paper_id = p.id), 0)
             + COALESCE((SELECT h.upvotes FROM hf_daily h WHERE h.paper_id = p.id), 0),
           CASE WHEN EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                THEN 1 ELSE 0 END,
           CASE WHEN EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                THEN 3 ELSE 0 END
             + COALESCE((SELECT CASE WHEN h.github_stars >= 10 THEN 1 ELSE 0 END
                                + CASE WHEN h.github_stars >= 100 THEN 1 ELSE 0 END
                                + CASE WHEN h.github_stars >= 1000 THEN 1 ELSE 0 END
                         FROM hf_daily h WHERE h.paper_id = p.id AND h.github_stars IS NOT NULL), 0)
             + CASE WHEN EXISTS (SELECT 1 FROM hf_daily h WHERE h.paper_id = p.id AND h.project_page IS NOT NULL)
                      OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind = 'project')
                    THEN 2 ELSE 0 END
             + CASE WHEN p.journal_ref IS NOT NULL OR lower(COALESCE(p.comments, '')) LIKE '%accepted%'
                      OR lower(COALESCE(p.comments, '')) LIKE '%to appear%'
                      OR lower(COALESCE(p.comments, '')) LIKE '%published in%'
                      OR lower(COALESCE(p.comments, '')) LIKE '%camera-ready%'
                      OR lower(COALESCE(p.comments, '')) LIKE '%camera ready%'
                    THEN 2 ELSE 0 END
    FROM papers p WHERE p.id = pid
    ON CONFLICT (paper_id) DO UPDATE SET listed = excluded.listed, hidden = excluded.hidden,
        newest = excluded.newest, upvotes = excluded.upvotes, has_code = excluded.has_code,
        evidence = excluded.evidence;
$$;

INSERT INTO listing_rank(paper_id) SELECT id FROM papers;
SELECT pw_listing_rank_refresh(id) FROM papers;
CREATE INDEX listing_rank_day ON listing_rank(listed, upvotes DESC, evidence DESC, paper_id DESC) WHERE hidden = 0;

CREATE FUNCTION pw_listing_rank_papers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pw_listing_rank_refresh(NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER listing_rank_papers AFTER INSERT OR UPDATE OF listed, hidden, published, journal_ref, comments
    ON papers FOR EACH ROW EXECUTE FUNCTION pw_listing_rank_papers();

-- links, hf_daily, paper_counts: the paper of the row written (both, if an update moved it);
-- a paper being deleted is left to the cascade
CREATE FUNCTION pw_listing_rank_paper_of_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pw_listing_rank_refresh(OLD.paper_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.paper_id <> OLD.paper_id) THEN
        PERFORM pw_listing_rank_refresh(NEW.paper_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER listing_rank_links AFTER INSERT OR UPDATE OR DELETE ON links
    FOR EACH ROW EXECUTE FUNCTION pw_listing_rank_paper_of_row();
CREATE TRIGGER listing_rank_hf AFTER INSERT OR UPDATE OF upvotes, github_stars, project_page OR DELETE ON hf_daily
    FOR EACH ROW EXECUTE FUNCTION pw_listing_rank_paper_of_row();
CREATE TRIGGER listing_rank_counts AFTER INSERT OR UPDATE OF upvotes ON paper_counts
    FOR EACH ROW EXECUTE FUNCTION pw_listing_rank_paper_of_row();
