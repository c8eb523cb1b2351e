-- The site's own signals added up per paper and UTC day (migrations/0071_trend_daily.sql).
CREATE TABLE trend_daily (
    day      TEXT NOT NULL,
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    upvotes  INTEGER NOT NULL DEFAULT 0,
    views    DOUBLE PRECISION NOT NULL DEFAULT 0,
    comments INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, paper_id)
);
CREATE INDEX trend_daily_paper ON trend_daily(paper_id);

INSERT INTO trend_daily(day, paper_id, upvotes, views, comments)
    SELECT day, paper_id, sum(u), sum(v), sum(c) FROM (
        SELECT substr(created_at, 1, 10) AS day, paper_id, 1 AS u, 0 AS v, 0 AS c FROM upvotes
        UNION ALL
        SELECT substr(observed_at, 1, 10), paper_id, 0, value, 0 FROM signals WHERE kind = 'view'
        UNION ALL
        SELECT substr(created_at, 1, 10), paper_id, 0, 0, 1 FROM comments WHERE hidden = 0) s
    GROUP BY day, paper_id;

-- add (day, paper) += (upvotes, views, comments)
CREATE FUNCTION pw_trend_daily_add(d TEXT, p TEXT, u INTEGER, v DOUBLE PRECISION, c INTEGER)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO trend_daily AS t (day, paper_id, upvotes, views, comments) VALUES (d, p, u, v, c)
        ON CONFLICT (day, paper_id) DO UPDATE
        SET upvotes = t.upvotes + excluded.upvotes, views = t.views + excluded.views,
            comments = t.comments + excluded.comments;
$$;

CREATE FUNCTION pw_trend_daily_upvotes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE trend_daily SET upvotes = upvotes - 1
            WHERE day = substr(OLD.created_at, 1, 10) AND paper_id = OLD.paper_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pw_trend_daily_add(substr(NEW.created_at, 1, 10), NEW.paper_id, 1, 0, 0);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER trend_daily_upvotes AFTER INSERT OR DELETE OR UPDATE OF created_at, paper_id ON upvotes
    FOR EACH ROW EXECUTE FUNCTION pw_trend_daily_upvotes();

CREATE FUNCTION pw_trend_daily_view() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind = 'view' THEN
        PERFORM pw_trend_daily_add(substr(NEW.observed_at, 1, 10), NEW.paper_id, 0, NEW.value, 0);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER trend_daily_view AFTER INSERT ON signals FOR EACH ROW EXECUTE FUNCTION pw_trend_daily_view();

CREATE FUNCTION pw_trend_daily_comments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.hidden = 0 THEN
        PERFORM pw_trend_daily_add(substr(NEW.created_at, 1, 10), NEW.paper_id, 0, 0, 1);
    ELSIF TG_OP = 'DELETE' AND OLD.hidden = 0 THEN
        UPDATE trend_daily SET comments = comments - 1
            WHERE day = substr(OLD.created_at, 1, 10) AND paper_id = OLD.paper_id;
    ELSIF TG_OP = 'UPDATE' AND OLD.hidden <> NEW.hidden THEN
        PERFORM pw_trend_daily_add(substr(NEW.created_at, 1, 10), NEW.paper_id, 0, 0,
                                   CASE WHEN NEW.hidden = 0 THEN 1 ELSE -1 END);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER trend_daily_comments AFTER INSERT OR DELETE OR UPDATE OF hidden ON comments
    FOR EACH ROW EXECUTE FUNCTION pw_trend_daily_comments();

CREATE INDEX papers_trend_day ON papers(id, hidden, listed, published);
