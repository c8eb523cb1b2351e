"""Shared fixtures: real SQLite files in tmp dirs, the recorded data under tests/data, and the
site (a real SQLite database built once per session from demo/: 3,000 listing records and the
Hugging Face daily papers, copied for each test so tests that write do not see each other's votes).

With PAPERWIRE_TEST_DB=postgresql://... (scripts/test.sh's PostgreSQL pass) the same fixtures
give a fresh PostgreSQL database per test instead, and the site is a template database copied
with CREATE DATABASE ... TEMPLATE (tests/pg_engine.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import pg_engine
from paperwire.config import Settings
from paperwire.store import open_store
from digest_support import SMTPServer
from repo_paths import DATA, DEMO
from web_support import PASSWORD, free_port


# Tests that cannot pass on PostgreSQL yet, by node id or file, with the reason; the PostgreSQL
# pass skips each with "not on PostgreSQL: <reason>" (scripts/test.sh runs it with -rs, so every
# one is listed). A test of SQLite's own behaviour carries @pytest.mark.sqlite_only(reason).
NOT_ON_POSTGRES: dict[str, str] = {
}


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): checks SQLite's own behaviour; the PostgreSQL pass "
                                       "skips it with the reason")


def pytest_collection_modifyitems(config, items):
    if not pg_engine.postgres():
        return
    for item in items:
        mark = item.get_closest_marker("sqlite_only")
        reason = mark.args[0] if mark else None
        for where, why in NOT_ON_POSTGRES.items():
            if item.nodeid == where or item.nodeid.startswith((where + "::", where + "[")):
                reason = why
        if reason:
            item.add_marker(pytest.mark.skip(reason="not on PostgreSQL: " + reason))


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def settings(tmp_path) -> Settings:
    if pg_engine.postgres():
        url = pg_engine.fresh_db()
        yield Settings.load(env={}, db=url, data_dir=str(tmp_path / "test.db.d"))
        pg_engine.drop_db(url)
    else:
        yield Settings.load(env={}, db=str(tmp_path / "test.db"))


@pytest.fixture
def store(settings):
    s = open_store(settings)
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_records() -> Path:
    return DEMO / "records.jsonl.gz"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> str:
    # Distilling the static model takes ~15-45 s: once per session, shared by every test module
    # (or reuse a folder given in PAPERWIRE_TEST_MODEL_CACHE between runs).
    return os.environ.get("PAPERWIRE_TEST_MODEL_CACHE") or str(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def site_template_db(tmp_path_factory) -> Path | str:
    """The demo site's database: a SQLite file, or on PostgreSQL a template database's name."""
    from paperwire.ingest import import_file

    if pg_engine.postgres():
        name = pg_engine.new_name("site")
        store = open_store(pg_engine.create_db(name, template=pg_engine.migrated_template()))
    else:
        path = tmp_path_factory.mktemp("site") / "template.db"
        store = open_store(str(path))
    import_file(store, DEMO / "records.jsonl.gz")
    for day in sorted((DEMO / "hf").glob("*.json")):  # the Hugging Face daily lists of the same days
        import_file(store, day)
    if store.dialect == "sqlite":
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    if pg_engine.postgres():
        yield name
        pg_engine.drop_db(name)
    else:
        yield path


@pytest.fixture(scope="session")
def shared_hash() -> str:
    # one argon2 hash reused by bulk-created users: hashing 50 passwords would only test argon2
    from paperwire.store.users import hash_password

    return hash_password(PASSWORD)


@pytest.fixture
def site_settings(site_template_db, tmp_path) -> Settings:
    if pg_engine.postgres():
        url = pg_engine.create_db(pg_engine.new_name("db"), template=site_template_db)
        yield Settings.load(env={}, db=url, data_dir=str(tmp_path / "site.db.d"), secret_key="t" * 40,
                            encode_timeout=0.5)
        pg_engine.drop_db(url)
        return
    db = tmp_path / "site.db"
    shutil.copy(site_template_db, db)
    yield Settings.load(env={}, db=str(db), secret_key="t" * 40, encode_timeout=0.5)


@pytest.fixture
def app(site_settings):
    from paperwire.web.app import create_app

    a = create_app(site_settings)
    a.state.similar_timeout = 0  # similar papers need the embedding model; tested on their own
    yield a
    a.state.store.close()


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


@pytest.fixture
def live_server(site_settings, tmp_path):
    """`paperwire serve` in a child process on a free port; yields its base URL."""
    port = free_port()
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "PAPERWIRE_DB": site_settings.db,
           "PAPERWIRE_SECRET_KEY": "s" * 40, "PAPERWIRE_BASE_URL": f"http://127.0.0.1:{port}",
           "PAPERWIRE_ENCODE_TIMEOUT": "0.5", "HOME": str(tmp_path)}
    if pg_engine.postgres():
        env["PAPERWIRE_DATA_DIR"] = site_settings.data_dir
    proc = subprocess.Popen([sys.executable, "-m", "paperwire", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(url + "/api/openapi.json", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError("server exited: " + proc.stdout.read().decode(errors="replace"))
    else:
        proc.kill()
        raise RuntimeError("server did not start")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd on 127.0.0.1) that records every message it accepts."""
    with SMTPServer() as server:
        yield server
