"""SQLite connection handling and versioned migrations.

One Store per database file. Each thread gets its own connection (SQLite
connections must not be shared across threads); writes go through
``store.transaction()`` which takes the write lock up front (BEGIN IMMEDIATE) so
two writers queue instead of failing half-way.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import urllib.parse
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every migration shipped with the package, in order."""
    folder = resources.files("paperwire.store") / "migrations"
    files = sorted(p for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(p.name[:-4], p.read_text(encoding="utf-8")) for p in files]


PAGE_SIZE = 16384  # for new files: a papers row (~3 KB of text) takes a 4 KB page nearly alone


class Store:
    def __init__(self, path: str | Path, migrate: bool = True, read_only: bool = False):
        """``read_only``: connections that only read and leave the file's settings alone (the
        parser process of an import, which must not switch a bulk import's store back to WAL)."""
        self.path = str(path)
        self.read_only = read_only
        if self.path != ":memory:" and not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        if migrate:
            self.migrate()

    # -- connections -------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            uri = "file:" + urllib.parse.quote(str(Path(self.path).resolve())) + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            return conn  # timeout=30 is its busy timeout; the file's settings are the writers'
        new_file = self.path != ":memory:" and not (Path(self.path).exists() and Path(self.path).stat().st_size)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        if new_file:
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # only before the file's first write
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
        except sqlite3.OperationalError:
            # a bulk import holds the store in rollback-journal mode (paperwire.store.bulk) and
            # is inside a transaction: this connection works in that mode, with the fsyncs
            # that mode needs (readers wait out each commit), and the import puts WAL back
            log.info("%s: not switched to WAL now (a bulk import is running)", self.path)
            conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA cache_size=-65536")
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use transaction() for writes)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing write. Nested use joins the outer transaction."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def data_version(self) -> int:
        """A number that changes when another connection (this process's other threads, or
        another process) commits; this thread's own commits leave it as it was. Caches compare it
        to learn that their copy is stale."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    # -- migrations --------------------------------------------------------------------
    def applied_migrations(self) -> list[str]:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        return [r[0] for r in self.conn.execute("SELECT name FROM schema_migrations ORDER BY name")]

    def migrate(self, upto: str | None = None) -> list[str]:
        """Apply the migrations not yet recorded, each in its own transaction."""
        done = set(self.applied_migrations())
        applied = []
        for name, sql in migration_files():
            if upto is not None and name > upto:
                break
            if name in done:
                continue
            with self.transaction() as conn:
                # re-check under the write lock: another process may have migrated meanwhile
                if conn.execute("SELECT 1 FROM schema_migrations WHERE name=?", (name,)).fetchone():
                    continue
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)", (name, utcnow()))
            log.info("applied migration %s", name)
            applied.append(name)
        return applied

    # -- checkpoints -------------------------------------------------------------------
    def get_checkpoint(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM checkpoints WHERE key=?", (key,))
        return row[0] if row else None

    def set_checkpoint(self, key: str, value: str | None, conn: sqlite3.Connection | None = None) -> None:
        c = conn or self.conn
        if value is None:
            c.execute("DELETE FROM checkpoints WHERE key=?", (key,))
        else:
            c.execute(
                "INSERT INTO checkpoints(key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                (key, value, utcnow()),
            )


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping CREATE TRIGGER ... END; blocks whole."""
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        if not buf and line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


def open_store(path_or_settings) -> Store:
    """open_store('x.db') or open_store(settings)."""
    path = getattr(path_or_settings, "db", path_or_settings)
    return Store(path)
