"""Bulk imports: what a new paper derives from its own row is written afterwards, set-based.

Storing a paper one row at a time through the triggers costs, besides the papers row: its
search document (migration 0020, three indexes), its author and category rows (a NOCASE name
index) and its FTS5 entry (tokenising, more than the store write itself). In a bulk import the
writer stores only the papers rows with their versions, links and sources; ``catch_up`` then
writes the rest in two resumable passes, each a range per transaction that moves its marker in
the same transaction (so a killed pass resumes where it stopped and never writes a row twice):

1. ``catch_up_derived`` (migration 0024): papers with ``rowid >= from_rowid`` get their search
   document and their author and category rows, from the row itself (json_each over the
   authors and categories lists), one INSERT ... SELECT each;
2. ``catch_up_fts`` (migration 0023): search documents with ``docid >= from_docid`` are added to
   ``papers_fts``, one INSERT ... SELECT per range.

While a marker exists the triggers leave those papers alone. Foreign keys are not checked
during a bulk import (see ``import_session``). On PostgreSQL the same plan runs with that
engine's means (``paperwire.store.bulk_pg``: COPY, a transaction-local setting instead of a
dropped trigger, the tsvector written with the search document, no second pass).
"""

from __future__ import annotations

import gc
import sqlite3
import time
from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator

from paperwire.store import bulk_pg
from paperwire.store.sqlite import Store


def _pg(conn_or_store) -> bool:
    return getattr(conn_or_store, "dialect", "sqlite") == "postgresql"


@contextmanager
def import_session(store: Store, bulk: bool) -> Iterator[None]:
    """Connection settings for the length of an import, restored after it.

    ``temp_store=MEMORY``: the search triggers make every papers INSERT write a second table, so
    SQLite keeps a statement journal for it; on disk that is a temp file opened and truncated
    for each row (a large part of what a new paper costs), in memory it is a few page copies.
    Nothing durable lives there. A bulk import also gets a larger page cache (its batches are
    larger) and no foreign-key checks: every child row it writes (versions, links, sources, and
    in the catch-up authors and categories) is for a paper written before it in the same
    transaction or read from the papers table, so the check (one lookup per child row) can
    never fail there. The setting belongs to this connection and is put back after the import.
    A bulk import also checkpoints the WAL every 20,000 pages instead of SQLite's 1,000 (fewer,
    larger checkpoints, each with its two fsyncs; durability is the same) and runs without
    Python's cyclic garbage collector, which otherwise rescans the batch's many live objects
    again and again; an import makes next to no reference cycles, and the collector is back on
    when it ends.

    (Checkpointing the WAL from a second thread while the writer goes on was tried and is wrong:
    SQLite restarts the WAL only when a checkpoint has caught up with the last commit when the
    next write begins, which a writer that never pauses does not allow: the WAL grew without
    bound over a large import. The committing connection checkpoints, as SQLite does by default.)
    """
    if _pg(store):  # nothing to set per connection there; the collector as below
        collecting = gc.isenabled()
        if bulk:
            gc.disable()
        try:
            yield
        finally:
            if collecting:
                gc.enable()
        return
    conn = store.conn
    wanted = {}
    rollback_journal = False
    if not conn.in_transaction:
        wanted = {"temp_store": 2}
        if bulk:
            wanted.update(cache_size=-131072, foreign_keys=0, wal_autocheckpoint=20000)
    collecting = gc.isenabled()
    if bulk:
        gc.disable()
    try:
        with _pragmas(conn, wanted):
            rollback_journal = bulk and not conn.in_transaction and _leave_wal(conn)
            yield
    finally:
        if collecting:
            gc.enable()
        if rollback_journal:
            _back_to_wal(conn)


@contextmanager
def _pragmas(conn: sqlite3.Connection, settings: dict[str, int]) -> Iterator[None]:
    """These connection settings for the block, the earlier values put back after it."""
    saved = {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in settings}
    for name, value in settings.items():
        conn.execute(f"PRAGMA {name}={int(value)}")
    try:
        yield
    finally:
        for name, value in saved.items():
            conn.execute(f"PRAGMA {name}={int(value)}")


