"""Fixtures of the multi-host tests: real `paperwire serve` processes, each with its own index
folder, over one database (a SQLite file shared by two processes, or with PAPERWIRE_TEST_DB one
PostgreSQL database shared by two "hosts"), and real CLI processes beside them."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from multihost_support import SECRET, start_host, wait_up
from repo_paths import ROOT

DEMO_VECTORS = ROOT / "demo" / "vectors-minilm.npz"


@pytest.fixture(scope="module")
def site(site_template_db, tmp_path_factory):
    """Settings of one copy of the demo site's database for a whole test module (its tests use
    their own users and papers): starting the two hosts once per module, not once per test."""
    from paperwire.config import Settings

    folder = tmp_path_factory.mktemp("multihost")
    if os.environ.get("PAPERWIRE_TEST_DB", "").startswith(("postgresql://", "postgres://")):
        import pg_engine

        url = pg_engine.create_db(pg_engine.new_name("multihost"), template=site_template_db)
        yield _with_demo_vectors(Settings.load(env={}, db=url, data_dir=str(folder / "cli.d"), secret_key=SECRET))
        pg_engine.drop_db(url)
        return
    db = folder / "site.db"
    shutil.copy(site_template_db, db)
    yield _with_demo_vectors(Settings.load(env={}, db=str(db), data_dir=str(folder / "cli.d"), secret_key=SECRET))


def _with_demo_vectors(settings):
    """The demo's shipped paper vectors stored, as `scripts/demo.sh` does: a search by meaning on
    a host then ranks a new paper among every demo paper, not alone in an empty index."""
    from paperwire.search.indexer import import_vectors
    from paperwire.store import open_store

    store = open_store(settings)
    assert import_vectors(store, "minilm", DEMO_VECTORS)["imported"] > 1000
    store.close()
    return settings


@pytest.fixture(scope="module")
def hosts(site, tmp_path_factory):
    """Two app hosts (A, B) on different ports over the site's one database."""
    folder = tmp_path_factory.mktemp("hosts")
    started = [start_host(site, folder / name) for name in ("host-a", "host-b")]
    try:
        deadline = time.time() + 90
        for h in started:
            wait_up(h, deadline)
        yield started
    finally:
        for h in started:
            h.proc.terminate()
        for h in started:
            try:
                h.proc.wait(15)
            except subprocess.TimeoutExpired:
                h.proc.kill()
