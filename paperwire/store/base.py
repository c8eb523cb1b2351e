"""What the SQLite and the PostgreSQL store share: the methods every store module calls that are
plain SQL on both engines, the migration folders, and the UTC time stamp format.

The store modules write one SQL text for both engines (``?`` placeholders, ``ON CONFLICT``);
the PostgreSQL connection translates the placeholders (paperwire.store.postgres).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from importlib import resources

log = logging.getLogger(__name__)


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_migrations(folder: str) -> list[tuple[str, str]]:
    """(name, sql) of every migration in paperwire/store/<folder>, in order."""
    root = resources.files("paperwire.store") / folder
    files = sorted(p for p in root.iterdir() if p.name.endswith(".sql"))
    return [(p.name[:-4], p.read_text(encoding="utf-8")) for p in files]


def is_postgres_url(target) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class BaseStore:
    """Methods written once for both engines; a subclass gives ``conn``, ``transaction()``,
    ``migration_files()``, ``_apply_migration()``, ``data_version()`` and ``close()``."""

    dialect = ""

    def query(self, sql: str, params: tuple | dict = ()) -> list:
        return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | dict = ()):
        return self.conn.execute(sql, params).fetchone()

    def applied_migrations(self) -> list[str]:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        return [r[0] for r in self.conn.execute("SELECT name FROM schema_migrations ORDER BY name")]

    def migrate(self, upto: str | None = None) -> list[str]:
        """Apply the migrations not yet recorded, each in its own transaction; under the write
        lock each is checked again, so two processes migrating at once apply it once."""
        done = set(self.applied_migrations())
        applied = []
        for name, sql in self.migration_files():
            if upto is not None and name > upto:
                break
            if name in done:
                continue
            with self.transaction() as conn:
                if self._apply_migration(conn, name, sql):
                    conn.execute("INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)", (name, utcnow()))
                    applied.append(name)
                    log.info("applied migration %s", name)
        return applied

    def get_checkpoint(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM checkpoints WHERE key=?", (key,))
        return row[0] if row else None

    def set_checkpoint(self, key: str, value: str | None, conn=None) -> None:
        c = conn or self.conn
        if value is None:
            c.execute("DELETE FROM checkpoints WHERE key=?", (key,))
        else:
            c.execute(
                "INSERT INTO checkpoints(key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                (key, value, utcnow()),
            )
