"""Choose hybrid search's fusion settings (paperwire/search/fuse.py) on tuning halves only.

Two judged collections, each split by position in id order: the odd-numbered queries (1st,
3rd, ...) tune, the even-numbered ones are held out and never looked at while choosing:

  * CACM (52 judged queries over 3,204 abstracts; bench/quality.py prepares it);
  * the paraphrased questions of bench/judged/ (34 questions over 2,959 arXiv papers;
    bench/paraphrase.py prepares it).

Each setting of a small grid runs the real engine (``SearchEngine.search``, mode hybrid, 10
results from the same 100 candidates per side) with ``engine.fusion`` set to it; the objective is the sum of the two tuning halves'
nDCG@10 (so neither collection can be given up for the other). Prints the grid's best rows with
the held-out figures beside them and saves bench/results/fusion.json; the chosen row is what
``fuse.DEFAULT`` should hold.

    python bench/quality.py && python bench/paraphrase.py    # build the two databases once
    python bench/fusion.py
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import ROOT, default_data, encoder_identity, read_qrels, read_queries  # noqa: E402

GRID = {
    "low": (0.1, 0.2),
    "high": (0.4, 0.5, 0.6),
    "names": (0.0, 0.2, 0.4),
    "feedback": ((3, 0.3), (5, 0.5)),
}


def ndcg10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / ideal if ideal else 0.0


class Collection:
    """One judged collection searched through the engine; query vectors are encoded once."""

    def __init__(self, name: str, db: Path, queries: dict[str, str], qrels: dict[str, set[str]], model: str):
        from paperwire.config import Settings
        from paperwire.search.engine import SearchEngine
        from paperwire.store import open_store

        settings = Settings.load(env={}, db=str(db), embed_model=model, encode_timeout=600.0)
        self.name, self.store = name, open_store(settings)
        self.engine = SearchEngine(self.store, settings)
        order = sorted(qrels, key=lambda q: (len(q), q))
        self.qids = [q for q in order if q in queries]
        self.tune, self.held = self.qids[0::2], self.qids[1::2]
        self.queries, self.qrels = queries, qrels

    def run(self, fusion=None, mode: str = "hybrid") -> dict[str, float]:
        if fusion is not None:
            self.engine.fusion = fusion
        per = {}
        for q in self.qids:
            r = self.engine.search(self.queries[q], mode=mode, limit=10)  # the same 100 candidates
            if r.mode != mode:
                raise SystemExit(f"{self.name} {q}: ran in {r.mode} mode ({r.fallback})")
            per[q] = ndcg10([h.paper_id for h in r.hits], self.qrels[q])
        mean = lambda qs: round(sum(per[q] for q in qs) / len(qs), 4)  # noqa: E731
        return {"all": mean(self.qids), "tune": mean(self.tune), "held_out": mean(self.held)}


def collections(model: str) -> list[Collection]:
    env = dict(os.environ, PAPERWIRE_EMBED_MODEL=model)
    ident = encoder_identity(model, env)
    cacm_db = ROOT / "var" / "bench-quality" / f"cacm-{ident}.db"
    para_db = ROOT / "var" / "bench-paraphrase" / f"arxiv-window-{ident}.db"
    for db, script in ((cacm_db, "quality.py"), (para_db, "paraphrase.py")):
        if not db.exists():
            raise SystemExit(f"{db} is missing: run python bench/{script} first (encoder {ident})")
    data = default_data()
    cq = read_queries(data / "query.text")
    cr: dict[str, set[str]] = {}
    for q, d, _ in read_qrels(data / "qrels.text", "cacm"):
        cr.setdefault(q, set()).add(d)
    judged = ROOT / "bench" / "judged"
    pq = dict(line.rstrip("\n").split("\t", 1) for line in (judged / "paraphrase-questions.tsv").open())
    pr: dict[str, set[str]] = {}
    for line in (judged / "paraphrase-qrels.txt").open():
        q, _, d, rel = line.split()
        if int(rel) > 0:
            pr.setdefault(q, set()).add(d)
    return [Collection("cacm", cacm_db, cq, cr, model), Collection("paraphrase", para_db, pq, pr, model)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fusion.json")
    args = ap.parse_args()
    from paperwire.search.fuse import DEFAULT

    cols = collections(args.model)
    out: dict = {"model": args.model, "load_average": list(os.getloadavg()), "single": {}, "grid": []}
    for c in cols:
        out["single"][c.name] = {m: c.run(mode=m) for m in ("lexical", "semantic")}
        out["single"][c.name]["default"] = c.run(DEFAULT)
        print(c.name, json.dumps(out["single"][c.name]), flush=True)
    t = time.perf_counter()
    keys = list(GRID)
    for values in itertools.product(*(GRID[k] for k in keys)):
        row = dict(zip(keys, values))
        docs, beta = row.pop("feedback")
        fusion = dataclasses.replace(DEFAULT, feedback_docs=docs, feedback_beta=beta, **row)
        res = {c.name: c.run(fusion) for c in cols}
        print(f"  {row} feedback {docs}/{beta}: " + " ".join(f"{k} {v}" for k, v in res.items()), flush=True)
        out["grid"].append({"fusion": dataclasses.asdict(fusion), **res,
                            "objective": round(sum(r["tune"] for r in res.values()), 4)})
    out["grid"].sort(key=lambda r: -r["objective"])
    out["grid_seconds"] = round(time.perf_counter() - t, 1)
    print(f"{len(out['grid'])} settings in {out['grid_seconds']}s; best by the tuning halves:")
    for r in out["grid"][:10]:
        f = r["fusion"]
        print(f"  tune {r['objective']:.4f} | cacm {r['cacm']} | paraphrase {r['paraphrase']} | "
              f"low {f['low']} high {f['high']} agree_low {f['agree_low']} names {f['names']} "
              f"feedback {f['feedback_docs']}/{f['feedback_beta']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
