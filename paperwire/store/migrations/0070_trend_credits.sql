-- Trending asks "how many upvotes / stars / comments did a paper gain in this window?" for
-- every paper with a signal, on every cold page. Answering it from the raw observations means
-- walking each repository's history per request; instead every observation of a count is turned,
-- when it is written, into a *credit*: the amount gained since the previous observation of the
-- same series and the time span it was gained over. A window's total is then one range scan
-- and a SUM (the rule, with examples, is in docs/ranking.md, "Signals as credits").
CREATE TABLE trend_credits (
    id       INTEGER PRIMARY KEY,
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,             -- the signals kind: hf_upvotes | hf_comments | github_stars
    ref      TEXT NOT NULL DEFAULT '',  -- 'owner/name' for github_stars
    t0       REAL NOT NULL,             -- julian day the gain started (= t1: gained at one moment)
    t1       REAL NOT NULL,             -- julian day the gain was complete
    amount   REAL NOT NULL              -- > 0; a window gets amount * (its overlap with t0..t1) / (t1 - t0)
);
-- covering: a window reads only this index (kind, then credits ending after its start)
CREATE INDEX trend_credits_window ON trend_credits(kind, t1, t0, paper_id, amount);
CREATE INDEX trend_credits_paper ON trend_credits(paper_id);

