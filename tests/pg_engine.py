"""The PostgreSQL side of the test fixtures (tests/conftest.py). PAPERWIRE_TEST_DB=postgresql://user@/?host=/socket/dir
(scripts/test.sh sets it for its PostgreSQL pass) names a server on which each test gets a fresh
database, made from a migrated template (one per session) so a test pays a file copy, not the
migrations. Unset: every fixture uses SQLite files, as ever."""

from __future__ import annotations

import itertools
import os
import urllib.parse

ENGINE_URL = os.environ.get("PAPERWIRE_TEST_DB", "")
_names = itertools.count()


def postgres() -> bool:
    return ENGINE_URL.startswith(("postgresql://", "postgres://"))


def db_url(name: str) -> str:
    """ENGINE_URL with its database set to `name`."""
    parts = urllib.parse.urlsplit(ENGINE_URL)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def _admin():
    import psycopg

    return psycopg.connect(db_url("postgres"), autocommit=True)


def new_name(kind: str) -> str:
    return f"pwt_{kind}_{os.getpid()}_{next(_names)}"


def create_db(name: str, template: str | None = None) -> str:
    """A new database (a copy of `template` when given); its URL."""
    with _admin() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return db_url(name)


def drop_db(url_or_name: str) -> None:
    name = urllib.parse.urlsplit(url_or_name).path.lstrip("/") if "://" in url_or_name else url_or_name
    with _admin() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated_template() -> str:
    """The name of a database with every migration applied (made once per session)."""
    global _template
    if _template is None:
        from paperwire.store import open_store

        name = new_name("empty")
        store = open_store(create_db(name))
        store.close()
        _template = name
    return _template


_template: str | None = None


def fresh_db() -> str:
    """The URL of a new, migrated, empty database."""
    return create_db(new_name("db"), template=migrated_template())
