"""Bulk imports into PostgreSQL: COPY, and the set-based catch-up of what papers derive.

The same two-step plan as on SQLite (paperwire.store.bulk): the import's transactions store
the papers rows (with versions, links and sources) and leave the rest to a catch-up that
writes it set-based, one papers ``rowid`` range per transaction, moving the marker of
migration 0024 in the same transaction, so that a killed catch-up resumes where it stopped.

On this engine an import transaction sets ``paperwire.bulk = 'on'`` (SET LOCAL: it ends with
the transaction, and no other connection sees it); the papers insert trigger then leaves the
paper alone. No trigger is dropped: that takes a lock every reader would queue behind. The
catch-up writes the search document with its weighted tsvector in the same INSERT ... SELECT
(there is no separate full-text pass here) and one row per new document in the change
sequence (migration 0021), so every app host's index folders pick the papers up.
"""

from __future__ import annotations

import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Sequence

# Indexes a first load is faster to build once, sorted, at the end of the catch-up than to keep
# in order row by row. Not the GIN index of the weighted documents: the catch-up's two
# connections keep it in parallel, where one build at the end runs in one server process
# (100,000 papers: catch-up 62 s keeping it, 78 s dropping it and building it for 25 s).
REBUILT_INDEXES = ("paper_authors_name", "search_docs_title_key")
# `store copy` writes every row in one transaction on one connection: there, building the GIN
# index once after the rows is the faster way.
COPY_REBUILT_INDEXES = REBUILT_INDEXES + ("search_docs_tsv",)


