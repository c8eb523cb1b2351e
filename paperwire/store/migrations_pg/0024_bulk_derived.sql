-- Bulk imports, second step. A new paper's search document (with its weighted tsvector, the
-- costliest part of storing it), its author and category rows are derived from the papers
-- row itself. A bulk import (paperwire.store.bulk) stores the papers rows with COPY in
-- transactions that set paperwire.bulk = 'on' (the insert triggers then leave the paper
-- alone), and writes the derived rows afterwards, set-based, one papers rowid range per
-- transaction: paperwire.store.bulk.catch_up(). While the row below exists, papers with
-- rowid >= from_rowid may lack their derived rows.
CREATE TABLE papers_derived_deferred (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    from_rowid BIGINT NOT NULL
);
