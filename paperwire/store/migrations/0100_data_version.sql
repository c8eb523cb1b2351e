-- One number every app process and host reads to learn that the pages it cached are stale:
-- the web page cache (paperwire.web.render) compares it once per request. It moves when
-- something a visitor expects to see at once changes -- a vote, a comment, a submission to a
-- day's list, a moderator hiding a paper or comment -- whoever made the change (a site route
-- on any host, the CLI, the API). New papers are seen by the page cache through the highest
-- search_docs.docid instead (paperwire.store.shared_state.data_version), so a bulk import pays
-- no trigger per paper; edits of stored papers and signals (views, Hugging Face and GitHub
-- counts) show within settings.page_cache_seconds. Writes that never change a page
-- (rate-limit counters, job leases) leave it alone, unlike SQLite's own PRAGMA data_version.
CREATE TABLE data_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO data_version(id, n) VALUES (1, 0);

CREATE TRIGGER data_version_upvotes_ins AFTER INSERT ON upvotes BEGIN
    UPDATE data_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER data_version_upvotes_del AFTER DELETE ON upvotes BEGIN
    UPDATE data_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER data_version_comments_ins AFTER INSERT ON comments BEGIN
    UPDATE data_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER data_version_comments_upd AFTER UPDATE ON comments BEGIN
    UPDATE data_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER data_version_comments_del AFTER DELETE ON comments BEGIN
    UPDATE data_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER data_version_submissions_ins AFTER INSERT ON submissions BEGIN
    UPDATE data_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER data_version_submissions_upd AFTER UPDATE ON submissions BEGIN
    UPDATE data_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER data_version_submissions_del AFTER DELETE ON submissions BEGIN
    UPDATE data_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER data_version_papers_hidden AFTER UPDATE OF hidden ON papers
WHEN NEW.hidden IS NOT OLD.hidden BEGIN
    UPDATE data_version SET n = n + 1 WHERE id = 1;
END;