def copy_rows(conn, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY ``rows`` into ``table`` (the names are ours, never user input); returns how many."""
    cols = ", ".join(columns)
    import psycopg  # only a PostgreSQL store calls this

    n = 0
    cur = conn.raw.cursor()
    try:
        with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
    except psycopg.errors.IntegrityError as exc:  # one error for callers of either engine, as execute()
        raise sqlite3.IntegrityError(str(exc).strip()) from exc
    return n


_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)\s*\(([^)]*)\)\s*VALUES\s*\(((?:\s*(?:\?|'[^']*')\s*,?)+)\)\s*"
                     r"(ON\s+CONFLICT\s*(?:\([^)]*\))?\s*DO\s+NOTHING)?\s*$", re.IGNORECASE)
_VALUE = re.compile(r"\?|'([^']*)'")


def executemany_copy(conn, sql: str, rows: Sequence[Sequence]) -> int:
    """``conn.executemany(sql, rows)`` for a plain ``INSERT INTO t(cols) VALUES (?, 'literal', ...)``
    (optionally ``ON CONFLICT ... DO NOTHING``), written with COPY: what a bulk import's store phase
    needs, several times faster than one INSERT per row. With ON CONFLICT the rows go through a
    temporary table of the same shape, then one INSERT ... SELECT skips the conflicts. Any other
    statement is run with executemany as it is. Returns the rows written."""
    rows = list(rows)
    m = _INSERT.match(sql)
    if m is None or not rows:
        return conn.executemany(sql, rows).rowcount if rows else 0
    table, cols = m.group(1), [c.strip() for c in m.group(2).split(",")]
    values = [v.group(1) for v in _VALUE.finditer(m.group(3))]  # None: a parameter, else a literal
    if len(values) != len(cols):
        return conn.executemany(sql, rows).rowcount
    if any(v is not None for v in values):
        def fill(row):
            it = iter(row)
            return tuple(next(it) if v is None else v for v in values)
        rows = [fill(r) for r in rows]
    if not m.group(4):
        return copy_rows(conn, table, cols, rows)
    stage = f"pw_copy_{table}"
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    conn.execute(f"TRUNCATE {stage}")
    copy_rows(conn, stage, cols, rows)
    names = ", ".join(cols)
    return conn.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {m.group(4)}").rowcount


def begin_bulk(conn) -> None:
    """Inside an import transaction: the per-row search triggers stand aside until it ends."""
    conn.execute("SET LOCAL paperwire.bulk = 'on'")
    fast_compression(conn)


def fast_compression(conn) -> None:
    """For the rest of this transaction, values too large for their row (a papers row holds the
    abstract twice, ~2.9 kB) are compressed with lz4 instead of pglz, where the server has it:
    storing a papers row took ~40% less time (20,000 rows, 1.8 s against 1.05 s). Values
    already stored keep their method; any server that has lz4 reads both."""
    conn.execute("SELECT set_config('default_toast_compression', 'lz4', true) FROM pg_settings "
                 "WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")


def defer(conn) -> None:
    """Mark papers stored from now on as waiting for their derived rows (inside the batch's
    transaction, which holds the store's write lock: rowids are taken in commit order)."""
    begin_bulk(conn)
    conn.execute("INSERT INTO papers_derived_deferred(id, from_rowid) "
                 "SELECT 1, COALESCE(max(rowid), 0) + 1 FROM papers "
                 "ON CONFLICT (id) DO UPDATE SET from_rowid = LEAST(papers_derived_deferred.from_rowid, "
                 "excluded.from_rowid)")


def write_derived(conn, lo: int, hi: int) -> int:
    """The search documents (weighted tsvector included), author and category rows of papers with
    lo <= rowid < hi, and a change-sequence row per new document; returns how many documents."""
    begin_bulk(conn)
    added = conn.execute(
        "WITH ins AS (INSERT INTO search_docs(paper_id, title_key, dirty, tsv) "
        "SELECT id, pw_title_key(title_display), 1, pw_search_tsv(title_display, abstract_display, authors::text) "
        "FROM papers WHERE rowid >= ? AND rowid < ? ORDER BY rowid ON CONFLICT (paper_id) DO NOTHING RETURNING docid) "
        "INSERT INTO search_changes(docid) SELECT docid FROM ins", (lo, hi)).rowcount
    conn.execute("INSERT INTO paper_authors(paper_id, position, name) "
                 "SELECT p.id, a.ord - 1, a.name FROM papers p, "
                 "jsonb_array_elements_text(p.authors::jsonb) WITH ORDINALITY AS a(name, ord) "
                 "WHERE p.rowid >= ? AND p.rowid < ? ON CONFLICT DO NOTHING", (lo, hi))
    # a category listed twice is kept once, at its first position (as SQLite's INSERT OR IGNORE)
    conn.execute("INSERT INTO paper_categories(paper_id, category, position) "
                 "SELECT DISTINCT ON (p.id, c.cat) p.id, c.cat, c.ord - 1 FROM papers p, "
                 "jsonb_array_elements_text(p.categories::jsonb) WITH ORDINALITY AS c(cat, ord) "
                 "WHERE p.rowid >= ? AND p.rowid < ? ORDER BY p.id, c.cat, c.ord ON CONFLICT DO NOTHING", (lo, hi))
    # the insert triggers left these papers' listing_rank rows to this pass (migration 0110)
    conn.execute("SELECT pw_listing_rank_range(?, ?)", (lo, hi))
    return max(added, 0)


WORKERS = 2  # ranges written at once: the weighted tsvector, most of the catch-up, is one server process each


def catch_up_derived(store, chunk: int, on_progress: Callable[[int], None] | None = None,
                     workers: int = WORKERS) -> int:
    """``write_derived`` over the deferred papers, ``workers`` ranges at once, each on its own
    connection (the tsvector is CPU work in the server process of the connection that asks for
    it: one connection uses one core). Returns how many documents were added.

    Each round: this thread's transaction takes the store's write lock (no other writer runs
    until it commits), writes the first range itself while each helper thread writes the next
    one in a transaction of its own, committed before this one moves the marker past all of
    them. A kill between a helper's commit and the marker's move leaves rows the next round
    writes again: every statement of ``write_derived`` skips or overwrites rows that exist, and
    only a document it inserts gets a change-sequence row, so nothing is written twice."""
    done = 0
    with ThreadPoolExecutor(max_workers=max(workers - 1, 1), thread_name_prefix="paperwire-catch-up") as pool:
        while True:
            with store.transaction() as conn:
                row = conn.execute("SELECT from_rowid FROM papers_derived_deferred WHERE id = 1").fetchone()
                if row is None:
                    return done
                lo = row[0]
                top = conn.execute("SELECT max(rowid) FROM papers").fetchone()[0] or 0
                starts = [x for x in range(lo, lo + workers * chunk, chunk) if x == lo or x <= top]
                helpers = [pool.submit(_write_range_alone, store, x, x + chunk) for x in starts[1:]]
                try:
                    done += write_derived(conn, lo, lo + chunk)
                finally:
                    done += sum(f.result() for f in helpers)  # every helper has ended before this commits
                hi = starts[-1] + chunk
                if hi <= top:
                    conn.execute("UPDATE papers_derived_deferred SET from_rowid = ? WHERE id = 1", (hi,))
                else:
                    conn.execute("DELETE FROM papers_derived_deferred WHERE id = 1")
            if on_progress:
                on_progress(done)


def _write_range_alone(store, lo: int, hi: int) -> int:
    """write_derived in a transaction of this thread's own connection (the caller holds the
    write lock for it)."""
    raw = store.conn.raw
    with raw.transaction():
        return write_derived(store.conn, lo, hi)


def index_sql(conn, name: str) -> str | None:
    row = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = ?", (name,)).fetchone()
    return row[0] if row else None
