-- pw_authors_text (migration 0020) catches invalid JSON with an EXCEPTION block, which opens a
-- subtransaction, and PostgreSQL refuses those anywhere in a query running with parallel
-- workers (the leader included): a SELECT of pw_search_tsv(...) over enough papers for a
-- parallel plan failed with "cannot start subtransactions during a parallel operation".
-- Marked as PostgreSQL's documentation asks for such functions: a query that calls them gets
-- no parallel plan. Both are called only where papers are written (never by search).
ALTER FUNCTION pw_authors_text(text) PARALLEL UNSAFE;
ALTER FUNCTION pw_search_tsv(text, text, text) PARALLEL UNSAFE;
