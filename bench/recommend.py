"""Offline evaluation of the recommenders on the real arXiv listings, and their speed.

Data: ../shared/data/arxiv-daily-2025-2026/records.jsonl.gz (74,728 real listings,
2025-03-18 .. 2026-07-01). "The day" = the 1,000 most recently listed papers (the last
listing days); "history" = every paper listed before them.

Protocol (simulated readers whose true interests are known independently of the recommender):
the recommenders see only title + abstract text (TF-IDF) of the papers and the reader's
profile papers; the ground truth is defined from authorship or arXiv categories, which the
recommenders never see (no follows are set in this benchmark).

* Author readers ("a researcher and their group"): a seed author A with >= 3 papers in
  history. Profile = A's history papers (as an imported library, each dated by its listing day,
  at most the 50 newest). Truth = the day's papers written by A or by a close collaborator of
  A (someone who co-authored >= 2 history papers with A; papers with > 30 authors ignored). Readers with no truth paper in the day are dropped; 1,000 are sampled
  (seed 7).
* Category readers ("someone who reads one arXiv category"): for each category with >= 40
  history papers and >= 5 papers in the day, excluding the five largest (cs.CV, cs.CL, cs.AI,
  cs.LG and the next; nearly everything is in them): profile = 15 random history papers
  carrying that category; truth = the day's papers carrying it.

Metrics per reader, averaged: recall@20 = |top-20 ∩ truth| / |truth|; nDCG@20 with binary gains.

Rankers:
* random: a seeded random order of the day (chance level).
* popularity: one non-personal order for everyone. The data carries no votes or stars, so the
  popularity proxy is an "attention" score from the metadata, deliberately not using authors
  (which define the author readers' truth): code released (a github.com link) + a venue or
  acceptance named in the comment + 0.5 for a project page; ties broken by id. The blend
  recommender uses the same score as its "trending" prior, standing in for rank.trending.
* similarity, classifier, blend: paperwire.ranking.recommend.Day, exactly as the site uses it.

Speed: the time to produce top-20 recommendations for 10,000 readers (author readers with >= 2
history papers, seeded sample; profiles of up to 50 papers) over the 1,000-paper day, for each
recommender, including preparing the day (TF-IDF fit/transform of the day, background and all
profile papers). All readers are timed for every recommender by default; with
--speed-classifier N < --readers the classifier/blend are timed on N readers and scaled (the
output says so).

    python bench/recommend.py                 # evaluation + speed for 10,000 readers
    python bench/recommend.py --quick         # 200 author readers, 1,000-reader speed run
    python bench/recommend.py --features embeddings --out bench/results/recommend-embeddings.json
                                              # the same evaluation over MiniLM vectors (no speed run)

Prints a table and writes bench/results/recommend.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import random
import re
import resource
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from paperwire.config import Settings  # noqa: E402
from paperwire.ranking.recommend import BACKGROUND, Day, Reader  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "arxiv-daily-2025-2026" / "records.jsonl.gz"
K = 20


def load(path: Path) -> list[dict]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out.append({"id": r["id"], "title": " ".join(r["title"].split()),
                        "text": " ".join(r["title"].split()) + ". " + " ".join((r.get("summary") or "").split()),
                        "authors": [a.strip() for a in r.get("authors") or [] if a.strip()],
                        "categories": r.get("categories") or [], "day": r["listing_date"],
                        "comment": r.get("comment") or ""})
    out.sort(key=lambda r: (r["day"], r["id"]))
    return out


VENUE = re.compile(r"\b(accepted|to appear|published|camera[- ]ready|oral|spotlight|CVPR|ICCV|ECCV|NeurIPS|ICLR|ICML|"
                   r"ACL|EMNLP|NAACL|AAAI|IJCAI|KDD|SIGIR|WWW|ICRA|IROS|MICCAI|TPAMI)\b", re.I)


def attention(p: dict) -> float:
    """Popularity proxy without votes and without authorship (authorship defines the truth of the
    author readers): released code, a venue named in the comment, and a project page."""
    text = p["text"] + " " + p["comment"]
    return (1.0 * ("github.com" in text) + 1.0 * bool(VENUE.search(p["comment"]))
            + 0.5 * ("project page" in text.lower() or "github.io" in text))


def ndcg(ranked: list[str], truth: set[str], k: int = K) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, pid in enumerate(ranked[:k]) if pid in truth)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(truth))))
    return dcg / ideal if ideal else 0.0


def recall(ranked: list[str], truth: set[str], k: int = K) -> float:
    return len(set(ranked[:k]) & truth) / len(truth) if truth else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--day-size", type=int, default=1000)
    ap.add_argument("--eval-readers", type=int, default=1000)
    ap.add_argument("--readers", type=int, default=10000, help="readers in the speed run")
    ap.add_argument("--speed-classifier", type=int, default=10000,
                    help="readers timed for the classifier/blend (scaled to --readers)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--features", choices=["tfidf", "embeddings"], default="tfidf",
                    help="embeddings: MiniLM vectors (paperwire.search.encoders, setting embed_model); evaluation only, "
                         "no speed run (encoding 30,000 profile papers on 2 CPU cores is the bottleneck)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "recommend.json"))
    args = ap.parse_args()
    if args.quick:
        args.eval_readers, args.readers, args.speed_classifier = 200, 1000, 300
    settings = Settings()

    t0 = time.perf_counter()
    papers = load(Path(args.data))
    day_papers = papers[-args.day_size:]
    history = papers[: len(papers) - args.day_size]
    day_ids = [p["id"] for p in day_papers]
    info = {p["id"]: p for p in papers}
    now = datetime.fromisoformat(day_papers[-1]["day"]).replace(tzinfo=timezone.utc)
    print(f"{len(papers):,} papers loaded in {time.perf_counter() - t0:.1f} s; day = {len(day_ids)} papers "
          f"listed {day_papers[0]['day']} .. {day_papers[-1]['day']}; history = {len(history):,}")

    # -- who wrote what ---------------------------------------------------------------------------
    by_author: dict[str, list[str]] = defaultdict(list)
    joint: dict[str, Counter] = defaultdict(Counter)
    for p in history:
        names = [a.lower() for a in p["authors"]]
        for a in names:
            by_author[a].append(p["id"])
            if len(names) <= 30:  # huge collaborations would make everyone everyone's co-author
                joint[a].update(n for n in names if n != a)
    day_by_author: dict[str, set[str]] = defaultdict(set)
    for p in day_papers:
        for a in p["authors"]:
            day_by_author[a.lower()].add(p["id"])

    def half_life_weight(pid: str) -> float:
        age = (now - datetime.fromisoformat(info[pid]["day"]).replace(tzinfo=timezone.utc)).days
        return 0.5 ** (age / settings.rec_half_life_days)

    def reader_of(pids: list[str]) -> Reader:
        pids = pids[-50:]
        return Reader({pid: half_life_weight(pid) for pid in pids}, {pid: "import" for pid in pids})

    rng = random.Random(7)
    # -- author readers ------------------------------------------------------------------------------
    author_readers = []
    for a, pids in by_author.items():
        if len(pids) < 3:
            continue
        net = {a} | {b for b, n in joint[a].items() if n >= 2}
        truth = set().union(*(day_by_author.get(x, set()) for x in net))
        if truth:
            author_readers.append((a, pids, truth))
    author_readers.sort(key=lambda x: x[0])
    rng.shuffle(author_readers)
    author_readers = author_readers[: args.eval_readers]

    # -- category readers -----------------------------------------------------------------------------
    hist_cat: dict[str, list[str]] = defaultdict(list)
    for p in history:
        for c in p["categories"]:
            hist_cat[c].append(p["id"])
    day_cat: dict[str, set[str]] = defaultdict(set)
    for p in day_papers:
        for c in p["categories"]:
            day_cat[c].add(p["id"])
    biggest = {c for c, _ in Counter({c: len(v) for c, v in hist_cat.items()}).most_common(5)}
    cat_readers = []
    for c in sorted(hist_cat):
        if c in biggest or len(hist_cat[c]) < 40 or len(day_cat.get(c, ())) < 5:
            continue
        prof = sorted(rng.sample(hist_cat[c], 15), key=lambda pid: info[pid]["day"])
        cat_readers.append((c, prof, day_cat[c]))
    print(f"readers: {len(author_readers)} author readers, {len(cat_readers)} category readers "
          f"(largest categories left out: {', '.join(sorted(biggest))})")

    # -- popularity proxy and the prepared day -----------------------------------------------------------
    pop = {pid: attention(info[pid]) for pid in day_ids}
    t = time.perf_counter()
    bg = [p["id"] for p in history[-BACKGROUND:]]
    feats = None
    if args.features == "embeddings":
        import tempfile

        from paperwire.search.encoders import load_encoder
        from paperwire.ranking.recommend import EncoderFeatures

        cache_dir = os.environ.get("PAPERWIRE_DATA_DIR") or tempfile.mkdtemp(prefix="recbench-")
        feats = EncoderFeatures(load_encoder(Settings(data_dir=cache_dir)))
    day = Day(day_ids, {i: info[i] for i in day_ids + bg}, bg, trend=pop, features=feats,
              text_lookup=lambda ids: {i: info[i] for i in ids if i in info})
    if feats is not None:  # encode every evaluation profile paper up front, timed with the day
        day.prepare([pid for rs in (author_readers, cat_readers) for _, pids, _ in rs for pid in pids[-50:]])
    t_day = time.perf_counter() - t
    what = (f"TF-IDF over {len(day_ids) + len(bg)} papers, {len(day.features.terms):,} terms" if feats is None
            else f"{args.features}: {len(day._row_of):,} papers encoded")
    print(f"day prepared ({what}) in {t_day:.2f} s")

    rand_order = list(day_ids)
    random.Random(11).shuffle(rand_order)
    pop_order = sorted(day_ids, key=lambda i: (-pop[i], i))

    def evaluate(readers, name):
        res = {}
        for method in ("random", "popularity", "similarity", "classifier", "blend"):
            r_sum = n_sum = 0.0
            t = time.perf_counter()
            for _, pids, truth in readers:
                rd = reader_of(pids)
                if method == "random":
                    ranked = [x for x in rand_order if x not in rd.positives]
                elif method == "popularity":
                    ranked = [x for x in pop_order if x not in rd.positives]
                else:
                    ranked = [r.paper_id for r in day.recommend(rd, method, K, settings)]
                truth_eff = truth - set(rd.positives)
                r_sum += recall(ranked, truth_eff)
                n_sum += ndcg(ranked, truth_eff)
            n = max(1, len(readers))
            res[method] = {"recall@20": round(r_sum / n, 4), "ndcg@20": round(n_sum / n, 4),
                           "seconds": round(time.perf_counter() - t, 2)}
            print(f"  {name:<9} {method:<11} recall@20 {r_sum / n:.4f}  nDCG@20 {n_sum / n:.4f}")
        return res

    print("evaluation:")
    quality = {"author_readers": evaluate(author_readers, "author"),
               "category_readers": evaluate(cat_readers, "category")}
    truth_sizes = [len(t - set(p[-50:])) for _, p, t in author_readers]

    # -- speed: 10,000 readers over the day ---------------------------------------------------------------
    if args.features != "tfidf":
        out = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "features": args.features,
               "prepare_seconds": round(t_day, 1), "encoded_papers": len(day._row_of), "k": K, "quality": quality,
               "readers": {"author": len(author_readers), "category": len(cat_readers)}}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
        print(f"saved {args.out}")
        return
    speed_pool = sorted((a, pids) for a, pids in by_author.items() if len(pids) >= 2)
    random.Random(3).shuffle(speed_pool)
    speed_readers = [reader_of(pids) for _, pids in speed_pool[: args.readers]]
    n_readers = len(speed_readers)
    t = time.perf_counter()
    day2 = Day(day_ids, {i: info[i] for i in day_ids + bg}, bg, trend=pop,
               text_lookup=lambda ids: {i: info[i] for i in ids if i in info})
    day2.prepare([pid for r in speed_readers for pid in r.positives])
    t_prep = time.perf_counter() - t
    speed = {"readers": n_readers, "day_papers": len(day_ids), "prepare_seconds": round(t_prep, 2),
             "profile_papers": len({pid for r in speed_readers for pid in r.positives})}
    print(f"speed ({n_readers:,} readers, {len(day_ids)} papers; preparing the day and "
          f"{speed['profile_papers']:,} profile papers: {t_prep:.1f} s):")
    for method in ("similarity", "classifier", "blend"):
        n = n_readers if method == "similarity" else min(n_readers, args.speed_classifier)
        t = time.perf_counter()
        for rd in speed_readers[:n]:
            day2.recommend(rd, method, K, settings)
        el = time.perf_counter() - t
        per = el / n
        total = per * n_readers + t_prep
        speed[method] = {"timed_readers": n, "seconds_timed": round(el, 2), "ms_per_reader": round(per * 1000, 2),
                         "seconds_for_all_readers_incl_prepare": round(total, 1),
                         "extrapolated": n < n_readers}
        print(f"  {method:<11} {per * 1000:7.2f} ms/reader -> {total:7.1f} s for {n_readers:,} readers "
              f"(incl. prepare){' [timed on ' + format(n, ',') + ', scaled]' if n < n_readers else ''}")

    out = {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "data": {"file": str(Path(args.data).name), "papers": len(papers), "day": [day_papers[0]["day"], day_papers[-1]["day"]],
                 "day_papers": len(day_ids), "history_papers": len(history)},
        "readers": {"author": len(author_readers), "category": len(cat_readers),
                    "author_truth_size_median": float(np.median(truth_sizes)) if truth_sizes else 0},
        "features": "tfidf", "k": K, "quality": quality, "speed": speed,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "settings": {"rec_half_life_days": settings.rec_half_life_days, "rec_trend_prior": settings.rec_trend_prior},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"peak RSS {out['peak_rss_mb']} MB; saved {args.out}")


if __name__ == "__main__":
    main()
