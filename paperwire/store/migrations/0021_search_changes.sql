-- Papers whose indexed text changed or that were removed, for indexes kept outside SQLite
-- (the optional tantivy lexical index, paperwire/search/tantivy.py). Drained by
-- `paperwire index`; at most one row per paper, so it stays small.
CREATE TABLE search_changes (
    docid INTEGER PRIMARY KEY
);

CREATE TRIGGER search_changes_au AFTER UPDATE OF title_display, abstract_display, authors ON papers
WHEN OLD.title_display IS NOT NEW.title_display OR OLD.abstract_display IS NOT NEW.abstract_display
     OR OLD.authors IS NOT NEW.authors
BEGIN
    INSERT OR IGNORE INTO search_changes(docid) SELECT docid FROM search_docs WHERE paper_id = NEW.id;
END;

CREATE TRIGGER search_changes_bd BEFORE DELETE ON papers BEGIN
    INSERT OR IGNORE INTO search_changes(docid) SELECT docid FROM search_docs WHERE paper_id = OLD.id;
END;
