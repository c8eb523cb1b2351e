-- The two daily lists ranked on write, so a page reads one index range instead of a day's rows.
--
-- "All new on arXiv" (store/listings.new_ids) orders a listing day's papers by upvotes (site +
-- Hugging Face), then the evidence of interest a record carries (code +3, one point per GitHub
-- star tier 10/100/1,000, project page +2, venue named +2: listings.EVIDENCE_POINTS), then the
-- newest id. Computing that per request read every paper row of the day (the venue check reads
-- the comments field) and sorted ~1,000 of them; "Daily papers" (curated_ids) read the wide
-- papers rows of its ~40 papers for the code/recency ties. Here each paper's sort keys are one
-- narrow row, refreshed by triggers in the same transaction as any write that changes them
-- (every writer: ingest, bulk load, votes, moderation), and a day's list is a walk of
-- listing_rank_day in its order, with LIMIT/OFFSET.
--
-- Every trigger runs the same refresh of the paper's row (a few index lookups), so the row is
-- right whatever changed. Only plain UPDATEs (no conflict clause) run inside the triggers: the
-- conflict handling of a statement that fires a trigger replaces its statements' own (see 0072).
-- The code kinds are models.CODE_KINDS and the venue words listings.VENUE_WORDS; a test checks
-- the table against the ranking computed from the source tables.
CREATE TABLE listing_rank (
    paper_id TEXT PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
    listed   TEXT,                        -- papers.listed
    hidden   INTEGER NOT NULL DEFAULT 0,  -- papers.hidden
    newest   TEXT,                        -- COALESCE(published, listed): the curated list's last tie-break
    upvotes  INTEGER NOT NULL DEFAULT 0,  -- paper_counts.upvotes + hf_daily.upvotes
    has_code INTEGER NOT NULL DEFAULT 0,  -- a github/gitlab link
    evidence INTEGER NOT NULL DEFAULT 0   -- points, as above
) WITHOUT ROWID;
CREATE INDEX listing_rank_day ON listing_rank(listed, upvotes DESC, evidence DESC, paper_id DESC) WHERE hidden = 0;

INSERT INTO listing_rank(paper_id) SELECT id FROM papers;
UPDATE listing_rank SET (listed, hidden, newest, upvotes, has_code, evidence) = (
        SELECT p.listed, p.hidden, COALESCE(p.published, p.listed),
               COALESCE((SELECT c.upvotes FROM paper_counts c WHERE c.paper_id = p.id), 0)
                 + COALESCE((SELECT h.upvotes FROM hf_daily h WHERE h.paper_id = p.id), 0),
               EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab')),
               3 * EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                 + COALESCE((SELECT (h.github_stars >= 10) + (h.github_stars >= 100) + (h.github_stars >= 1000)
                             FROM hf_daily h WHERE h.paper_id = p.id AND h.github_stars IS NOT NULL), 0)
                 + 2 * (EXISTS (SELECT 1 FROM hf_daily h WHERE h.paper_id = p.id AND h.project_page IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind = 'project'))
                 + 2 * (p.journal_ref IS NOT NULL OR COALESCE(p.comments, '') LIKE '%accepted%'
                        OR COALESCE(p.comments, '') LIKE '%to appear%' OR COALESCE(p.comments, '') LIKE '%published in%'
                        OR COALESCE(p.comments, '') LIKE '%camera-ready%' OR COALESCE(p.comments, '') LIKE '%camera ready%')
        FROM papers p WHERE p.id = listing_rank.paper_id);

