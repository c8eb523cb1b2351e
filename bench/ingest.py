"""Ingest speed and memory: records/s and peak RSS of `import_file` into a fresh SQLite file.

Runs (each in its own subprocess, so peak memory is per run):
  1. the 74,728 shared listing records (../shared/data/arxiv-daily-2025-2026/records.jsonl.gz);
  2. a generated N-record file in the arXiv snapshot format (default 1,000,000), built from the
     real records (real titles/abstracts/authors, fresh ids, 1-3 versions each) so text
     processing and link extraction do realistic work.
Each file is imported two ways into a fresh database:
  - "per-record": the database as `paperwire` creates it, `--no-bulk`: the triggers write every
    new paper's search document and FTS5 entry, and its author and category rows, as it is stored;
  - "bulk": `--bulk`: the papers rows (with versions, links, sources) stored first, then the
    catch-up (paperwire.store.bulk): search documents, author and category rows set-based from
    those rows, then the FTS5 entries in one pass. Its store phase (the last batch committed),
    the two catch-up passes and the end-to-end rate are reported separately.
Files of 8 MB or more are parsed in a child process (as `paperwire ingest` does); peak memory
is the importing process's plus the parser process's. Re-ingest: the same file again (nothing
changes).

With ``--engines sqlite,postgresql`` each import also runs into a fresh PostgreSQL database of
a cluster this script starts in a temporary folder (PostgreSQL 15 from Debian, its default
durability: fsync and synchronous_commit on), in the same run. For PostgreSQL it also reports:
  - "store copy": the SQLite store the bulk run made, moved with `paperwire store copy` (COPY,
    every table, the weighted tsvectors computed, counts checked): rows/s and papers/s;
  - "host build": an app host that starts empty building its index folders from the database:
    the tantivy folder from every paper, the vector index from one stored vector per paper
    (random unit vectors of the minilm model's size, so no model time is counted).

    python bench/ingest.py                    # both files, all variants
    python bench/ingest.py --generate 200000  # a smaller generated file
    python bench/ingest.py --quick            # 20,000 records only (smoke run)

Prints a table and writes bench/results/ingest.json. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "arxiv-daily-2025-2026" / "records.jsonl.gz"
RESULTS = ROOT / "bench" / "results" / "ingest.json"


def peak_rss_kb() -> int:
    """This process's peak resident memory. Not getrusage's ru_maxrss: after fork+exec Linux
    keeps the parent's high-water mark there (the parent holds the generator's records)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(path: str, db: str, fmt: str, variant: str, batch_size: int) -> None:
    sys.path.insert(0, str(ROOT))
    from paperwire.ingest import import_file
    from paperwire.store import Store

    if db.startswith("postgresql://"):
        Store(db).close()  # migrations before the clock starts, as a SQLite file is created
    store = Store(db)
    bulk = variant == "bulk"
    marks, stages = [], {}
    t0 = time.perf_counter()
    summary = import_file(store, path, fmt, batch_size=batch_size or None, bulk=bulk,
                          on_progress=lambda s: marks.append(time.perf_counter()),
                          on_catch_up=lambda stage, n: stages.__setitem__(stage, time.perf_counter()))
    secs = time.perf_counter() - t0
    stored_secs = (marks[-1] - t0) if marks else secs  # the last batch committed: the rest is the catch-up
    derived_secs = (stages["search and author rows"] - t0 - stored_secs) if "search and author rows" in stages else 0
    t1 = time.perf_counter()
    again = import_file(store, path, fmt, batch_size=batch_size or None, bulk=bulk)  # re-ingest: nothing changes
    secs_again = time.perf_counter() - t1
    rss_kb = peak_rss_kb()
    from paperwire.ingest import parallel
    child_kb = parallel.last_parser_peak_kb  # the parser process's own VmHWM, when there was one
    out = {
        "records": summary.read, "stored": summary.stored, "skipped": summary.skipped, "seconds": round(secs, 2),
        "records_per_s": round(summary.read / secs) if secs else None,
        "reingest_seconds": round(secs_again, 2), "reingest_unchanged": again.unchanged,
        "reingest_records_per_s": round(again.read / secs_again) if secs_again else None,
        "peak_rss_mb": round(rss_kb / 1024, 1), "parser_peak_rss_mb": round(child_kb / 1024, 1),
        "peak_total_mb": round((rss_kb + child_kb) / 1024, 1),
        "db_mb": round(_db_bytes(store, db) / 2**20, 1), "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    if variant == "bulk":
        catch_up = secs - stored_secs
        fts_secs = catch_up - derived_secs if not db.startswith("postgresql://") else 0  # one pass there
        out.update({"store_seconds": round(stored_secs, 2), "store_records_per_s": round(summary.read / stored_secs),
                    "catch_up_seconds": round(catch_up, 2), "indexed": summary.indexed,
                    "derived_seconds": round(derived_secs, 2),
                    "derived_papers_per_s": round(summary.stored / derived_secs) if derived_secs > 0 else None,
                    "fts_seconds": round(fts_secs, 2),
                    "fts_docs_per_s": round(summary.indexed / fts_secs) if fts_secs > 0 else None,
                    "catch_up_docs_per_s": round(summary.indexed / catch_up) if catch_up > 0 else None})
    print(json.dumps(out))


def _db_bytes(store, db: str) -> int:
    if db.startswith("postgresql://"):
        return store.query_one("SELECT pg_database_size(current_database())")[0]
    return os.path.getsize(db)


# -- PostgreSQL ------------------------------------------------------------------------------------
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def start_pg() -> tuple[str, callable]:
    """A cluster of our own (initdb refuses root: run as postgres), default durability, a larger
    buffer pool and WAL budget as a server for this load would have. Returns (admin URL, stop)."""
    import shutil
    import socket

    # its own folder, not under the run's private temporary folder: the server's user must reach it
    folder = Path(tempfile.mkdtemp(prefix="pwbench-pg-", dir=os.environ.get("BENCH_TMP")))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    data = folder / "data"
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                                 "--locale=C.UTF-8"]), check=True, capture_output=True)
    opts = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c shared_buffers=512MB -c max_wal_size=4GB "
            f"-c maintenance_work_mem=512MB -c checkpoint_timeout=15min")
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "log"), "-w",
                                 "start"]), check=True, capture_output=True)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def stop() -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
    return url, stop


