-- Hugging Face's comment count of a daily paper (hf_daily.num_comments, migration 0060) is
-- observed on every harvest and import too, like its upvotes and stars (0070): the same
-- triggers, recording a third series. Counts already stored become first observations.
DROP TRIGGER IF EXISTS hf_daily_observe_insert;
DROP TRIGGER IF EXISTS hf_daily_observe_update;
CREATE TRIGGER hf_daily_observe_insert AFTER INSERT ON hf_daily BEGIN
    INSERT INTO signals(paper_id, kind, ref, value, observed_at)
        SELECT NEW.paper_id, 'hf_upvotes', '', NEW.upvotes, NEW.seen_at WHERE NEW.upvotes IS NOT NULL;
    INSERT INTO signals(paper_id, kind, ref, value, observed_at)
        SELECT NEW.paper_id, 'hf_comments', '', NEW.num_comments, NEW.seen_at WHERE NEW.num_comments IS NOT NULL;
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
        SELECT NEW.paper_id, 'hf_comments', '', NEW.num_comments, NEW.seen_at WHERE NEW.num_comments IS NOT NULL;
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

INSERT INTO signals(paper_id, kind, ref, value, observed_at)
    SELECT paper_id, 'hf_comments', '', num_comments, seen_at FROM hf_daily
    WHERE num_comments IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM signals s WHERE s.paper_id = hf_daily.paper_id AND s.kind = 'hf_comments');