CREATE TRIGGER listing_rank_papers_ins AFTER INSERT ON papers BEGIN
    INSERT INTO listing_rank(paper_id) SELECT NEW.id WHERE NOT EXISTS (SELECT 1 FROM listing_rank WHERE paper_id = NEW.id);
    UPDATE listing_rank SET (listed, hidden, newest, upvotes, has_code, evidence) = (
        SELECT p.listed, p.hidden, COALESCE(p.published, p.listed),
               COALESCE((SELECT c.upvotes FROM paper_counts c WHERE c.paper_id = p.id), 0)
                 + COALESCE((SELECT h.upvotes FROM hf_daily h WHERE h.paper_id = p.id), 0),
               EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab')),
               3 * EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                 + COALESCE((SELECT (h.github_stars >= 10) + (h.github_stars >= 100) + (h.github_stars >= 1000)
                             FROM hf_daily h WHERE h.paper_id = p.id AND h.github_stars IS NOT NULL), 0)
                 + 2 * (EXISTS (SELECT 1 FROM hf_daily h WHERE h.paper_id = p.id AND h.project_page IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind = 'project'))
                 + 2 * (p.journal_ref IS NOT NULL OR COALESCE(p.comments, '') LIKE '%accepted%'
                        OR COALESCE(p.comments, '') LIKE '%to appear%' OR COALESCE(p.comments, '') LIKE '%published in%'
                        OR COALESCE(p.comments, '') LIKE '%camera-ready%' OR COALESCE(p.comments, '') LIKE '%camera ready%')
        FROM papers p WHERE p.id = listing_rank.paper_id)
    WHERE paper_id = NEW.id AND EXISTS (SELECT 1 FROM papers WHERE id = NEW.id);
END;

CREATE TRIGGER listing_rank_papers_upd AFTER UPDATE OF listed, hidden, published, journal_ref, comments ON papers BEGIN
    UPDATE listing_rank SET (listed, hidden, newest, upvotes, has_code, evidence) = (
        SELECT p.listed, p.hidden, COALESCE(p.published, p.listed),
               COALESCE((SELECT c.upvotes FROM paper_counts c WHERE c.paper_id = p.id), 0)
                 + COALESCE((SELECT h.upvotes FROM hf_daily h WHERE h.paper_id = p.id), 0),
               EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab')),
               3 * EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                 + COALESCE((SELECT (h.github_stars >= 10) + (h.github_stars >= 100) + (h.github_stars >= 1000)
                             FROM hf_daily h WHERE h.paper_id = p.id AND h.github_stars IS NOT NULL), 0)
                 + 2 * (EXISTS (SELECT 1 FROM hf_daily h WHERE h.paper_id = p.id AND h.project_page IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind = 'project'))
                 + 2 * (p.journal_ref IS NOT NULL OR COALESCE(p.comments, '') LIKE '%accepted%'
                        OR COALESCE(p.comments, '') LIKE '%to appear%' OR COALESCE(p.comments, '') LIKE '%published in%'
                        OR COALESCE(p.comments, '') LIKE '%camera-ready%' OR COALESCE(p.comments, '') LIKE '%camera ready%')
        FROM papers p WHERE p.id = listing_rank.paper_id)
    WHERE paper_id = NEW.id AND EXISTS (SELECT 1 FROM papers WHERE id = NEW.id);
END;

CREATE TRIGGER listing_rank_links_ins AFTER INSERT ON links BEGIN
    UPDATE listing_rank SET (listed, hidden, newest, upvotes, has_code, evidence) = (
        SELECT p.listed, p.hidden, COALESCE(p.published, p.listed),
               COALESCE((SELECT c.upvotes FROM paper_counts c WHERE c.paper_id = p.id), 0)
                 + COALESCE((SELECT h.upvotes FROM hf_daily h WHERE h.paper_id = p.id), 0),
               EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab')),
               3 * EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                 + COALESCE((SELECT (h.github_stars >= 10) + (h.github_stars >= 100) + (h.github_stars >= 1000)
                             FROM hf_daily h WHERE h.paper_id = p.id AND h.github_stars IS NOT NULL), 0)
                 + 2 * (EXISTS (SELECT 1 FROM hf_daily h WHERE h.paper_id = p.id AND h.project_page IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind = 'project'))
                 + 2 * (p.journal_ref IS NOT NULL OR COALESCE(p.comments, '') LIKE '%accepted%'
                        OR COALESCE(p.comments, '') LIKE '%to appear%' OR COALESCE(p.comments, '') LIKE '%published in%'
                        OR COALESCE(p.comments, '') LIKE '%camera-ready%' OR COALESCE(p.comments, '') LIKE '%camera ready%')
        FROM papers p WHERE p.id = listing_rank.paper_id)
    WHERE paper_id = NEW.paper_id AND EXISTS (SELECT 1 FROM papers WHERE id = NEW.paper_id);
