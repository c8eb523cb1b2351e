"""PostgreSQL store: the same methods as the SQLite Store (paperwire.store.sqlite), over psycopg 3
with a connection pool.

Each thread leases its own connection from the pool on first use and keeps it (as a SQLite
Store keeps one connection per thread); the lease goes back to the pool when the thread ends or
the store is closed. Connections run in autocommit, like the SQLite ones (isolation_level=None):
a single statement is its own transaction and ``transaction()`` opens an explicit one.

``transaction()`` takes one advisory lock per database, held to COMMIT: writers queue one after
another as they do on SQLite (BEGIN IMMEDIATE), across processes and hosts. The store modules'
read-then-write code (a rate limit counted, then the row added) stays correct under READ
COMMITTED without each one re-proving it. Reads never wait for it.

The connection wrapper speaks the sqlite3 dialect of the store modules: ``?`` and ``:name``
placeholders (turned into psycopg's ``%s`` / ``%(name)s`` outside quotes, comments and dollar
quotes; ``::`` casts kept), rows read by index or by column name, ``fetchone()`` giving None
after a statement without rows, a unique or foreign-key violation raised as
``sqlite3.IntegrityError`` (one error for callers of either engine), booleans stored as 0/1 and
``numeric`` results (sum, avg) read as int or float, never Decimal.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import weakref
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

import psycopg
from psycopg.adapt import Loader
from psycopg.pq import TransactionStatus
from psycopg.types.numeric import Int8Dumper
from psycopg_pool import ConnectionPool

from paperwire.store.base import BaseStore, read_migrations, utcnow

log = logging.getLogger(__name__)

POOL_MAX = 64  # per store (process): the web's thread pool holds at most 40 threads at once
POOL_TIMEOUT = 30.0  # seconds a thread waits for a free connection before failing
# pg_advisory_xact_lock keys (scoped to the database): writers one at a time; migrations too,
# since a migration runs inside transaction()
WRITE_LOCK = 0x7077_7269_7465  # "pwrite"


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every PostgreSQL migration shipped with the package, in order."""
    return read_migrations("migrations_pg")


# -- SQL text ----------------------------------------------------------------------------------
_TOKENS = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\$(?P<tag>[A-Za-z_]\w*)?\$.*?\$(?P=tag)?\$"""
    r"""|::|\?|:(?P<name>[A-Za-z_]\w*)|%""", re.DOTALL)


def _token(m: re.Match) -> str:
    text = m.group(0)
    if text == "?":
        return "%s"
    if text == "%":
        return "%%"
    if text == "::":
        return text
    if m.group("name"):
        return f"%({m.group('name')})s"
    return text.replace("%", "%%")  # a quoted string, an identifier or a comment: kept as it is


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """The store modules' SQL (sqlite3 placeholders) as psycopg takes it."""
    return _TOKENS.sub(_token, sql)


# -- rows and values ---------------------------------------------------------------------------
class Row(tuple):
    """A result row read by position or by column name (as sqlite3.Row)."""

    __slots__ = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key):
        if type(key) is str:
            try:
                key = self._index[key]
            except KeyError:
                try:
                    key = self._index[key.lower()]
                except KeyError:
                    raise IndexError(f"No item with that key: {key!r}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type:
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)
        index.setdefault(name.lower(), i)
    return type("Row", (Row,), {"__slots__": (), "_index": index, "_names": names})


def _row_factory(cursor):
    desc = cursor.description
    if desc is None:
        return tuple
    return _row_class(tuple(d.name for d in desc))


class _NumberLoader(Loader):
    """numeric as int when whole, else float: what SQLite gives for sum() and avg()."""

    def load(self, data):
        text = bytes(data)
        if b"." in text or b"e" in text or b"N" in text or b"I" in text:
            return float(text)
        return int(text)


class _BoolDumper(Int8Dumper):
    """True/False as 1/0: the schema keeps SQLite's INTEGER flags (hidden, is_admin ...)."""

    def dump(self, obj):
        return b"1" if obj else b"0"


class _Cursor(psycopg.ClientCursor):
    """Values are bound on the client (as literals), so a bare ``?`` in ``? IS NULL`` or
    ``SELECT ?`` needs no type, as with SQLite; fetching after a statement without rows gives
    None / [] as sqlite3 does."""

    def fetchone(self):
        return super().fetchone() if self.pgresult is not None and self.description is not None else None

    def fetchall(self):
        return super().fetchall() if self.pgresult is not None and self.description is not None else []

    def __iter__(self):
        if self.pgresult is None or self.description is None:
            return iter(())
        return super().__iter__()


def _configure(raw: psycopg.Connection) -> None:
    raw.adapters.register_loader("numeric", _NumberLoader)
    raw.adapters.register_dumper(bool, _BoolDumper)
    raw.cursor_factory = _Cursor
    raw.row_factory = _row_factory


