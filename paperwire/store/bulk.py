"""Bulk imports: the FTS5 insert of new papers deferred to one pass at the end (migration 0023).

Indexing a paper inside the insert trigger, one row at a time, costs ~2.5x what storing it
does; one ``INSERT INTO papers_fts ... SELECT`` over a range of new documents costs about a
third of that. While ``search_fts_deferred`` holds its row, documents with
``docid >= from_docid`` are not in ``papers_fts`` and the triggers leave them alone;
``catch_up_fts`` indexes them a docid range per transaction, moving ``from_docid`` in the same
transaction, so a killed catch-up resumes where it stopped and never indexes a document twice.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

from paperwire.store.sqlite import Store


def defer_fts(conn: sqlite3.Connection) -> None:
    """From now on new papers are not tokenised by the insert trigger (call inside the batch's
    transaction, so the deferral and the papers it covers commit together). Keeps an earlier,
    lower ``from_docid`` of an unfinished bulk import."""
    conn.execute("INSERT OR IGNORE INTO search_fts_deferred(id, from_docid) "
                 "SELECT 1, COALESCE(MAX(docid), 0) + 1 FROM search_docs")


def fts_pending(store: Store) -> int:
    """How many search documents are waiting to be indexed (0 when nothing is deferred)."""
    row = store.query_one("SELECT from_docid FROM search_fts_deferred WHERE id = 1")
    if row is None:
        return 0
    return store.query_one("SELECT count(*) FROM search_docs WHERE docid >= ?", (row[0],))[0]


def catch_up_fts(store: Store, chunk: int = 50000, on_progress: Callable[[int], None] | None = None) -> int:
    """Index every deferred document; returns how many. Each docid range is one transaction
    together with the move of ``from_docid``; the row goes when no document is left, after
    which the triggers index new papers at once again."""
    done = 0
    while True:
        with store.transaction() as conn:
            row = conn.execute("SELECT from_docid FROM search_fts_deferred WHERE id = 1").fetchone()
            if row is None:
                return done
            lo = row[0]
            hi = lo + chunk
            done += conn.execute(
                "INSERT INTO papers_fts(rowid, title, abstract, authors) "
                "SELECT docid, title, abstract, authors FROM search_content WHERE docid >= ? AND docid < ? ORDER BY docid",
                (lo, hi)).rowcount
            if conn.execute("SELECT 1 FROM search_docs WHERE docid >= ? LIMIT 1", (hi,)).fetchone():
                conn.execute("UPDATE search_fts_deferred SET from_docid = ? WHERE id = 1", (hi,))
            else:
                conn.execute("DELETE FROM search_fts_deferred WHERE id = 1")
        if on_progress:
            on_progress(done)
