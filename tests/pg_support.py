"""PostgreSQL for tests that need it in every pass (a comparison with SQLite, a copy from SQLite,
several hosts): a fresh, migrated database per test.

With ``PAPERWIRE_TEST_DB=postgresql://...`` (scripts/test.sh's PostgreSQL pass) the databases
are made on that server through tests/pg_engine.py. Without it (the SQLite pass, or a developer
running one file) a throwaway cluster is started once per session with scripts/pg-cluster.sh
(Debian's binaries; it runs the server as the ``postgres`` user when the tests run as root,
since initdb refuses root) and stopped at the end.

Use: ``from pg_support import pg_url  # noqa: F401`` in a test module, then take ``pg_url``.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import urllib.parse
from pathlib import Path

import pytest

import pg_engine

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "pg-cluster.sh"
_names = itertools.count()


def _url(server: str, name: str) -> str:
    parts = urllib.parse.urlsplit(server)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def _admin(server: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(_url(server, "postgres"), autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


@pytest.fixture(scope="session")
def pg_server():
    """(server URL, name of a migrated template database): PAPERWIRE_TEST_DB's server, or a
    cluster of this session's own. (tests/pg_engine.py's module state is left alone: the
    SQLite pass's other tests must stay on SQLite.)"""
    from paperwire.store import open_store

    folder = None
    if pg_engine.postgres():
        server = pg_engine.ENGINE_URL
    else:
        folder = subprocess.run(["bash", str(SCRIPT), "start"], check=True, capture_output=True,
                                text=True).stdout.strip()
        server = subprocess.run(["bash", str(SCRIPT), "url", folder], check=True, capture_output=True,
                                text=True).stdout.strip()
    template = f"pws_template_{os.getpid()}_{next(_names)}"
    try:
        _admin(server, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)', f'CREATE DATABASE "{template}"')
        open_store(_url(server, template)).close()
        yield server, template
    finally:
        try:
            _admin(server, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        finally:
            if folder:
                subprocess.run(["bash", str(SCRIPT), "stop", folder], capture_output=True)


@pytest.fixture
def pg_url(pg_server):
    """The URL of a new database with every migration applied, dropped after the test."""
    server, template = pg_server
    name = f"pws_{os.getpid()}_{next(_names)}"
    _admin(server, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _url(server, name)
    finally:
        _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_env(url: str) -> dict:
    """The environment for a `paperwire` process on the database at ``url``."""
    return {**os.environ, "PAPERWIRE_DB": url}
