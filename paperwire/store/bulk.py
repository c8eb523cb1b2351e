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
from contextlib import contextmanager
from typing import Callable, Iterator

from paperwire.store.sqlite import Store


@contextmanager
def import_session(store: Store, bulk: bool) -> Iterator[None]:
    """Connection settings for the length of an import, restored after it.

    ``temp_store=MEMORY``: the search triggers make every papers INSERT write a second table, so
    SQLite keeps a statement journal for it; on disk that is a temp file opened and truncated
    for each row (~20 us of ~60 us a new paper costs), in memory it is a few page copies. Nothing
    durable lives there. A bulk import also gets a larger page cache (its batches are larger).

    (Checkpointing the WAL from a second thread while the writer goes on was tried and is wrong:
    SQLite restarts the WAL only when a checkpoint has caught up with the last commit when the
    next write begins, which a writer that never pauses does not allow: the WAL grew to 23 GB
    over a 1M-record import. The committing connection checkpoints, as SQLite does by default.)
    """
    conn = store.conn
    saved = []
    if not conn.in_transaction:
        wanted = [("temp_store", "2")] + ([("cache_size", "-131072")] if bulk else [])
        for name, value in wanted:
            saved.append((name, conn.execute(f"PRAGMA {name}").fetchone()[0]))
            conn.execute(f"PRAGMA {name}={value}")
    try:
        yield
    finally:
        for name, value in saved:
            conn.execute(f"PRAGMA {name}={value}")


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


HASHSIZE = 64 * 2**20
DEFAULT_HASHSIZE = 2**20  # FTS5's own default (FTS5_DEFAULT_HASHSIZE)


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
            # FTS5 flushes its in-memory terms to a new segment every `hashsize` bytes (1 MB by
            # default); one larger flush per range writes fewer, larger segments and merges less
            # (~15% of the catch-up). Set and put back inside this transaction: no other writer
            # ever sees the setting.
            saved = conn.execute("SELECT v FROM papers_fts_config WHERE k = 'hashsize'").fetchone()
            conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('hashsize', ?)", (HASHSIZE,))
            done += conn.execute(
                "INSERT INTO papers_fts(rowid, title, abstract, authors) "
                "SELECT docid, title, abstract, authors FROM search_content WHERE docid >= ? AND docid < ? ORDER BY docid",
                (lo, hi)).rowcount
            conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('hashsize', ?)",
                         (saved[0] if saved else DEFAULT_HASHSIZE,))
            if saved is None:  # as it was: no row, FTS5's default
                conn.execute("DELETE FROM papers_fts_config WHERE k = 'hashsize'")
            if conn.execute("SELECT 1 FROM search_docs WHERE docid >= ? LIMIT 1", (hi,)).fetchone():
                conn.execute("UPDATE search_fts_deferred SET from_docid = ? WHERE id = 1", (hi,))
            else:
                conn.execute("DELETE FROM search_fts_deferred WHERE id = 1")
        if on_progress:
            on_progress(done)