def _schema_sql(conn: sqlite3.Connection, kind: str, name: str) -> str | None:
    """The CREATE statement of this trigger or index as sqlite_master keeps it (None: absent)."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = ? AND name = ?", (kind, name)).fetchone()
    return row[0] if row else None


def _leave_wal(conn: sqlite3.Connection) -> bool:
    """Switch the store to a rollback journal for a bulk import, if no other connection has it
    open (SQLite refuses the switch otherwise, at once, and the import stays in WAL).

    Why: in WAL mode every page is written twice (to the WAL, then copied into the database by
    a checkpoint, which reads it back first); a bulk import mostly appends new pages, which a
    rollback journal does not copy at all (it saves only the few existing pages a commit
    changes): about half the bytes written and none read back, which cuts the writer's kernel
    time (larger pages cut it further, and hold the papers rows with less waste). Durability is
    the same:
    synchronous=FULL (each commit fsyncs journal and database), and a killed import leaves a
    hot journal that the next connection rolls back. Another process that opens the store
    meanwhile either waits out each commit or, between two batches, switches it back to WAL
    (Store._connect), which is also safe: the import goes on in WAL."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        return False
    try:
        if conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] != "delete":
            return False
    except sqlite3.OperationalError:  # "database is locked": the store is in use
        return False
    conn.execute("PRAGMA synchronous=FULL")
    return True


def _back_to_wal(conn: sqlite3.Connection, tries: int = 600) -> None:
    """WAL again after a bulk import. Refused at once while another connection is inside a
    transaction, so retried for up to ~30 s; if it never succeeds, the next connection
    any process opens (Store._connect) switches it (this connection keeps synchronous=FULL,
    which a rollback journal needs, until then)."""
    for _ in range(tries):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            time.sleep(0.05)
            continue
        conn.execute("PRAGMA synchronous=NORMAL")
        return


def defer(conn: sqlite3.Connection) -> None:
    """From now on new papers get neither their derived rows nor their FTS5 entry at once (call
    inside the batch's transaction, so the deferral and the papers it covers commit together).
    ``from_rowid`` only ever moves down here: papers deleted since an earlier deferral must not
    leave a new paper's rowid below it (writing derived rows twice is harmless, the catch-up
    ignores rows that exist)."""
    if _pg(conn):
        bulk_pg.defer(conn)
        return
    conn.execute("INSERT INTO papers_derived_deferred(id, from_rowid) "
                 "SELECT 1, COALESCE(MAX(rowid), 0) + 1 FROM papers WHERE true "
                 "ON CONFLICT(id) DO UPDATE SET from_rowid = MIN(from_rowid, excluded.from_rowid)")
    defer_fts(conn)


@contextmanager
def deferred_batch(conn: sqlite3.Connection) -> Iterator[None]:
    """One batch of a bulk import, inside its transaction: ``defer``, and the papers insert
    trigger dropped for the batch and created again (from its own text in sqlite_master) before
    the commit. Every paper the batch inserts has ``rowid >= from_rowid``, so the trigger's
    WHEN clause would be false for each of them anyway; but a trigger makes SQLite keep a
    statement journal for every INSERT, a copy of each b-tree page the row touches (table and
    five indexes), a large part of what a papers row costs. Other connections never
    see the schema without it: the drop and the create commit together, and a batch that fails
    or is killed rolls both back."""
    defer(conn)
    if _pg(conn):  # defer() set paperwire.bulk for this transaction: the trigger stands aside
        yield
        return
    trigger = _schema_sql(conn, "trigger", "search_papers_ai")
    if trigger is not None:
        conn.execute("DROP TRIGGER search_papers_ai")
    yield
    if trigger is not None:
        conn.execute(trigger)


def defer_fts(conn: sqlite3.Connection) -> None:
    """From now on new papers are not tokenised by the insert trigger (call inside the batch's
    transaction, so the deferral and the papers it covers commit together). Keeps an earlier,
    lower ``from_docid`` of an unfinished bulk import."""
    if _pg(conn):  # the catch-up writes the tsvector with the search document: nothing to defer
        return
    conn.execute("INSERT OR IGNORE INTO search_fts_deferred(id, from_docid) "
                 "SELECT 1, COALESCE(MAX(docid), 0) + 1 FROM search_docs")


