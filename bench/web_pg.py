"""A PostgreSQL cluster for bench/web.py that outlives the run: initialised once in a folder under
var/ (git-ignored), started when a run needs it, and filled once with `paperwire store copy`
of the SQLite bench store, so later runs reuse the 1M-paper database instead of copying it
again (the copy takes tens of minutes on 2 cores).

    python bench/web_pg.py start             # init (first time) and start; prints the admin URL
    python bench/web_pg.py fill var/bench/web-1000k.db   # store copy into database web_1000k (once)
    python bench/web_pg.py stop

The server runs as the `postgres` user when this runs as root (initdb refuses root), with
Debian's defaults for durability (fsync, synchronous_commit on) and a buffer pool and WAL budget
for a 1M-paper database. It is never started under `nice`: the caller's niceness is reset.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
FOLDER = ROOT / "var" / "bench" / "pg-web"
PORT = int(os.environ.get("BENCH_PG_PORT", "55433"))
# 2 hosts x 2 workers, each worker's pool growing to 64 connections under load, and the bench
MAX_CONNECTIONS = 300


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _unniced() -> None:
    """Run the server at niceness 0 even when the caller is niced (root may lower it)."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 0)
    except PermissionError:
        pass


def admin_url(folder: Path = FOLDER, port: int = PORT) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def db_url(name: str, port: int = PORT) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{name}"


def running(folder: Path = FOLDER) -> bool:
    data = folder / "data"
    if not (data / "PG_VERSION").exists():
        return False
    out = subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "status"]), capture_output=True)
    return out.returncode == 0


def start(folder: Path = FOLDER, port: int = PORT) -> str:
    """Initialise the cluster if the folder has none, start it if it is not running; the admin URL."""
    data = folder / "data"
    if not (data / "PG_VERSION").exists():
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                     "-E", "UTF8", "--locale=C.UTF-8"]), check=True, capture_output=True)
    if not running(folder):
        opts = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections={MAX_CONNECTIONS} "
                f"-c shared_buffers=1GB -c effective_cache_size=8GB -c max_wal_size=4GB "
                f"-c maintenance_work_mem=512MB -c checkpoint_timeout=15min")
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "log"),
                                     "-w", "-t", "300", "start"]), check=True, capture_output=True, preexec_fn=_unniced)
    return admin_url(folder, port)


def stop(folder: Path = FOLDER) -> None:
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "stop"]),
                   capture_output=True)


def database_name(sqlite_db: Path) -> str:
    """web-1000k.db -> web_1000k: one database per SQLite bench store."""
    return Path(sqlite_db).name.split(".")[0].replace("-", "_")


def filled(url: str) -> int:
    """Papers in the database at url, 0 when it is missing, empty or its copy did not finish
    (the copy is one transaction: an interrupted one leaves no papers)."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT to_regclass('papers') IS NOT NULL").fetchone()
            return conn.execute("SELECT count(*) FROM papers").fetchone()[0] if row[0] else 0
    except psycopg.OperationalError:
        return 0


def ensure_database(name: str) -> str:
    import psycopg

    with psycopg.connect(admin_url(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return db_url(name)


def fill(sqlite_db: Path) -> str:
    """The PostgreSQL copy of sqlite_db (made with `paperwire store copy` when missing); its URL."""
    start()
    url = ensure_database(database_name(sqlite_db))
    if not filled(url):
        print(f"copying {sqlite_db} into {url} with `paperwire store copy` (once; tens of minutes at 1M) ...",
              file=sys.stderr, flush=True)
        subprocess.run(["nice", "-n", "10", sys.executable, "-m", "paperwire", "store", "copy", str(sqlite_db), url],
                       check=True, env=dict(os.environ, PAPERWIRE_DB=url))
        # the copy rewrites every search_docs row once (its tsv) inside its transaction: a million
        # dead rows, and no visibility map for index-only scans, until a vacuum (what autovacuum
        # reaches some minutes later); measured after it
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
    return url


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "start"
    if cmd == "start":
        print(start())
    elif cmd == "stop":
        stop()
    elif cmd == "fill":
        print(fill(Path(sys.argv[2])))
    else:
        sys.exit(__doc__)
