"""Known-item search over the whole shared listings: does a remembered part of a title find
its paper?

500 papers are drawn (seed 14) from the 74,728 of the shared arXiv listings; each gives a run
of 3-6 consecutive words of its title (the way bench/paraphrase.py draws them). Each fragment
is searched through the CLI (`paperwire search --batch`, 10 results) in lexical and hybrid
mode; success@10 is the share of fragments whose paper is among the 10 results, success@1 the
share where it comes first. The issue's reference figures on the same kind of fragments: 82%
in the top 10 before this work, 97.5% for arxiv-sanity-lite's title-weighted scan.

Hybrid needs a vector for every paper. The default encoder (minilm) embeds ~20-100 papers/s
on two cores, so 74,728 papers take 15-60 minutes; ``--model static`` (the distilled MiniLM)
embeds them in seconds. The database is kept per encoder fingerprint in --work, so a second
run only searches, and an interrupted first run resumes where it stopped.

    python bench/known_item.py                    # minilm: the first run embeds 74,728 papers
    python bench/known_item.py --model static
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import ROOT, cli, encoder_identity  # noqa: E402


def fragments(src: Path, n: int, seed: int) -> list[tuple[str, str]]:
    """(paper id, 3-6 consecutive words of its title) for ``n`` papers drawn at random."""
    papers = []
    with gzip.open(src, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            papers.append((r["id"], r["title"]))
    rng = random.Random(seed)
    out = []
    for pid, title in rng.sample(papers, n):
        words = re.findall(r"[^\W_]+", title)
        size = min(len(words), rng.randint(3, 6))
        start = rng.randint(0, len(words) - size)
        out.append((pid, " ".join(words[start:start + size])))
    return out


def success(run: Path, truth: dict[str, str]) -> dict[str, float]:
    first: dict[str, list[str]] = {}
    for line in run.read_text().splitlines():
        q, _, doc, rank, _, _ = line.split()
        first.setdefault(q, []).append(doc)
    at = lambda k: round(sum(1 for q, pid in truth.items() if pid in first.get(q, [])[:k]) / len(truth), 4)  # noqa: E731
    return {"success@10": at(10), "success@1": at(1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path,
                    default=ROOT.parent / "shared" / "data" / "arxiv-daily-2025-2026" / "records.jsonl.gz")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--work", type=Path, default=ROOT / "var" / "bench-known")
    ap.add_argument("--out", type=Path, default=None, help="default bench/results/known-item-MODEL.json")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PAPERWIRE_EMBED_MODEL=args.model, PYTHONPATH=str(ROOT))
    ident = encoder_identity(args.model, env)
    db = args.work / f"listings-{ident}.db"
    out: dict = {"model": args.model, "encoder": ident, "fragments": args.n, "seed": args.seed, "steps": {}}
    if not db.exists():
        # an interrupted run resumes here: ingest skips unchanged papers, index embeds the rest
        staged = args.work / f"staging-{ident}.db"
        t = time.perf_counter()
        print(cli(staged, env, "ingest", str(args.data)).strip().splitlines()[-1])
        out["steps"]["ingest_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        print(cli(staged, env, "index").strip().splitlines()[-1])
        out["steps"]["index_s"] = round(time.perf_counter() - t, 1)
        # renamed only once complete: a later run never searches half a store
        os.replace(staged, db)
        if Path(f"{staged}.d").exists():
            os.replace(f"{staged}.d", f"{db}.d")
    frags = fragments(args.data, args.n, args.seed)
    truth = {f"k{i}": pid for i, (pid, _) in enumerate(frags)}
    qfile = args.work / "fragments.tsv"
    qfile.write_text("".join(f"k{i}\t{text}\n" for i, (_, text) in enumerate(frags)))
    stats = dict(line.split(": ", 1) for line in cli(db, env, "stats").splitlines() if ": " in line)
    out["papers"] = int(stats.get("papers", "0").replace(",", ""))
    out["load_average"] = list(os.getloadavg())
    for mode in ("lexical", "hybrid"):
        run = args.work / f"run-{mode}-{ident}.txt"
        t = time.perf_counter()
        log = cli(db, env, "search", "--batch", str(qfile), "--run-out", str(run), "--mode", mode, "--limit", "10")
        if f"modes used: {mode}" not in log:
            raise SystemExit(f"{mode}: the engine did not run in {mode} mode: {log}")
        out[mode] = {**success(run, truth), "seconds": round(time.perf_counter() - t, 1)}
        print(mode, json.dumps(out[mode]))
    dest = args.out or ROOT / "bench" / "results" / f"known-item-{args.model}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2))
    print(f"saved {dest}")


if __name__ == "__main__":
    main()