# Each deferral: (its marker table and column, the table whose integer key it walks, that key).
_DERIVED = ("papers_derived_deferred", "from_rowid", "papers", "rowid")
_FTS = ("search_fts_deferred", "from_docid", "search_docs", "docid")


def _pending(store: Store, deferral: tuple[str, str, str, str]) -> int:
    marker, column, keyed, key = deferral
    row = store.query_one(f"SELECT {column} FROM {marker} WHERE id = 1")
    if row is None:
        return 0
    return store.query_one(f"SELECT count(*) FROM {keyed} WHERE {key} >= ?", (row[0],))[0]


def derived_pending(store: Store) -> int:
    """How many papers still wait for their derived rows (0 when nothing is deferred)."""
    return _pending(store, _DERIVED)


def fts_pending(store: Store) -> int:
    """How many search documents are waiting to be indexed (0 when nothing is deferred)."""
    return _pending(store, _FTS)


def _by_ranges(store: Store, deferral: tuple[str, str, str, str], chunk: int,
               write_range: Callable[[sqlite3.Connection, int, int], int],
               on_progress: Callable[[int], None] | None) -> int:
    """``write_range(conn, lo, hi)`` over the deferred keys, a range per transaction together with
    the move of the marker; the marker row goes when no key is left. Returns the sum of what
    ``write_range`` counted."""
    marker, column, keyed, key = deferral
    done = 0
    while True:
        with store.transaction() as conn:
            row = conn.execute(f"SELECT {column} FROM {marker} WHERE id = 1").fetchone()
            if row is None:
                return done
            lo, hi = row[0], row[0] + chunk
            done += write_range(conn, lo, hi)
            if conn.execute(f"SELECT 1 FROM {keyed} WHERE {key} >= ? LIMIT 1", (hi,)).fetchone():
                conn.execute(f"UPDATE {marker} SET {column} = ? WHERE id = 1", (hi,))
            else:
                conn.execute(f"DELETE FROM {marker} WHERE id = 1")
        if on_progress:
            on_progress(done)


def catch_up(store: Store, on_progress: Callable[[str, int], None] | None = None) -> int:
    """Finish whatever bulk imports deferred: derived rows, then the full-text index. Returns how
    many documents were added to the full-text index. ``on_progress(stage, done)``."""
    if _pg(store):  # one pass there: the search document carries its tsvector
        return catch_up_derived(store, on_progress=on_progress and (lambda n: on_progress("search and author rows", n)))
    catch_up_derived(store, on_progress=on_progress and (lambda n: on_progress("search and author rows", n)))
    return catch_up_fts(store, on_progress=on_progress and (lambda n: on_progress("full-text index", n)))


# Indexes that take the derived rows in random key order (author names, title keys): once they
# outgrow the page cache, each row dirties another page, rewritten at every range's commit. A
# catch-up of at least half of the store (a first load) drops them and builds them again at
# its end, sorted in one pass: much faster than keeping them in order row by row. Their text
# waits in `checkpoints` meanwhile, so an interrupted catch-up builds them when it is resumed.
REBUILT_INDEXES = ("paper_authors_name", "search_docs_title_key")
REBUILD_MIN = 100_000  # pending papers below which a catch-up keeps the indexes
_DROPPED = "bulk:dropped-index:"


def _index_sql(conn, name: str) -> str | None:
    return bulk_pg.index_sql(conn, name) if _pg(conn) else _schema_sql(conn, "index", name)


def _drop_rebuilt_indexes(store: Store, pending: int) -> None:
    if not pending or pending < REBUILD_MIN or 2 * pending < store.query_one("SELECT count(*) FROM papers")[0]:
        return
    with store.transaction() as conn:
        for name in (bulk_pg.REBUILT_INDEXES if _pg(conn) else REBUILT_INDEXES):
            sql = _index_sql(conn, name)
            if sql is not None:
                store.set_checkpoint(_DROPPED + name, sql, conn=conn)
                conn.execute(f'DROP INDEX "{name}"')


