-- Bulk imports (`paperwire ingest --bulk`). On SQLite this table marks search documents not
-- yet in FTS5. On PostgreSQL the weighted document lives in search_docs itself and is written
-- with it (migration 0024's catch-up), so nothing is ever deferred here; the table exists so
-- that both engines have the same tables (rebuild_lexical clears it on both).
CREATE TABLE search_fts_deferred (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    from_docid BIGINT NOT NULL
);
