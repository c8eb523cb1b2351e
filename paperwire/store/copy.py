"""Moving an install from its SQLite file to PostgreSQL: every table, COPY, counts checked.

``copy_store(sqlite_store, pg_store)`` copies every table the two schemas share (papers, users,
votes, subscriptions, outbox, signals, profiles and the rest; both are migrated to the same
version first), in foreign-key order, with COPY, in ONE transaction: a copy that fails or is
killed leaves the target as it was. Row ids (papers' rowid, search docids, user ids ...) are kept,
so stored vectors, tokens and links stay valid; identity sequences are moved past them.

While it copies, the target's own triggers are switched off (``DISABLE TRIGGER USER``; the
foreign-key checks stay on): the rows arrive with everything the triggers would derive from
them already in them (vote counts, featured days, credits), and the search documents' weighted
tsvectors are computed once at the end, set-based, with the indexes that cost most to keep in
order built after the rows. FTS5's tables are SQLite's own and stay behind; the change
sequence starts empty (every app host builds its index folders from the copied database).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from typing import Callable

from paperwire.store import bulk_pg

# Not copied: SQLite's FTS5 index, the change log of that engine (hosts start their folders
# afresh), and bookkeeping that the target has of its own.
SKIP = ("schema_migrations", "search_changes", "search_fts_deferred")
SKIP_PREFIX = ("sqlite_", "papers_fts")
# A target with rows in these is an install already: never copied over.
MUST_BE_EMPTY = ("papers", "users", "subscribers")


class CopyError(RuntimeError):
    pass


@dataclass
class CopyReport:
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> (source, target)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(a == b for a, b in self.counts.values())

    @property
    def rows(self) -> int:
        return sum(a for a, _ in self.counts.values())

    def mismatches(self) -> dict[str, tuple[int, int]]:
        return {t: c for t, c in self.counts.items() if c[0] != c[1]}


def _sqlite_tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """table -> columns (with ``rowid`` first where the table has one and the caller wants it)."""
    out = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall():
        if name in SKIP or name.startswith(SKIP_PREFIX):
            continue
        out[name] = [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")').fetchall()]
    return out


def _pg_columns(pg) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for t, c in pg.query("SELECT table_name, column_name FROM information_schema.columns "
                         "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"):
        out.setdefault(t, []).append(c)
    return out


def _fk_order(pg, tables: list[str]) -> list[str]:
    """``tables`` with every table after the tables its foreign keys point to."""
    deps: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in pg.query("SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
                                  "WHERE contype = 'f'"):
        if child in deps and parent in deps and child != parent:
            deps[child].add(parent)
    order: list[str] = []
    while deps:
        ready = sorted(t for t, d in deps.items() if not d - set(order))
        if not ready:  # a cycle: keep the rest in name order (the checks then say which row)
            ready = sorted(deps)
        for t in ready:
            order.append(t)
            del deps[t]
    return order


def _has_rowid(conn: sqlite3.Connection, table: str) -> bool:
    try:
        conn.execute(f'SELECT rowid FROM "{table}" LIMIT 1')
        return True
    except sqlite3.OperationalError:  # WITHOUT ROWID
        return False


def plan(src, pg) -> list[tuple[str, list[str], list[str]]]:
    """(table, source columns, target columns) for every table to copy, in foreign-key order."""
    sconn = src.conn
    stables = _sqlite_tables(sconn)
    pcols = _pg_columns(pg)
    missing = sorted(t for t in stables if t not in pcols)
    if missing:
        raise CopyError(f"tables missing in the PostgreSQL database: {', '.join(missing)}")
    out = []
    for table in _fk_order(pg, list(stables)):
        cols = stables[table]
        lacking = [c for c in cols if c not in pcols[table]]
        if lacking:
            raise CopyError(f"{table}: columns missing in the PostgreSQL database: {', '.join(lacking)}")
        src_cols, dst_cols = list(cols), list(cols)
        if "rowid" in pcols[table] and "rowid" not in cols and _has_rowid(sconn, table):
            src_cols, dst_cols = ["rowid", *cols], ["rowid", *cols]  # insertion order kept
        if table == "paper_vectors":  # numbered afresh by the copying transaction (see vector_seq)
            src_cols = dst_cols = [c for c in cols if c != "seq"]
        out.append((table, src_cols, dst_cols))
    return out


def _check_source(src) -> None:
    if src.query_one("SELECT 1 FROM papers_derived_deferred") or src.query_one("SELECT 1 FROM search_fts_deferred"):
        raise CopyError("the SQLite store has an unfinished bulk import: run `paperwire index` on it first")


def _check_target(pg) -> None:
    for table in MUST_BE_EMPTY:
        if pg.query_one(f"SELECT 1 FROM {table} LIMIT 1"):
            raise CopyError(f"the PostgreSQL database already holds {table}: copy into a new, empty database")


def copy_store(src, pg, progress: Callable[[str, int, int], None] | None = None, batch: int = 20000) -> CopyReport:
    """Copy every table of the SQLite store ``src`` into the PostgreSQL store ``pg`` (both
    migrated), then count each table on both sides. ``progress(table, done, total)``."""
    if getattr(src, "dialect", "sqlite") != "sqlite" or pg.dialect != "postgresql":
        raise CopyError("copy goes from a SQLite store to a PostgreSQL one")
    t0 = time.perf_counter()
    _check_source(src)
    _check_target(pg)
    steps = plan(src, pg)
    sconn = src.conn
    with pg.transaction() as conn:
        bulk_pg.fast_compression(conn)
        for table, _, _ in reversed(steps):  # rows the migrations put there (counters, seeds)
            conn.execute(f'DELETE FROM "{table}"')
        dropped = []
        for name in bulk_pg.COPY_REBUILT_INDEXES:
            sql = bulk_pg.index_sql(conn, name)
            if sql:
                dropped.append(sql)
                conn.execute(f'DROP INDEX "{name}"')
        for table, _, _ in steps:
            conn.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
        for table, src_cols, dst_cols in steps:
            total = sconn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            cols = ", ".join(f'"{c}"' if c != "rowid" else "rowid" for c in src_cols)
            cursor = sconn.execute(f'SELECT {cols} FROM "{table}"')
            # the search documents go through a staging table and are written once, each with
            # its weighted tsvector computed from the copied paper (the triggers are off); a
            # COPY and then an UPDATE wrote every row twice and left as many dead rows behind
            into = _stage_docs(conn) if table == "search_docs" else table
            done = 0
            while True:
                rows = cursor.fetchmany(batch)
                if not rows:
                    break
                done += bulk_pg.copy_rows(conn, into, dst_cols, (tuple(r) for r in rows))
                if progress:
                    progress(table, done, total)
            if into != table:
                names = ", ".join(f"s.{c}" for c in dst_cols)
                conn.execute(f"INSERT INTO search_docs ({', '.join(dst_cols)}, tsv) SELECT {names}, "
                             f"pw_search_tsv(p.title_display, p.abstract_display, p.authors::text) FROM {into} s "
                             f"LEFT JOIN papers p ON p.id = s.paper_id ORDER BY s.docid")
                conn.execute(f"DROP TABLE {into}")
        for table, _, _ in steps:
            conn.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
        for sql in dropped:
            conn.execute(sql)
        _move_sequences(conn, [t for t, _, _ in steps])
    conn.execute("ANALYZE")
    report = CopyReport()
    for table, _, _ in steps:
        report.counts[table] = (sconn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0],
                                pg.query_one(f'SELECT count(*) FROM "{table}"')[0])
    report.seconds = round(time.perf_counter() - t0, 2)
    return report


def _stage_docs(conn) -> str:
    """A temporary table shaped like search_docs, for the copied rows before their tsvector."""
    conn.execute("CREATE TEMP TABLE pw_copy_docs (LIKE search_docs INCLUDING DEFAULTS)")
    return "pw_copy_docs"


def _move_sequences(conn, tables: list[str]) -> None:
    """Identity and serial columns continue after the copied ids."""
    rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND (is_identity = 'YES' OR column_default LIKE 'nextval%')"
                        ).fetchall()
    for table, column in rows:
        if table not in tables:
            continue
        conn.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
                     f"GREATEST((SELECT max(\"{column}\") FROM \"{table}\"), 1), "
                     f"(SELECT max(\"{column}\") FROM \"{table}\") IS NOT NULL)")