def _build_dropped_indexes(store: Store) -> bool:
    """Build what _drop_rebuilt_indexes dropped; whether there was any."""
    dropped = store.query("SELECT key, value FROM checkpoints WHERE key LIKE ?", (_DROPPED + "%",))
    if not dropped:
        return False
    # SQLite sorts in memory up to cache_size bytes before it spills to temporary files: with
    # the bulk import's 128 MB cache (and its temp_store=MEMORY) the build of the author-name
    # index about doubled the process's peak memory on a large store. 32 MB and files keep it low.
    with (nullcontext() if _pg(store) else _pragmas(store.conn, {"cache_size": -32768, "temp_store": 1})):
        for key, sql in dropped:
            with store.transaction() as conn:
                if _index_sql(conn, key[len(_DROPPED):]) is None:
                    conn.execute(sql)
                store.set_checkpoint(key, None, conn=conn)
    return True


def catch_up_derived(store: Store, chunk: int = 50000, on_progress: Callable[[int], None] | None = None) -> int:
    """Write the search documents, author and category rows of every deferred paper; returns how
    many papers. The new search documents join the FTS5 deferral (catch_up_fts indexes them).
    The rows exactly as the insert trigger and ``_insert_children`` write them: positions from
    the lists' order, a category listed twice kept once (its first position). A large
    catch-up builds REBUILT_INDEXES afresh at its end (looking a name up by them meanwhile
    scans the table)."""
    def write_range(conn: sqlite3.Connection, lo: int, hi: int) -> int:
        defer_fts(conn)
        added = conn.execute(
            "INSERT INTO search_docs(paper_id, title_key, dirty) "
            "SELECT id, lower(rtrim(trim(title_display), '.')), 1 FROM papers WHERE rowid >= ? AND rowid < ? "
            "ORDER BY rowid ON CONFLICT(paper_id) DO NOTHING", (lo, hi)).rowcount
        conn.execute("INSERT OR IGNORE INTO paper_authors(paper_id, position, name) "
                     "SELECT p.id, a.key, a.value FROM papers p, json_each(p.authors) a "
                     "WHERE p.rowid >= ? AND p.rowid < ?", (lo, hi))
        conn.execute("INSERT OR IGNORE INTO paper_categories(paper_id, category, position) "
                     "SELECT p.id, c.value, c.key FROM papers p, json_each(p.categories) c "
                     "WHERE p.rowid >= ? AND p.rowid < ?", (lo, hi))
        return added

    _drop_rebuilt_indexes(store, derived_pending(store))
    if _pg(store):
        done = bulk_pg.catch_up_derived(store, chunk, on_progress)
    else:
        done = _by_ranges(store, _DERIVED, chunk, write_range, on_progress)
    if _build_dropped_indexes(store) and on_progress:  # also those of an earlier, interrupted catch-up
        on_progress(done)  # this pass ends when they are built
    return done


HASHSIZE = 64 * 2**20
DEFAULT_HASHSIZE = 2**20  # FTS5's own default (FTS5_DEFAULT_HASHSIZE)


def catch_up_fts(store: Store, chunk: int = 50000, on_progress: Callable[[int], None] | None = None) -> int:
    """Index every deferred document; returns how many. Each docid range is one transaction
    together with the move of ``from_docid``; the row goes when no document is left, after
    which the triggers index new papers at once again."""
    def write_range(conn: sqlite3.Connection, lo: int, hi: int) -> int:
        # FTS5 flushes its in-memory terms to a new segment every `hashsize` bytes (1 MB by
        # default); one larger flush per range writes fewer, larger segments and merges less.
        # Set and put back inside this transaction: no other writer
        # ever sees the setting.
        saved = conn.execute("SELECT v FROM papers_fts_config WHERE k = 'hashsize'").fetchone()
        conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('hashsize', ?)", (HASHSIZE,))
        added = conn.execute(
            "INSERT INTO papers_fts(rowid, title, abstract, authors) "
            "SELECT docid, title, abstract, authors FROM search_content WHERE docid >= ? AND docid < ? ORDER BY docid",
            (lo, hi)).rowcount
        conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('hashsize', ?)",
                     (saved[0] if saved else DEFAULT_HASHSIZE,))
        if saved is None:  # as it was: no row, FTS5's default
            conn.execute("DELETE FROM papers_fts_config WHERE k = 'hashsize'")
        return added

    return _by_ranges(store, _FTS, chunk, write_range, on_progress)
