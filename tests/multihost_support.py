"""Helpers of the multi-host tests (tests/multihost/): the environment of one app host (the shared
database and secret, its own index folder) and a real `paperwire serve` process started with it."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from web_support import free_port

ROOT = Path(__file__).resolve().parents[1]
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
    env = host_env(settings, data_dir, PAPERWIRE_BASE_URL=f"http://127.0.0.1:{port}", PAPERWIRE_PAGE_CACHE_SECONDS=600,
                   PAPERWIRE_VIEW_FLUSH_SECONDS=1)
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