# -- connections -------------------------------------------------------------------------------
class Connection:
    """One leased psycopg connection with sqlite3's execute / executemany surface."""

    __slots__ = ("raw",)
    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection):
        self.raw = raw

    def execute(self, sql: str, params: tuple | list | dict = ()) -> _Cursor:
        cur = self.raw.cursor()
        try:
            if params:
                cur.execute(translate(sql), params)
            else:
                cur.execute(sql)  # no parameters: psycopg reads no placeholders, '%' stays '%'
        except psycopg.errors.IntegrityError as exc:
            raise sqlite3.IntegrityError(str(exc).strip()) from exc
        return cur

    def executemany(self, sql: str, seq) -> _Cursor:
        cur = self.raw.cursor()
        try:
            cur.executemany(translate(sql), seq)
        except psycopg.errors.IntegrityError as exc:
            raise sqlite3.IntegrityError(str(exc).strip()) from exc
        return cur

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    @property
    def closed(self) -> bool:
        return self.raw.closed

    def close(self) -> None:
        self.raw.close()


class _Lease:
    """A thread's hold on one pooled connection; handed back when the thread's locals go."""

    def __init__(self, store: "PostgresStore", pool: ConnectionPool, raw: psycopg.Connection):
        self.store, self.pool, self.conn = store, pool, Connection(raw)

    def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction and not conn.closed:
                conn.raw.rollback()
            self.pool.putconn(conn.raw)
        except Exception:  # the pool is closed or the connection broken: nothing to hand back
            conn.raw.close()

    __del__ = release


class PostgresStore(BaseStore):
    dialect = "postgresql"

    def __init__(self, url: str, migrate: bool = True, read_only: bool = False, pool_max: int = POOL_MAX):
        """``url``: a libpq URL (postgresql://user@host/db or postgresql:///db?host=/socket/dir).
        ``read_only``: every transaction is READ ONLY (the parser process of an import)."""
        self.path = self.url = url  # .path: callers reopen a store with Store(store.path)
        self.read_only = read_only
        self.pool_max = pool_max
        self._local = threading.local()
        self._lock = threading.Lock()
        # weak: a thread's lease goes (and hands its connection back) when the thread ends
        self._leases: weakref.WeakSet[_Lease] = weakref.WeakSet()
        self._pool: ConnectionPool | None = None
        if migrate:
            self.migrate()

    def _setup(self, raw: psycopg.Connection) -> None:
        _configure(raw)
        if self.read_only:
            raw.execute("SET default_transaction_read_only = on")

    def _get_pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(self.url, min_size=1, max_size=self.pool_max, timeout=POOL_TIMEOUT,
                                            kwargs={"autocommit": True}, configure=self._setup, open=True,
                                            name="paperwire")
            return self._pool

    @property
    def conn(self) -> Connection:
        """This thread's connection (autocommit; use transaction() for writes)."""
        lease = getattr(self._local, "lease", None)
        if lease is None or lease.conn is None or lease.conn.closed:
            pool = self._get_pool()
            lease = _Lease(self, pool, pool.getconn())
            with self._lock:
                self._leases.add(lease)
            self._local.lease = lease
        return lease.conn

    def close(self) -> None:
        """Close every connection of this store (every thread's) and the pool; a later use
        opens a new pool."""
        with self._lock:
            leases, self._leases = list(self._leases), weakref.WeakSet()
            pool, self._pool = self._pool, None
        for lease in leases:
            lease.release()
        self._local = threading.local()
        if pool is not None:
            pool.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """All-or-nothing write, one writer at a time per database. Nested use joins the outer
        transaction."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        raw = conn.raw
        raw.execute("BEGIN")
        try:
            if not self.read_only:
                raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield conn
        except BaseException:
            if not raw.closed and conn.in_transaction:
                raw.execute("ROLLBACK")
            raise
        else:
            try:
                raw.execute("COMMIT")
            except psycopg.errors.IntegrityError as exc:  # a deferred constraint
                raise sqlite3.IntegrityError(str(exc).strip()) from exc

    def data_version(self) -> int:
        """The counter of migrations_pg/0100_data_version.sql: bumped at the commit of a vote,
        comment, submission or hidden paper by any process or host (caches compare it to learn
        that their copy is stale). Unlike SQLite's PRAGMA, this thread's own commits move it
        too: a cache drops its copy once more than needed, never once too few."""
        return self.conn.execute("SELECT n FROM data_version WHERE id = 1").fetchone()[0]

    # -- migrations --------------------------------------------------------------------
    def applied_migrations(self) -> list[str]:
        # no CREATE TABLE here: two processes creating it at once collide in the catalogue;
        # migrate() creates it under the write lock
        if self.conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
            return []
        return [r[0] for r in self.conn.execute("SELECT name FROM schema_migrations ORDER BY name")]

    def migration_files(self) -> list[tuple[str, str]]:
        return migration_files()  # this engine's folder (looked up when called)

    def _apply_migration(self, conn, name: str, sql: str) -> bool:
        """Run one migration inside migrate()'s transaction (under the advisory write lock);
        False if another process applied it while this one waited for the lock."""
        conn.raw.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                         "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        if conn.execute("SELECT 1 FROM schema_migrations WHERE name=?", (name,)).fetchone():
            return False
        conn.raw.execute(sql)
        return True