-- One credit per observation, written with it, so every writer (HF ingest, GitHub poller, a
-- bulk loader's plain INSERT) keeps the credits right. Observations of a series are appended in
-- time order. The first count seen of a series has no previous value: for a paper featured on
-- Hugging Face it is credited to its featured day (the daily list is that day's snapshot; stars
-- are spread from the paper's day to the day after it was featured); otherwise stars are spread
-- from the paper's day to the observation (code assumed released with the paper) and other
-- counts are credited when seen.
CREATE TRIGGER signals_credit AFTER INSERT ON signals
WHEN NEW.kind IN ('hf_upvotes', 'hf_comments', 'github_stars') BEGIN
    INSERT INTO trend_credits(paper_id, kind, ref, t0, t1, amount)
    SELECT NEW.paper_id, NEW.kind, NEW.ref,
           CASE WHEN x.pv IS NOT NULL THEN julianday(x.pt)
                WHEN NEW.kind = 'github_stars' THEN min(coalesce(x.pday, x.cut), x.cut)
                ELSE x.cut END,
           x.cut,
           CASE WHEN x.pv IS NOT NULL THEN NEW.value - x.pv ELSE NEW.value END
    FROM (SELECT p.pv, p.pt, d.pday,
                 CASE WHEN p.pv IS NOT NULL THEN julianday(NEW.observed_at)
                      WHEN h.fday IS NOT NULL AND h.fday <= julianday(NEW.observed_at) THEN
                           h.fday + (CASE WHEN NEW.kind = 'github_stars' THEN 1 ELSE 0 END)
                      ELSE julianday(NEW.observed_at) END AS cut
          FROM (SELECT 1) one
          LEFT JOIN (SELECT value AS pv, observed_at AS pt FROM signals
                     WHERE paper_id = NEW.paper_id AND kind = NEW.kind AND ref = NEW.ref AND id <> NEW.id
                       AND (observed_at < NEW.observed_at OR (observed_at = NEW.observed_at AND id < NEW.id))
                     ORDER BY observed_at DESC, id DESC LIMIT 1) p ON 1
          LEFT JOIN (SELECT julianday(featured_on) AS fday FROM hf_daily
                     WHERE paper_id = NEW.paper_id AND featured_on IS NOT NULL) h ON 1
          LEFT JOIN (SELECT julianday(coalesce(listed, substr(published, 1, 10))) AS pday FROM papers
                     WHERE id = NEW.paper_id) d ON 1) x
    WHERE CASE WHEN x.pv IS NOT NULL THEN NEW.value - x.pv ELSE NEW.value END > 0;
END;

-- The site's own signals are read by time range too.
CREATE INDEX IF NOT EXISTS upvotes_time ON upvotes(created_at, paper_id);
CREATE INDEX IF NOT EXISTS comments_time ON comments(created_at, paper_id, hidden);

-- Every write of a Hugging Face daily-list row (each harvest and import: the upsert always
-- updates seen_at) records what the list said as observations: its upvotes, and the stars of
-- its GitHub repository under the 'owner/name' the GitHub poller uses (ingest/hf.py and the
-- poller both feed the same series). An unchanged count is recorded too: it narrows when a
-- later gain happened.
CREATE TRIGGER hf_daily_observe_insert AFTER INSERT ON hf_daily BEGIN
    INSERT INTO signals(paper_id, kind, ref, value, observed_at)
        SELECT NEW.paper_id, 'hf_upvotes', '', NEW.upvotes, NEW.seen_at WHERE NEW.upvotes IS NOT NULL;
    INSERT INTO signals(paper_id, kind, ref, value, observed_at)
        SELECT NEW.paper_id, 'github_stars', r.repo, NEW.github_stars, NEW.seen_at
        FROM (SELECT CASE WHEN o <> '' AND n <> '' THEN lower(o || '/' || n) END AS repo FROM (
              SELECT substr(a, 1, instr(a, '/') - 1) AS o,
                     CASE WHEN lower(substr(nn, -4)) = '.git' THEN substr(nn, 1, length(nn) - 4) ELSE nn END AS n
              FROM (SELECT a, substr(b, 1, instr(b, '/') - 1) AS nn
                    FROM (SELECT a, replace(replace(substr(a, instr(a, '/') + 1), '?', '/'), '#', '/') || '/' AS b
                          FROM (SELECT substr(trim(NEW.github_repo), instr(lower(trim(NEW.github_repo)), 'github.com/') + 11) AS a
                                WHERE instr(lower(NEW.github_repo), 'github.com/') > 0))))) r
        WHERE NEW.github_stars IS NOT NULL AND r.repo IS NOT NULL;
END;
CREATE TRIGGER hf_daily_observe_update AFTER UPDATE ON hf_daily BEGIN
    INSERT INTO signals(paper_id, kind, ref, value, observed_at)
        SELECT NEW.paper_id, 'hf_upvotes', '', NEW.upvotes, NEW.seen_at WHERE NEW.upvotes IS NOT NULL;
    INSERT INTO signals(paper_id, kind, ref, value, observed_at)
        SELECT NEW.paper_id, 'github_stars', r.repo, NEW.github_stars, NEW.seen_at
        FROM (SELECT CASE WHEN o <> '' AND n <> '' THEN lower(o || '/' || n) END AS repo FROM (
              SELECT substr(a, 1, instr(a, '/') - 1) AS o,
                     CASE WHEN lower(substr(nn, -4)) = '.git' THEN substr(nn, 1, length(nn) - 4) ELSE nn END AS n
              FROM (SELECT a, substr(b, 1, instr(b, '/') - 1) AS nn
                    FROM (SELECT a, replace(replace(substr(a, instr(a, '/') + 1), '?', '/'), '#', '/') || '/' AS b
                          FROM (SELECT substr(trim(NEW.github_repo), instr(lower(trim(NEW.github_repo)), 'github.com/') + 11) AS a
                                WHERE instr(lower(NEW.github_repo), 'github.com/') > 0))))) r
        WHERE NEW.github_stars IS NOT NULL AND r.repo IS NOT NULL;
END;

-- Counts Hugging Face reported before this migration become observations (the update trigger
-- above), then every observation of a count is replayed through signals_credit, oldest first.
UPDATE hf_daily SET seen_at = seen_at;
DELETE FROM trend_credits;
CREATE TABLE trend_replay AS SELECT * FROM signals WHERE kind IN ('hf_upvotes', 'hf_comments', 'github_stars');
DELETE FROM signals WHERE kind IN ('hf_upvotes', 'hf_comments', 'github_stars');
INSERT INTO signals(id, paper_id, kind, ref, value, observed_at)
    SELECT id, paper_id, kind, ref, value, observed_at FROM trend_replay ORDER BY observed_at, id;
DROP TABLE trend_replay;
