-- Bulk imports (`paperwire ingest --bulk`): tokenising one paper at a time inside
-- the insert trigger costs more than the store write, one INSERT ... SELECT over many new papers
-- at the end costs far less. While the row below exists, search documents with
-- docid >= from_docid are NOT in papers_fts yet: the triggers leave them alone (an external
-- content FTS5 'delete' of a document that was never inserted corrupts the index) and
-- paperwire.store.bulk.catch_up_fts() indexes them from search_content, a docid range per
-- transaction, moving from_docid up in the same transaction and deleting the row when done.
-- Papers added by other writers meanwhile (a web submission) get the next docids and are
-- caught up too. Without the row the triggers behave exactly as in 0020.
CREATE TABLE search_fts_deferred (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    from_docid INTEGER NOT NULL
);

DROP TRIGGER search_papers_ai;
CREATE TRIGGER search_papers_ai AFTER INSERT ON papers BEGIN
    INSERT INTO search_docs(paper_id, title_key, dirty)
        VALUES (NEW.id, lower(rtrim(trim(NEW.title_display), '.')), 1)
        ON CONFLICT(paper_id) DO UPDATE SET title_key = excluded.title_key, dirty = 1;
    INSERT INTO papers_fts(rowid, title, abstract, authors)
        SELECT docid, NEW.title_display, NEW.abstract_display, NEW.authors FROM search_docs d
        WHERE d.paper_id = NEW.id AND NOT EXISTS (SELECT 1 FROM search_fts_deferred f WHERE d.docid >= f.from_docid);
END;

DROP TRIGGER search_papers_au;
CREATE TRIGGER search_papers_au AFTER UPDATE OF title_display, abstract_display, authors ON papers
WHEN OLD.title_display IS NOT NEW.title_display OR OLD.abstract_display IS NOT NEW.abstract_display
     OR OLD.authors IS NOT NEW.authors
BEGIN
    INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
        SELECT 'delete', docid, OLD.title_display, OLD.abstract_display, OLD.authors FROM search_docs d
        WHERE d.paper_id = OLD.id AND NOT EXISTS (SELECT 1 FROM search_fts_deferred f WHERE d.docid >= f.from_docid);
    UPDATE search_docs SET title_key = lower(rtrim(trim(NEW.title_display), '.')), dirty = 1 WHERE paper_id = NEW.id;
    INSERT INTO papers_fts(rowid, title, abstract, authors)
        SELECT docid, NEW.title_display, NEW.abstract_display, NEW.authors FROM search_docs d
        WHERE d.paper_id = NEW.id AND NOT EXISTS (SELECT 1 FROM search_fts_deferred f WHERE d.docid >= f.from_docid);
END;

DROP TRIGGER search_papers_ad;
CREATE TRIGGER search_papers_ad AFTER DELETE ON papers BEGIN
    INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
        SELECT 'delete', docid, OLD.title_display, OLD.abstract_display, OLD.authors FROM search_docs d
        WHERE d.paper_id = OLD.id AND NOT EXISTS (SELECT 1 FROM search_fts_deferred f WHERE d.docid >= f.from_docid);
    DELETE FROM paper_vectors WHERE docid IN (SELECT docid FROM search_docs WHERE paper_id = OLD.id);
    DELETE FROM search_docs WHERE paper_id = OLD.id;
END;