def new_database(admin_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def copy_child(sqlite_db: str, url: str) -> None:
    """`paperwire store copy` of ``sqlite_db`` into the new database at ``url``, timed."""
    sys.path.insert(0, str(ROOT))
    from paperwire.store import open_store
    from paperwire.store.copy import copy_store

    src, dst = open_store(sqlite_db), open_store(url)
    t0 = time.perf_counter()
    report = copy_store(src, dst)
    secs = time.perf_counter() - t0
    papers = report.counts["papers"][0]
    print(json.dumps({"ok": report.ok, "rows": report.rows, "papers": papers, "seconds": round(secs, 2),
                      "rows_per_s": round(report.rows / secs), "papers_per_s": round(papers / secs),
                      "load_avg_1m": round(os.getloadavg()[0], 2)}))


def host_child(url: str, data_dir: str) -> None:
    """An app host that starts empty: its tantivy folder and vector index built from the database."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from paperwire.config import Settings
    from paperwire.search import indexer
    from paperwire.store import open_store
    from paperwire.store.bulk_pg import copy_rows

    settings = Settings.load(env={}, db=url, data_dir=data_dir, fast_lexical_above=1)
    store = open_store(url)
    engine = indexer.SearchEngine(store, settings)
    enc = engine.vectors.encoder
    rng = np.random.default_rng(5)
    t0 = time.perf_counter()
    with store.transaction() as conn:  # one stored vector per paper (the model's size), COPY
        last = 0
        while True:
            ids = [r[0] for r in conn.execute("SELECT docid FROM search_docs WHERE docid > ? ORDER BY docid LIMIT 50000",
                                              (last,)).fetchall()]
            if not ids:
                break
            last = ids[-1]
            vecs = rng.standard_normal((len(ids), enc.dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            vecs = vecs.astype("<f2")
            copy_rows(conn, "paper_vectors", ["model", "docid", "text_hash", "vector"],
                      ((enc.name, d, "bench", vecs[i].tobytes()) for i, d in enumerate(ids)))
    stored = time.perf_counter() - t0
    marks: dict[str, tuple[float, int, int]] = {}
    t1 = time.perf_counter()
    out = indexer.sync_host(store, settings, engine=engine,
                            progress=lambda st, done, total: marks.__setitem__(st, (time.perf_counter() - t1, done, total)))
    secs = time.perf_counter() - t1
    print(json.dumps({"papers": out.get("lexical_added"), "vectors": out.get("vectors"), "vector_index": out.get("index"),
                      "seconds": round(secs, 2), "vector_index_seconds": out.get("index_seconds"),
                      "lexical_seconds": out.get("lexical_seconds"), "vectors_stored_seconds": round(stored, 2),
                      "progress_last": {k: indexer.progress_line(k, v[1], v[2]) for k, v in marks.items()},
                      "load_avg_1m": round(os.getloadavg()[0], 2)}))


def generate_snapshot(src: Path, n: int, out: Path, seed: int = 7) -> None:
    """n snapshot-format lines from real listing records, cycling through them with fresh ids.
    The ids come in order, month by month, as the real snapshot file lists its papers (an
    earlier version interleaved 216 months, record by record, which no arXiv file does)."""
    rnd = random.Random(seed)
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        base = [json.loads(line) for line in fh]
    months = [f"{y % 100:02d}{m:02d}" for y in range(2008, 2026) for m in range(1, 13)]
    per_month = -(-n // len(months))
    with open(out, "w", encoding="utf-8") as fh:
        for i in range(n):
            r = base[i % len(base)]
            ym = months[i // per_month]
            pid = f"{ym}.{i % per_month + 1:05d}"
            nver = rnd.choice((1, 1, 1, 2, 2, 3))
            versions = [{"version": f"v{v}", "created": f"Mon, {1 + v:d} Jan 20{ym[:2]} 10:0{v}:00 GMT"}
                        for v in range(1, nver + 1)]
            authors = r.get("authors") or []
            parsed = [[a.split(" ")[-1], " ".join(a.split(" ")[:-1]), ""] for a in authors]
            rec = {"id": pid, "submitter": authors[0] if authors else None, "authors": ", ".join(authors),
                   "title": r["title"], "comments": r.get("comment"), "journal-ref": None, "doi": None,
                   "report-no": None, "categories": " ".join(r.get("categories") or []), "license": None,
                   "abstract": r.get("summary") or "", "versions": versions, "update_date": f"20{ym[:2]}-{ym[2:]}-15",
                   "authors_parsed": parsed}
            fh.write(json.dumps(rec) + "\n")


def run(path: Path, fmt: str, variant: str, batch_size: int, db: str | None = None) -> dict:
    """One import in a child process, into ``db`` (a PostgreSQL URL, or a SQLite file that is
    kept) or a SQLite file in a temporary folder."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        db = db or str(Path(tmp) / "bench.db")
        out = _child_json("--child", str(path), db, fmt, variant, str(batch_size))
    return out


def _child_json(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"child {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


VARIANTS = {"fts": "per-record", "bulk": "bulk"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=Path, default=SHARED)
    ap.add_argument("--generate", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=0)  # 0: as `paperwire ingest` (2000; 10000 in bulk)
    ap.add_argument("--variants", default="fts,bulk", help="comma-separated: fts (per-record), bulk")
    ap.add_argument("--skip-listing", action="store_true", help="only the generated file")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--engines", default="sqlite", help="comma-separated: sqlite, postgresql")
    ap.add_argument("--pg-extras", default="copy,host",
                    help="with postgresql, after the bulk import: copy (`store copy` of the SQLite store), host (an "
                         "empty app host's build); comma-separated, or none")
    ap.add_argument("--skip-pg-import", action="store_true",
                    help="with postgresql: no import into it, only the --pg-extras copy of the SQLite store")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--copy-child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--host-child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        path, db, fmt, variant, bs = a.child
        child(path, db, fmt, variant, int(bs))
        return
    if a.copy_child:
        copy_child(*a.copy_child)
        return
    if a.host_child:
        host_child(*a.host_child)
        return
    if not a.records.exists():
        sys.exit(f"{a.records} not found (the shared data folder)")
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
               "batch_size": a.batch_size, "command": " ".join(sys.argv), "load_avg_at_start": os.getloadavg(), "runs": []}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        inputs = []
        if a.quick:
            small = Path(tmp) / "records-20k.jsonl"
            with gzip.open(a.records, "rt", encoding="utf-8") as fh, open(small, "w") as out:
                for i, line in zip(range(20000), fh):
                    out.write(line)
            inputs.append(("listing 20k", small, "listing"))
        else:
            if not a.skip_listing:
                inputs.append(("listing 74,728 shared records", a.records, "listing"))
            if a.generate:
                gen = Path(tmp) / f"snapshot-{a.generate}.jsonl"
                t0 = time.perf_counter()
                generate_snapshot(a.records, a.generate, gen)
                print(f"generated {a.generate:,} snapshot records ({gen.stat().st_size / 2**20:.0f} MB) in "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)
                inputs.append((f"snapshot {a.generate:,} generated records", gen, "snapshot"))
        print(f"{'input':<36} {'variant':<11} {'records':>9} {'s':>7} {'rec/s':>7} {'store rec/s':>11} "
              f"{'derived/s':>9} {'FTS5/s':>7} {'re-ingest/s':>11} {'peak MB':>8} {'load':>5}")
        engines = a.engines.split(",")
        pg_url, stop_pg = start_pg() if "postgresql" in engines else (None, None)
        try:
            for label, path, fmt in inputs:
                for variant in a.variants.split(","):
                    kept = str(Path(tmp) / f"kept-{variant}.db")
                    for engine in engines:
                        if engine == "postgresql" and a.skip_pg_import:
                            continue
                        db = new_database(pg_url, f"bench_{variant}") if engine == "postgresql" else kept
                        r = run(path, fmt, variant, a.batch_size, db)
                        r.update({"input": label, "variant": VARIANTS[variant], "format": fmt, "engine": engine})
                        results["runs"].append(r)
                        print(f"{label:<36} {VARIANTS[variant] + ('/pg' if engine == 'postgresql' else ''):<11} "
                              f"{r['records']:>9,} {r['seconds']:>7} {r['records_per_s']:>7,} "
                              f"{r.get('store_records_per_s') or '':>11} {r.get('derived_papers_per_s') or '':>9} "
                              f"{r.get('fts_docs_per_s') or '':>7} "
                              f"{r['reingest_records_per_s']:>11,} {r['peak_total_mb']:>8} {r['load_avg_1m']:>5}",
                              flush=True)
                        if engine == "postgresql" and variant == "bulk" and "host" in a.pg_extras.split(","):
                            h = _child_json("--host-child", db, str(Path(tmp) / "host"))
                            h["input"] = label
                            results.setdefault("host_build", []).append(h)
                            print(f"  host build from PostgreSQL: {h['papers']:,} papers, {h['vectors']:,} vectors "
                                  f"({h['vector_index']}) in {h['seconds']} s (tantivy {h['lexical_seconds']} s, "
                                  f"vectors {h['vector_index_seconds']} s), load {h['load_avg_1m']}", flush=True)
                    if pg_url and "sqlite" in engines and variant == "bulk" and "copy" in a.pg_extras.split(","):
                        c = _child_json("--copy-child", kept, new_database(pg_url, "bench_copy"))
                        c["input"] = label
                        results.setdefault("store_copy", []).append(c)
                        print(f"  store copy SQLite -> PostgreSQL: {c['papers']:,} papers, {c['rows']:,} rows in "
                              f"{c['seconds']} s ({c['papers_per_s']:,} papers/s, {c['rows_per_s']:,} rows/s), "
                              f"counts {'match' if c['ok'] else 'DIFFER'}, load {c['load_avg_1m']}", flush=True)
                    if os.path.exists(kept):
                        os.remove(kept)
        finally:
            if stop_pg:
                stop_pg()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