END;

CREATE TRIGGER listing_rank_links_del AFTER DELETE ON links BEGIN
    UPDATE listing_rank SET (listed, hidden, newest, upvotes, has_code, evidence) = (
        SELECT p.listed, p.hidden, COALESCE(p.published, p.listed),
               COALESCE((SELECT c.upvotes FROM paper_counts c WHERE c.paper_id = p.id), 0)
                 + COALESCE((SELECT h.upvotes FROM hf_daily h WHERE h.paper_id = p.id), 0),
               EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab')),
               3 * EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                 + COALESCE((SELECT (h.github_stars >= 10) + (h.github_stars >= 100) + (h.github_stars >= 1000)
                             FROM hf_daily h WHERE h.paper_id = p.id AND h.github_stars IS NOT NULL), 0)
                 + 2 * (EXISTS (SELECT 1 FROM hf_daily h WHERE h.paper_id = p.id AND h.project_page IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind = 'project'))
                 + 2 * (p.journal_ref IS NOT NULL OR COALESCE(p.comments, '') LIKE '%accepted%'
                        OR COALESCE(p.comments, '') LIKE '%to appear%' OR COALESCE(p.comments, '') LIKE '%published in%'
                        OR COALESCE(p.comments, '') LIKE '%camera-ready%' OR COALESCE(p.comments, '') LIKE '%camera ready%')
        FROM papers p WHERE p.id = listing_rank.paper_id)
    WHERE paper_id = OLD.paper_id AND EXISTS (SELECT 1 FROM papers WHERE id = OLD.paper_id);
END;

CREATE TRIGGER listing_rank_links_upd AFTER UPDATE ON links BEGIN
    UPDATE listing_rank SET (listed, hidden, newest, upvotes, has_code, evidence) = (
        SELECT p.listed, p.hidden, COALESCE(p.published, p.listed),
               COALESCE((SELECT c.upvotes FROM paper_counts c WHERE c.paper_id = p.id), 0)
                 + COALESCE((SELECT h.upvotes FROM hf_daily h WHERE h.paper_id = p.id), 0),
               EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab')),
               3 * EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                 + COALESCE((SELECT (h.github_stars >= 10) + (h.github_stars >= 100) + (h.github_stars >= 1000)
                             FROM hf_daily h WHERE h.paper_id = p.id AND h.github_stars IS NOT NULL), 0)
                 + 2 * (EXISTS (SELECT 1 FROM hf_daily h WHERE h.paper_id = p.id AND h.project_page IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind = 'project'))
                 + 2 * (p.journal_ref IS NOT NULL OR COALESCE(p.comments, '') LIKE '%accepted%'
                        OR COALESCE(p.comments, '') LIKE '%to appear%' OR COALESCE(p.comments, '') LIKE '%published in%'
                        OR COALESCE(p.comments, '') LIKE '%camera-ready%' OR COALESCE(p.comments, '') LIKE '%camera ready%')
        FROM papers p WHERE p.id = listing_rank.paper_id)
    WHERE paper_id = NEW.paper_id AND EXISTS (SELECT 1 FROM papers WHERE id = NEW.paper_id);
END;

