"""Paraphrased questions over the shared arXiv listings: lexical / semantic / hybrid.

bench/judged/paraphrase-questions.tsv holds questions written in plain words for papers listed
2025-06-02 .. 2025-06-13 (2,959 papers of the shared listings), avoiding the words of each
paper's own title and abstract where a plain synonym exists ("a forged speech clip" for
"audio deepfake"); bench/judged/paraphrase-qrels.txt holds the judgments (TREC qrels): the
paper each question was written for, and any other paper of the top 10 of the three modes
judged relevant by reading the pooled titles (all 34 pools). The odd-numbered questions (p01,
p03, ...) are the tuning half of bench/fusion.py, which chose the hybrid's fusion settings; the
even-numbered ones were never used for a choice: nDCG@10 is reported on both halves.

    python bench/paraphrase.py                  # saves bench/results/paraphrase.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import MEASURES, ROOT, cli, encoder_identity  # noqa: E402

FIRST, LAST = "2025-06-02", "2025-06-13"
JUDGED = ROOT / "bench" / "judged"


def records(src: Path, dest: Path) -> Path:
    """The window's records of the shared listings, as a JSON-lines file paperwire ingests."""
    if not dest.exists():
        with gzip.open(src, "rt", encoding="utf-8") as f, dest.open("w", encoding="utf-8") as out:
            for line in f:
                if FIRST <= json.loads(line).get("listing_date", "") <= LAST:
                    out.write(line)
    return dest


def scores(qrels: Path, run: Path) -> dict:
    import ir_measures
    from ir_measures import parse_measure

    ms = [parse_measure(m) for m in (*MEASURES, "RR@10", "Success@5")]
    qr, rn = list(ir_measures.read_trec_qrels(str(qrels))), list(ir_measures.read_trec_run(str(run)))
    agg = ir_measures.calc_aggregate(ms, qr, rn)
    out = {str(m): round(float(agg[m]), 4) for m in ms}
    per = {r.query_id: r.value for r in ir_measures.iter_calc([parse_measure("nDCG@10")], qr, rn)}
    judged = sorted({q.query_id for q in qr}, key=lambda q: (len(q), q))
    for name, half in (("tune", judged[0::2]), ("held_out", judged[1::2])):
        out[f"nDCG@10_{name}"] = round(sum(per.get(q, 0.0) for q in half) / max(1, len(half)), 4)
    return out


def fragments(db: Path, env: dict, work: Path, n: int, seed: int = 14) -> dict:
    """Known-item search: a random 3-6-word run of words of a random window paper's title
    should find that paper in the top 10 (success@10) and first (success@1), per mode."""
    import random
    import re

    rng = random.Random(seed)
    papers = [json.loads(line) for line in (work / "window.jsonl").open(encoding="utf-8")]
    qf, qr = work / "fragments.tsv", work / "fragments-qrels.txt"
    with qf.open("w") as q, qr.open("w") as r:
        for i, p in enumerate(rng.sample(papers, n)):
            words = re.findall(r"[^\W_]+", p["title"])
            size = min(len(words), rng.randint(3, 6))
            start = rng.randint(0, len(words) - size)
            q.write(f"f{i}\t{' '.join(words[start:start + size])}\n")
            r.write(f"f{i} 0 {p['id']} 1\n")
    import ir_measures
    from ir_measures import parse_measure

    res = {"queries": n, "seed": seed}
    for mode in ("lexical", "hybrid"):
        run = work / f"run-fragments-{mode}.txt"
        cli(db, env, "search", "--batch", str(qf), "--run-out", str(run), "--mode", mode, "--limit", "10")
        ms = [parse_measure("Success@10"), parse_measure("Success@1")]
        agg = ir_measures.calc_aggregate(ms, list(ir_measures.read_trec_qrels(str(qr))),
                                         list(ir_measures.read_trec_run(str(run))))
        res[mode] = {str(m): round(float(agg[m]), 4) for m in ms}
    print("title fragments:", json.dumps(res))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "arxiv-daily-2025-2026" / "records.jsonl.gz")
    ap.add_argument("--work", type=Path, default=ROOT / "var" / "bench-paraphrase")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "paraphrase.json")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--fragments", type=int, default=500, help="known-item queries (title fragments)")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    # the package's default model cache: the encoder measured is the one a user gets; one
    # database per encoder fingerprint, so a changed graph is embedded afresh
    env = dict(os.environ, PAPERWIRE_EMBED_MODEL=args.model, PYTHONPATH=str(ROOT))
    ident = encoder_identity(args.model, env)
    db = args.work / f"arxiv-window-{ident}.db"
    print(cli(db, env, "ingest", str(records(args.data, args.work / "window.jsonl"))).strip().splitlines()[-1])
    t = time.perf_counter()
    print(cli(db, env, "index").strip().splitlines()[-1], f"({time.perf_counter() - t:.0f}s)")
    questions = JUDGED / "paraphrase-questions.tsv"
    qrels = JUDGED / "paraphrase-qrels.txt"
    n = sum(1 for _ in questions.open())
    out: dict = {"questions": n, "papers_window": [FIRST, LAST], "model": args.model, "encoder": ident,
                 "load_average": list(os.getloadavg()), "runs": {}}
    for mode in ("lexical", "semantic", "hybrid"):
        run = args.work / f"run-{mode}.txt"
        log = cli(db, env, "search", "--batch", str(questions), "--run-out", str(run), "--mode", mode,
                  "--limit", "100", "--tag", mode)
        if f"modes used: {mode}" not in log:
            raise SystemExit(f"{mode}: the engine did not run in {mode} mode: {log}")
        out["runs"][mode] = scores(qrels, run) if qrels.exists() else {}
    cols = list(next(iter(out["runs"].values())).keys())
    print(f"{n} questions\n{'run':<10}" + "".join(f"{c.replace('nDCG@10_', ''):>11}" for c in cols))
    for mode, r in out["runs"].items():
        print(f"{mode:<10}" + "".join(f"{r[c]:>11.4f}" for c in cols))
    out["title_fragments"] = fragments(db, env, args.work, args.fragments)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
