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
from typing import Iterable, Sequence

# Indexes a first load is faster to build once, sorted, at the end of the catch-up than to keep
# in order row by row (the GIN index above all: a bulk build is many times faster than inserts).
REBUILT_INDEXES = ("paper_authors_name", "search_docs_title_key", "search_docs_tsv")


def copy_rows(conn, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY ``rows`` into ``table`` (the names are ours, never user input); returns how many."""
    cols = ", ".join(columns)
    n = 0
    cur = conn.raw.cursor()
    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
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
    return max(added, 0)


def index_sql(conn, name: str) -> str | None:
    row = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = ?", (name,)).fetchone()
    return row[0] if row else None