CREATE TRIGGER listing_rank_hf_ins AFTER INSERT ON hf_daily BEGIN
    UPDATE listing_rank SET (listed, hidden, newest, upvotes, has_code, evidence) = (
        SELECT p.listed, p.hidden, COALESCE(p.published, p.listed),
               COALESCE((SELECT c.upvotes FROM paper_counts c WHERE c.paper_id = p.id), 0)
                 + COALESCE((SELECT h.upvotes FROM hf_daily h WHERE h.paper_id = p.id), 0),
               EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab')),
               3 * EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                 + COALESCE((SELECT (h.github_stars >= 10) + (h.github_stars >= 100) + (h.github_stars >= 1000)
                             FROM hf_daily h WHERE h.paper_id = p.id AND h.github_stars IS NOT NULL), 0)
                 + 2 * (EXISTS (SELECT 1 FROM hf_daily h WHERE h.paper_id = p.id AND h.project_page IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind = 'project'))
                 + 2 * (p.journal_ref IS NOT NULL OR COALESCE(p.comments, '') LIKE '%accepted%'
                        OR COALESCE(p.comments, '') LIKE '%to appear%' OR COALESCE(p.comments, '') LIKE '%published in%'
                        OR COALESCE(p.comments, '') LIKE '%camera-ready%' OR COALESCE(p.comments, '') LIKE '%camera ready%')
        FROM papers p WHERE p.id = listing_rank.paper_id)
    WHERE paper_id = NEW.paper_id AND EXISTS (SELECT 1 FROM papers WHERE id = NEW.paper_id);
END;

CREATE TRIGGER listing_rank_hf_upd AFTER UPDATE OF upvotes, github_stars, project_page ON hf_daily BEGIN
    UPDATE listing_rank SET (listed, hidden, newest, upvotes, has_code, evidence) = (
        SELECT p.listed, p.hidden, COALESCE(p.published, p.listed),
               COALESCE((SELECT c.upvotes FROM paper_counts c WHERE c.paper_id = p.id), 0)
                 + COALESCE((SELECT h.upvotes FROM hf_daily h WHERE h.paper_id = p.id), 0),
               EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab')),
               3 * EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                 + COALESCE((SELECT (h.github_stars >= 10) + (h.github_stars >= 100) + (h.github_stars >= 1000)
                             FROM hf_daily h WHERE h.paper_id = p.id AND h.github_stars IS NOT NULL), 0)
                 + 2 * (EXISTS (SELECT 1 FROM hf_daily h WHERE h.paper_id = p.id AND h.project_page IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind = 'project'))
                 + 2 * (p.journal_ref IS NOT NULL OR COALESCE(p.comments, '') LIKE '%accepted%'
                        OR COALESCE(p.comments, '') LIKE '%to appear%' OR COALESCE(p.comments, '') LIKE '%published in%'
                        OR COALESCE(p.comments, '') LIKE '%camera-ready%' OR COALESCE(p.comments, '') LIKE '%camera ready%')
        FROM papers p WHERE p.id = listing_rank.paper_id)
    WHERE paper_id = NEW.paper_id AND EXISTS (SELECT 1 FROM papers WHERE id = NEW.paper_id);
END;

CREATE TRIGGER listing_rank_hf_del AFTER DELETE ON hf_daily BEGIN
    UPDATE listing_rank SET (listed, hidden, newest, upvotes, has_code, evidence) = (
        SELECT p.listed, p.hidden, COALESCE(p.published, p.listed),
               COALESCE((SELECT c.upvotes FROM paper_counts c WHERE c.paper_id = p.id), 0)
                 + COALESCE((SELECT h.upvotes FROM hf_daily h WHERE h.paper_id = p.id), 0),
               EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab')),
               3 * EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                 + COALESCE((SELECT (h.github_stars >= 10) + (h.github_stars >= 100) + (h.github_stars >= 1000)
                             FROM hf_daily h WHERE h.paper_id = p.id AND h.github_stars IS NOT NULL), 0)
                 + 2 * (EXISTS (SELECT 1 FROM hf_daily h WHERE h.paper_id = p.id AND h.project_page IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind = 'project'))
                 + 2 * (p.journal_ref IS NOT NULL OR COALESCE(p.comments, '') LIKE '%accepted%'
                        OR COALESCE(p.comments, '') LIKE '%to appear%' OR COALESCE(p.comments, '') LIKE '%published in%'
                        OR COALESCE(p.comments, '') LIKE '%camera-ready%' OR COALESCE(p.comments, '') LIKE '%camera ready%')
        FROM papers p WHERE p.id = listing_rank.paper_id)
    WHERE paper_id = OLD.paper_id AND EXISTS (SELECT 1 FROM papers WHERE id = OLD.paper_id);
