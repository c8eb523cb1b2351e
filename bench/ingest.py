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
        "db_mb": round(os.path.getsize(db) / 2**20, 1), "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    if variant == "bulk":
        catch_up = secs - stored_secs
        fts_secs = catch_up - derived_secs
        out.update({"store_seconds": round(stored_secs, 2), "store_records_per_s": round(summary.read / stored_secs),
                    "catch_up_seconds": round(catch_up, 2), "indexed": summary.indexed,
                    "derived_seconds": round(derived_secs, 2),
                    "derived_papers_per_s": round(summary.stored / derived_secs) if derived_secs > 0 else None,
                    "fts_seconds": round(fts_secs, 2),
                    "fts_docs_per_s": round(summary.indexed / fts_secs) if fts_secs > 0 else None,
                    "catch_up_docs_per_s": round(summary.indexed / catch_up) if catch_up > 0 else None})
    print(json.dumps(out))


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


def run(path: Path, fmt: str, variant: str, batch_size: int) -> dict:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        db = str(Path(tmp) / "bench.db")
        out = subprocess.run([sys.executable, __file__, "--child", str(path), db, fmt, variant, str(batch_size)],
                             capture_output=True, text=True, check=True)
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
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        path, db, fmt, variant, bs = a.child
        child(path, db, fmt, variant, int(bs))
        return
    if not a.records.exists():
        sys.exit(f"{a.records} not found (the shared data folder)")
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
               "batch_size": a.batch_size, "runs": []}
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
        for label, path, fmt in inputs:
            for variant in a.variants.split(","):
                r = run(path, fmt, variant, a.batch_size)
                r.update({"input": label, "variant": VARIANTS[variant], "format": fmt})
                results["runs"].append(r)
                print(f"{label:<36} {VARIANTS[variant]:<11} {r['records']:>9,} {r['seconds']:>7} {r['records_per_s']:>7,} "
                      f"{r.get('store_records_per_s') or '':>11} {r.get('derived_papers_per_s') or '':>9} "
                      f"{r.get('fts_docs_per_s') or '':>7} "
                      f"{r['reingest_records_per_s']:>11,} {r['peak_total_mb']:>8} {r['load_avg_1m']:>5}", flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
