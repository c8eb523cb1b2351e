-- Hugging Face's comment count is observed on every harvest and import too, a third series
-- beside upvotes and stars (migrations/0073_hf_comments_observed.sql).
CREATE OR REPLACE FUNCTION pw_hf_daily_observe() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE repo TEXT := pw_github_repo(NEW.github_repo);
BEGIN
    IF NEW.upvotes IS NOT NULL THEN
        INSERT INTO signals(paper_id, kind, ref, value, observed_at)
            VALUES (NEW.paper_id, 'hf_upvotes', '', NEW.upvotes, NEW.seen_at);
    END IF;
    IF NEW.num_comments IS NOT NULL THEN
        INSERT INTO signals(paper_id, kind, ref, value, observed_at)
            VALUES (NEW.paper_id, 'hf_comments', '', NEW.num_comments, NEW.seen_at);
    END IF;
    IF NEW.github_stars IS NOT NULL AND repo IS NOT NULL THEN
        INSERT INTO signals(paper_id, kind, ref, value, observed_at)
            VALUES (NEW.paper_id, 'github_stars', repo, NEW.github_stars, NEW.seen_at);
    END IF;
    RETURN NULL;
END $$;

INSERT INTO signals(paper_id, kind, ref, value, observed_at)
    SELECT paper_id, 'hf_comments', '', num_comments, seen_at FROM hf_daily
    WHERE num_comments IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM signals s WHERE s.paper_id = hf_daily.paper_id AND s.kind = 'hf_comments');