END;

CREATE TRIGGER listing_rank_counts_ins AFTER INSERT ON paper_counts BEGIN
    UPDATE listing_rank SET (listed, hidden, newest, upvotes, has_code, evidence) = (
        SELECT p.listed, p.hidden, COALESCE(p.published, p.listed),
               COALESCE((SELECT c.upvotes FROM paper_counts c WHERE c.paper_id = p.id), 0)
                 + COALESCE((SELECT h.upvotes FROM hf_daily h WHERE h.paper_id = p.id), 0),
               EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab')),
               3 * EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                 + COALESCE((SELECT (h.github_stars >= 10) + (h.github_stars >= 100) + (h.github_stars >= 1000)
                             FROM hf_daily h WHERE h.paper_id = p.id AND h.github_stars IS NOT NULL), 0)
                 + 2 * (EXISTS (SELECT 1 FROM hf_daily h WHERE h.paper_id = p.id AND h.project_page IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind = 'project'))
                 + 2 * (p.journal_ref IS NOT NULL OR COALESCE(p.comments, '') LIKE '%accepted%'
                        OR COALESCE(p.comments, '') LIKE '%to appear%' OR COALESCE(p.comments, '') LIKE '%published in%'
                        OR COALESCE(p.comments, '') LIKE '%camera-ready%' OR COALESCE(p.comments, '') LIKE '%camera ready%')
        FROM papers p WHERE p.id = listing_rank.paper_id)
    WHERE paper_id = NEW.paper_id AND EXISTS (SELECT 1 FROM papers WHERE id = NEW.paper_id);
END;

CREATE TRIGGER listing_rank_counts_upd AFTER UPDATE OF upvotes ON paper_counts BEGIN
    UPDATE listing_rank SET (listed, hidden, newest, upvotes, has_code, evidence) = (
        SELECT p.listed, p.hidden, COALESCE(p.published, p.listed),
               COALESCE((SELECT c.upvotes FROM paper_counts c WHERE c.paper_id = p.id), 0)
                 + COALESCE((SELECT h.upvotes FROM hf_daily h WHERE h.paper_id = p.id), 0),
               EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab')),
               3 * EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github', 'gitlab'))
                 + COALESCE((SELECT (h.github_stars >= 10) + (h.github_stars >= 100) + (h.github_stars >= 1000)
                             FROM hf_daily h WHERE h.paper_id = p.id AND h.github_stars IS NOT NULL), 0)
                 + 2 * (EXISTS (SELECT 1 FROM hf_daily h WHERE h.paper_id = p.id AND h.project_page IS NOT NULL)
                        OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind = 'project'))
                 + 2 * (p.journal_ref IS NOT NULL OR COALESCE(p.comments, '') LIKE '%accepted%'
                        OR COALESCE(p.comments, '') LIKE '%to appear%' OR COALESCE(p.comments, '') LIKE '%published in%'
                        OR COALESCE(p.comments, '') LIKE '%camera-ready%' OR COALESCE(p.comments, '') LIKE '%camera ready%')
        FROM papers p WHERE p.id = listing_rank.paper_id)
    WHERE paper_id = NEW.paper_id AND EXISTS (SELECT 1 FROM papers WHERE id = NEW.paper_id);
END;
