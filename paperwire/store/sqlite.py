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
from pathlib import Path
from typing import Iterator

from paperwire.store.base import BaseStore, is_postgres_url, read_migrations, utcnow

log = logging.getLogger(__name__)

__all__ = ["Store", "open_store", "utcnow", "migration_files"]


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every SQLite migration shipped with the package, in order."""
    return read_migrations("migrations")


PAGE_SIZE = 16384  # for new files: a papers row (~3 KB of text) takes a 4 KB page nearly alone


class Store(BaseStore):
    """``Store(path)`` opens a SQLite file; ``Store('postgresql://...')`` returns a PostgreSQL
    store (paperwire.store.postgres) with the same methods, so every caller that reopens a store
    by its ``.path`` gets the same engine back."""

    dialect = "sqlite"

    def __new__(cls, path, *args, **kwargs):
        if cls is Store and is_postgres_url(path):
            from paperwire.store.postgres import PostgresStore

            return PostgresStore(path, *args, **kwargs)
        return super().__new__(cls)

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

    # -- migrations --------------------------------------------------------------------
    def migration_files(self) -> list[tuple[str, str]]:
        return migration_files()  # this engine's folder (looked up when called)

    def _apply_migration(self, conn, name: str, sql: str) -> bool:
        """Run one migration inside migrate()'s transaction; False if another process did."""
        if conn.execute("SELECT 1 FROM schema_migrations WHERE name=?", (name,)).fetchone():
            return False
        for statement in _split_sql(sql):
            conn.execute(statement)
        return True


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


def open_store(path_or_settings, migrate: bool = True, read_only: bool = False):
    """open_store('x.db'), open_store('postgresql://...') or open_store(settings)."""
    path = getattr(path_or_settings, "db", path_or_settings)
    return Store(path, migrate=migrate, read_only=read_only)
