"""Fixtures of the multi-host tests: real `paperwire serve` processes, each with its own index
folder, over one database (a SQLite file shared by two processes, or with PAPERWIRE_TEST_DB one
PostgreSQL database shared by two "hosts"), and real CLI processes beside them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from web_support import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "multihost-secret-" + "k" * 32  # one secret for every host, as production requires


def host_env(settings, data_dir: Path, **extra) -> dict:
    """The environment of one app host: the shared database and secret, its own index folder."""
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "PAPERWIRE_DB": str(settings.db),
           "PAPERWIRE_DATA_DIR": str(data_dir), "PAPERWIRE_SECRET_KEY": SECRET, "PAPERWIRE_ENCODE_TIMEOUT": "0.5",
           "HOME": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.update({k: str(v) for k, v in extra.items()})
    return env


@dataclass
class Host:
    url: str
    proc: subprocess.Popen
    data_dir: Path


def start_host(settings, data_dir: Path) -> Host:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # cached pages live for ten minutes: only the cross-host invalidation can make a host show a
    # newer count or a new paper within these tests
    env = host_env(settings, data_dir, PAPERWIRE_BASE_URL=f"http://127.0.0.1:{port}", PAPERWIRE_PAGE_CACHE_SECONDS=600)
    log = open(data_dir / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "paperwire", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    return Host(f"http://127.0.0.1:{port}", proc, data_dir)


def wait_up(host: Host, deadline: float) -> None:
    while time.time() < deadline:
        if host.proc.poll() is not None:
            raise RuntimeError("server exited: " + (host.data_dir / "serve.log").read_text(errors="replace"))
        try:
            if httpx.get(host.url + "/api/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start: " + (host.data_dir / "serve.log").read_text(errors="replace"))


@pytest.fixture(scope="module")
def site(site_template_db, tmp_path_factory):
    """Settings of one copy of the demo site's database for a whole test module (its tests use
    their own users and papers): starting the two hosts once per module, not once per test."""
    from paperwire.config import Settings

    folder = tmp_path_factory.mktemp("multihost")
    if os.environ.get("PAPERWIRE_TEST_DB", "").startswith(("postgresql://", "postgres://")):
        import pg_engine

        url = pg_engine.create_db(pg_engine.new_name("multihost"), template=site_template_db)
        yield Settings.load(env={}, db=url, data_dir=str(folder / "cli.d"), secret_key=SECRET)
        pg_engine.drop_db(url)
        return
    db = folder / "site.db"
    shutil.copy(site_template_db, db)
    yield Settings.load(env={}, db=str(db), data_dir=str(folder / "cli.d"), secret_key=SECRET)


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
