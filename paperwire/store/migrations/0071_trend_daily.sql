-- The site's own signals (upvotes, page views, comments) added up per paper and UTC day, kept
-- by triggers in the same transaction as the vote, view or comment. A trending window reads the
-- whole days inside it from here (a few rows per paper) and only its two partial edge days from
-- the raw rows, instead of grouping every vote of a month (see docs/ranking.md).
CREATE TABLE trend_daily (
    day      TEXT NOT NULL,               -- YYYY-MM-DD (UTC) of the vote, view or comment
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    upvotes  INTEGER NOT NULL DEFAULT 0,
    views    REAL NOT NULL DEFAULT 0,
    comments INTEGER NOT NULL DEFAULT 0,  -- visible ones
    PRIMARY KEY (day, paper_id)
) WITHOUT ROWID;
CREATE INDEX trend_daily_paper ON trend_daily(paper_id);

INSERT INTO trend_daily(day, paper_id, upvotes, views, comments)
    SELECT day, paper_id, sum(u), sum(v), sum(c) FROM (
        SELECT substr(created_at, 1, 10) AS day, paper_id, 1 AS u, 0 AS v, 0 AS c FROM upvotes
        UNION ALL
        SELECT substr(observed_at, 1, 10), paper_id, 0, value, 0 FROM signals WHERE kind = 'view'
        UNION ALL
        SELECT substr(created_at, 1, 10), paper_id, 0, 0, 1 FROM comments WHERE hidden = 0)
    GROUP BY day, paper_id;

CREATE TRIGGER trend_daily_upvote_ins AFTER INSERT ON upvotes BEGIN
    INSERT INTO trend_daily(day, paper_id, upvotes) VALUES (substr(NEW.created_at, 1, 10), NEW.paper_id, 1)
        ON CONFLICT(day, paper_id) DO UPDATE SET upvotes = upvotes + 1;
END;
CREATE TRIGGER trend_daily_upvote_del AFTER DELETE ON upvotes BEGIN
    UPDATE trend_daily SET upvotes = upvotes - 1 WHERE day = substr(OLD.created_at, 1, 10) AND paper_id = OLD.paper_id;
END;
CREATE TRIGGER trend_daily_upvote_upd AFTER UPDATE OF created_at, paper_id ON upvotes BEGIN
    UPDATE trend_daily SET upvotes = upvotes - 1 WHERE day = substr(OLD.created_at, 1, 10) AND paper_id = OLD.paper_id;
    INSERT INTO trend_daily(day, paper_id, upvotes) VALUES (substr(NEW.created_at, 1, 10), NEW.paper_id, 1)
        ON CONFLICT(day, paper_id) DO UPDATE SET upvotes = upvotes + 1;
END;
CREATE TRIGGER trend_daily_view AFTER INSERT ON signals WHEN NEW.kind = 'view' BEGIN
    INSERT INTO trend_daily(day, paper_id, views) VALUES (substr(NEW.observed_at, 1, 10), NEW.paper_id, NEW.value)
        ON CONFLICT(day, paper_id) DO UPDATE SET views = views + NEW.value;
END;
CREATE TRIGGER trend_daily_comment_ins AFTER INSERT ON comments WHEN NEW.hidden = 0 BEGIN
    INSERT INTO trend_daily(day, paper_id, comments) VALUES (substr(NEW.created_at, 1, 10), NEW.paper_id, 1)
        ON CONFLICT(day, paper_id) DO UPDATE SET comments = comments + 1;
END;
CREATE TRIGGER trend_daily_comment_del AFTER DELETE ON comments WHEN OLD.hidden = 0 BEGIN
    UPDATE trend_daily SET comments = comments - 1 WHERE day = substr(OLD.created_at, 1, 10) AND paper_id = OLD.paper_id;
END;
CREATE TRIGGER trend_daily_comment_hide AFTER UPDATE OF hidden ON comments WHEN OLD.hidden <> NEW.hidden BEGIN
    INSERT INTO trend_daily(day, paper_id, comments)
        VALUES (substr(NEW.created_at, 1, 10), NEW.paper_id, CASE WHEN NEW.hidden = 0 THEN 1 ELSE -1 END)
        ON CONFLICT(day, paper_id) DO UPDATE SET comments = comments + excluded.comments;
END;

-- A paper's trending day and visibility, read for every paper with a signal, from a small
-- index instead of the wide papers rows.
CREATE INDEX papers_trend_day ON papers(id, hidden, listed, published);
