"""Recommendation quality against the classic anchors, and speed at digest scale.

Data: ../shared/data/arxiv-daily-2025-2026/records.jsonl.gz (74,728 real arXiv listings,
2025-03-18 .. 2026-07-01), imported once into a throw-away paperwire store (--store).

Author readers (held-out authorship; recommenders see title + abstract + metadata of papers,
never the truth): a week W = seven listing days D1..D2; the candidates are every paper listed in
W (~1,500). A reader is an author (name, case-folded) with >= 3 papers listed before D1 and >= 1
paper in W; their profile = their 10 most recent earlier papers, as an imported library (each
"added" on its listing day); truth = their papers in W. --readers-per-week readers are sampled
per week (seed 7).

Splits (weeks Wednesday..Tuesday): tune = 2026-06-03..09 and 2026-06-17..23 (the fused
recommender's weights were chosen looking at these); report = 2026-06-10..16 and 2026-06-24..30
(the default). --split tune evaluates the tuning weeks instead.

Rankers, all on the same readers and candidates:
* ``paperwire``: the default recommender through ``paperwire.ranking.batch.run_batch`` — the code
  behind ``paperwire recommend --batch``, with the store's default settings;
* ``paperwire-text``: the same with setting rec_author_weight = 0 (text and categories only);
* ``tfidf-centroid``: TfidfVectorizer(strip_accents='unicode', lowercase=True, stop_words='english',
  token_pattern=r'(?u)\\b[a-zA-Z_][a-zA-Z0-9_]+\\b', ngram_range=(1,2), max_features=20000, min_df=5,
  max_df=0.1, sublinear_tf=True, norm='l2') fitted on all papers listed before D1; candidates
  ranked by cosine to the mean of the profile's rows;
* ``svm``: LinearSVC(C=0.01, class_weight='balanced', tol=1e-6, max_iter=10000) per reader on those
  rows, the profile as positives against every other paper listed before D1 (liblinear's dual
  solver: the same optimisation problem as the primal, several times faster here); every reader
  by default (--svm-readers N: a seeded subset), fitted in --jobs worker processes that share the
  matrices by fork; each reader's result is kept in --cache, so a run can be split
  (--anchors-only first) or resumed; its comparison is paired on the readers it has;
* ``minilm-max``: MiniLM (paperwire's bundled ONNX all-MiniLM-L6-v2) cosine of each candidate to
  its most similar profile paper (--no-minilm to skip).

Metrics per reader: recall@20 = |top-20 ∩ truth| / |truth|; nDCG@20 with binary gains; means with
standard errors, and paperwire's paired ratio / difference against each anchor.

Speed: one reader's recommendations with the window prepared (a warm "For you" page), and the
"For you" section of --digest-readers digest readers (profiles of up to 10 papers sampled from
authors with >= 2 earlier papers) scored together (Day.recommend_many: blocks of readers, shared
matrix products), including turning every profile paper into features.

    python bench/recommend.py                    # report split, 400 readers a week, SVM on all of them
    python bench/recommend.py --quick            # 100 readers a week, 20,000 digest readers
    python bench/recommend.py --split tune
    python bench/recommend.py --max-weeks 1 --svm-readers 30   # the split's first week only (a loaded machine)
    python bench/recommend.py --speed-only
    python bench/recommend.py --anchors-only --skip-weeks 1 --svm-readers 100   # fit the second week's anchors first

Prints a table and writes bench/results/recommend.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import io
import json
import math
import os
import platform
import random
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from paperwire.config import Settings  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "arxiv-daily-2025-2026" / "records.jsonl.gz"
K = 20
SPLITS = {"tune": [("2026-06-03", "2026-06-09"), ("2026-06-17", "2026-06-23")],
          "report": [("2026-06-10", "2026-06-16"), ("2026-06-24", "2026-06-30")]}


def load(path: Path) -> list[dict]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            title = " ".join(r["title"].split())
            out.append({"id": r["id"], "title": title, "text": title + ". " + " ".join((r.get("summary") or "").split()),
                        "authors": [a.strip() for a in r.get("authors") or [] if a.strip()], "day": r["listing_date"]})
    out.sort(key=lambda r: (r["day"], r["id"]))
    return out


def ndcg(ranked: list[str], truth: set[str], k: int = K) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, pid in enumerate(ranked[:k]) if pid in truth)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(truth))))
    return dcg / ideal if ideal else 0.0


def recall(ranked: list[str], truth: set[str], k: int = K) -> float:
    return len(set(ranked[:k]) & truth) / len(truth) if truth else 0.0


def week_readers(papers: list[dict], d1: str, d2: str, n: int, seed: int = 7):
    by_author: dict[str, list[dict]] = defaultdict(list)
    for p in papers:
        if p["day"] < d1:
            for a in p["authors"]:
                by_author[a.lower()].append(p)
    truth: dict[str, set[str]] = defaultdict(set)
    for p in papers:
        if d1 <= p["day"] <= d2:
            for a in p["authors"]:
                truth[a.lower()].add(p["id"])
    pool = sorted(a for a in truth if len(by_author.get(a, ())) >= 3)
    random.Random(f"{seed}-{d1}").shuffle(pool)
    return [(a, [(p["id"], p["day"]) for p in by_author[a][-10:]], truth[a]) for a in pool[:n]]


def store_for(path: Path, data: Path):
    """A paperwire store holding every record (imported once, reused on later runs)."""
    from paperwire.ingest import import_file
    from paperwire.store import open_store

    path.parent.mkdir(parents=True, exist_ok=True)
    st = open_store(path)
    if st.query_one("SELECT count(*) FROM papers")[0] < 70000:
        t = time.perf_counter()
        import_file(st, data, "listing")
        print(f"imported {data.name} into {path} in {time.perf_counter() - t:.0f} s", flush=True)
    return st


def run_paperwire(st, settings, readers, d1, d2) -> tuple[dict[str, list[str]], float]:
    from paperwire.ranking.batch import run_batch

    lines = [json.dumps({"reader": f"r{i}", "profile": [{"id": pid, "added": day} for pid, day in prof]})
             for i, (_, prof, _) in enumerate(readers)]
    out = io.StringIO()
    t = time.perf_counter()
    run_batch(st, settings, lines, d1, d2, None, out)
    el = time.perf_counter() - t
    ranked: dict[str, list[str]] = defaultdict(list)
    for line in out.getvalue().splitlines():
        name, _, pid, _, _, _ = line.split()
        if len(ranked[name]) < K:
            ranked[name].append(pid)
    return {f"r{i}": ranked[f"r{i}"] for i in range(len(readers))}, el


ANCHOR_VECTORIZER = dict(strip_accents='unicode', lowercase=True, stop_words='english',
                         token_pattern=r'(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b', ngram_range=(1, 2), max_features=20000,
                         min_df=5, max_df=0.1, sublinear_tf=True, norm='l2')


def anchor_matrices(papers, d1, d2, cache: Path):
    """The anchors' TF-IDF rows of every paper listed before D1 (X) and of the candidates (C),
    fitted exactly as specified; kept in `cache` (the fit takes ~2 minutes a week)."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    before = [p for p in papers if p["day"] < d1]
    cands = [p for p in papers if d1 <= p["day"] <= d2]
    fx, fc = cache / f"anchor-{d1}-X.npz", cache / f"anchor-{d1}-{d2}-C.npz"
    if fx.exists() and fc.exists():
        X, C = sp.load_npz(fx).tocsr(), sp.load_npz(fc).tocsr()
        if X.shape[0] == len(before) and C.shape[0] == len(cands):
            return before, cands, X, C
    t = time.perf_counter()
    vec = TfidfVectorizer(**ANCHOR_VECTORIZER)
    X = vec.fit_transform([p["text"] for p in before])
    C = vec.transform([p["text"] for p in cands])
    print(f"  anchor TF-IDF fitted on {len(before):,} papers in {time.perf_counter() - t:.0f} s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    sp.save_npz(fx, X)
    sp.save_npz(fc, C)
    return before, cands, X, C


_SVM: dict = {}


def _svm_one(rows: list[int]) -> tuple[list[int], float]:
    """One reader's LinearSVC exactly as specified (in a worker; X and C come by fork)."""
    from sklearn.svm import LinearSVC

    X, C = _SVM["X"], _SVM["C"]
    t = time.process_time()
    y = np.zeros(X.shape[0])
    y[rows] = 1
    clf = LinearSVC(C=0.01, class_weight='balanced', tol=1e-6, max_iter=10000, dual=True).fit(X, y)
    s = clf.decision_function(C)
    return [int(i) for i in np.lexsort((np.arange(len(s)), -s))[:K]], time.process_time() - t


def svm_runs(X, C, row, cids, readers, idx, d1, cache: Path, jobs: int) -> tuple[dict[int, list[str]], float]:
    """The SVM anchor's top K for readers `idx`: fitted in `jobs` worker processes (the fits are
    independent; the 69,000 x 20,000 matrix is shared by fork, not copied), each reader's result
    kept in `cache` by author and profile, so an interrupted or repeated run fits only the rest."""
    import multiprocessing as mp
    import warnings

    fn = cache / f"svm-{d1}.json"
    done = json.loads(fn.read_text()) if fn.exists() else {}
    key = {i: readers[i][0] + "|" + ",".join(pid for pid, _ in readers[i][1]) for i in idx}
    todo = [i for i in idx if key[i] not in done]
    cpu = 0.0
    if todo:
        _SVM.update(X=X, C=C)
        warnings.filterwarnings("ignore")
        t = time.perf_counter()
        ctx = mp.get_context("fork")
        with ctx.Pool(max(1, jobs)) as pool:
            for n, (i, (top, sec)) in enumerate(zip(todo, pool.imap(_svm_one, [[row[pid] for pid, _ in readers[i][1]]
                                                                             for i in todo])), 1):
                done[key[i]] = {"top": [cids[j] for j in top], "cpu_seconds": round(sec, 3)}
                cpu += sec
                if n % 25 == 0 or n == len(todo):
                    fn.write_text(json.dumps(done))
                    print(f"  svm anchor {d1}: {n}/{len(todo)} readers fitted, {time.perf_counter() - t:.0f} s",
                          flush=True)
    return {i: done[key[i]]["top"] for i in idx}, sum(done[key[i]]["cpu_seconds"] for i in idx)


def anchors(papers, readers, d1, d2, svm_idx, minilm, encoder_settings, cache: Path, jobs: int = 1):
    before, cands, X, C = anchor_matrices(papers, d1, d2, cache)
    cids = [p["id"] for p in cands]
    row = {p["id"]: i for i, p in enumerate(before)}
    out: dict[str, dict[int, list[str]]] = {"tfidf-centroid": {}, "svm": {}, "minilm-max": {}}
    times = {}

    def top(scores):
        order = np.lexsort((np.arange(len(scores)), -scores))[:K]
        return [cids[i] for i in order]

    for i, (_, prof, _) in enumerate(readers):
        rows = [row[pid] for pid, _ in prof]
        cen = np.asarray(X[rows].mean(axis=0)).ravel()
        out["tfidf-centroid"][i] = top(C @ cen / (np.linalg.norm(cen) or 1.0))
    if svm_idx:
        out["svm"], times["svm_cpu"] = svm_runs(X, C, row, cids, readers, svm_idx, d1, cache, jobs)
    if minilm:
        from paperwire.search.encoders import load_encoder

        enc = load_encoder(encoder_settings)
        info = {p["id"]: p for p in papers}
        prof_ids = sorted({pid for _, prof, _ in readers for pid, _ in prof})
        t = time.perf_counter()
        E = np.asarray(enc.encode([info[p]["text"] for p in cids + prof_ids]), np.float32)
        times["minilm_encode"] = time.perf_counter() - t
        Ec, Ep = E[:len(cids)], {pid: E[len(cids) + k] for k, pid in enumerate(prof_ids)}
        for i, (_, prof, _) in enumerate(readers):
            P = np.stack([Ep[pid] for pid, _ in prof])
            out["minilm-max"][i] = top((Ec @ P.T).max(axis=1))
    return out, times


def summarise(per: dict[str, dict[int, tuple[float, float]]], main: str = "paperwire") -> dict:
    res = {}
    for name, vals in per.items():
        if not vals:
            continue
        a = np.array(list(vals.values()))
        res[name] = {"readers": len(a), "recall@20": round(float(a[:, 0].mean()), 4),
                     "recall_se": round(float(a[:, 0].std(ddof=1) / math.sqrt(len(a))), 4) if len(a) > 1 else 0.0,
                     "ndcg@20": round(float(a[:, 1].mean()), 4),
                     "ndcg_se": round(float(a[:, 1].std(ddof=1) / math.sqrt(len(a))), 4) if len(a) > 1 else 0.0}
    paired = {}
    for who in (main, f"{main}-text"):
        for name, vals in per.items():
            if name.startswith("paperwire") or not vals:
                continue
            idx = sorted(vals)
            a = np.array([per[who][i] for i in idx])
            b = np.array([vals[i] for i in idx])
            d = a - b
            se = d.std(axis=0, ddof=1) / math.sqrt(len(idx)) if len(idx) > 1 else np.zeros(2)
            paired[f"{who} vs {name}"] = {
                "readers": len(idx), "recall_ratio": round(float(a[:, 0].mean() / max(b[:, 0].mean(), 1e-12)), 3),
                "ndcg_ratio": round(float(a[:, 1].mean() / max(b[:, 1].mean(), 1e-12)), 3),
                "recall_diff": round(float(d[:, 0].mean()), 4), "recall_diff_se": round(float(se[0]), 4),
                "ndcg_diff": round(float(d[:, 1].mean()), 4), "ndcg_diff_se": round(float(se[1]), 4),
                "anchor_recall@20": round(float(b[:, 0].mean()), 4), "anchor_ndcg@20": round(float(b[:, 1].mean()), 4),
                "paperwire_recall@20": round(float(a[:, 0].mean()), 4),
                "paperwire_ndcg@20": round(float(a[:, 1].mean()), 4)}
    return {"rankers": res, "paired": paired}


def speed(st, settings, papers, d1, d2, n_digest: int, n_page: int) -> dict:
    from paperwire.ranking import recommend as rec

    by_author: dict[str, list[str]] = defaultdict(list)
    for p in papers:
        if p["day"] < d1:
            for a in p["authors"]:
                by_author[a.lower()].append(p["id"])
    pool = sorted(a for a, v in by_author.items() if len(v) >= 2)
    rng = random.Random(3)
    readers = [rec.Reader({pid: 1.0 for pid in by_author[rng.choice(pool)][-10:]}) for _ in range(n_digest)]
    rec._DAYS.clear()
    t = time.perf_counter()
    day = rec.prepare_day(st, settings, d1, d2)
    _ = day.window
    t_prep = time.perf_counter() - t
    for rd in readers[:5]:  # warm: the window's features exist, as on a running site
        day.recommend(rd, "fused", K, settings)
    t = time.perf_counter()
    for rd in readers[5:5 + n_page]:
        day.recommend(rd, "fused", K, settings)
    page_ms = (time.perf_counter() - t) / n_page * 1000
    load_before = os.getloadavg()
    t, c = time.perf_counter(), time.process_time()
    n = 0
    for _ in day.recommend_many(readers, K, settings):
        n += 1
    t_all, c_all = time.perf_counter() - t, time.process_time() - c
    return {"candidates": len(day.cand_ids), "prepare_window_seconds": round(t_prep, 2),
            "page_ms_per_reader_warm": round(page_ms, 2), "digest_readers": n,
            "digest_seconds": round(t_all, 1), "digest_cpu_seconds": round(c_all, 1),
            "digest_ms_per_reader": round(t_all / max(n, 1) * 1000, 3),
            "load_average_before": load_before, "load_average": os.getloadavg()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--store", default="/tmp/paperwire-recbench/store.db")
    ap.add_argument("--split", choices=list(SPLITS), default="report")
    ap.add_argument("--readers-per-week", type=int, default=400)
    ap.add_argument("--svm-readers", type=int, default=0,
                    help="readers the SVM anchor is fitted for (a seeded subset; default 0 = every reader)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes fitting the SVM anchor")
    ap.add_argument("--cache", default="/tmp/paperwire-recbench/anchors",
                    help="folder for the anchors' TF-IDF matrices and the SVM anchor's per-reader results")
    ap.add_argument("--anchors-only", action="store_true",
                    help="only fit the anchors (TF-IDF and every SVM) into --cache, for a later run")
    ap.add_argument("--digest-readers", type=int, default=100000)
    ap.add_argument("--page-readers", type=int, default=200)
    ap.add_argument("--no-minilm", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--speed-only", action="store_true", help="only the speed part (writes --out)")
    ap.add_argument("--max-weeks", type=int, default=0, help="evaluate only the split's first N weeks")
    ap.add_argument("--skip-weeks", type=int, default=0, help="leave out the split's first N weeks")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "recommend.json"))
    args = ap.parse_args()
    if args.quick:
        args.readers_per_week, args.digest_readers = 100, 20000

    papers = load(Path(args.data))
    st = store_for(Path(args.store), Path(args.data))
    settings = Settings.load(env={}, db=args.store)
    text_only = dataclasses.replace(settings, rec_author_weight=0.0)
    per: dict[str, dict[int, tuple[float, float]]] = defaultdict(dict)
    weeks, timing = [], defaultdict(float)
    offset = 0
    weeks_used = SPLITS[args.split][args.skip_weeks:][:args.max_weeks or None] if not args.speed_only else []
    for d1, d2 in weeks_used:
        readers = week_readers(papers, d1, d2, args.readers_per_week)
        n_c = sum(d1 <= p["day"] <= d2 for p in papers)
        print(f"week {d1} .. {d2}: {n_c} candidates, {len(readers)} readers", flush=True)
        weeks.append({"from": d1, "to": d2, "candidates": n_c, "readers": len(readers)})
        n_svm = len(readers) if args.svm_readers <= 0 else min(len(readers), args.svm_readers // len(weeks_used))
        svm_idx = sorted(random.Random(f"svm-{d1}").sample(range(len(readers)), n_svm))
        if args.anchors_only:
            anchors(papers, readers, d1, d2, svm_idx, False, settings, Path(args.cache), args.jobs)
            continue
        runs = {}
        for name, s in (("paperwire", settings), ("paperwire-text", text_only)):
            runs[name], el = run_paperwire(st, s, readers, d1, d2)
            timing[f"{name}_batch_seconds"] += el
            print(f"  {name}: batch run {el:.1f} s", flush=True)
        anc, t_anc = anchors(papers, readers, d1, d2, svm_idx, not args.no_minilm, settings, Path(args.cache),
                             args.jobs)
        for k, v in t_anc.items():
            timing[k] += v
        for i, (_, _, truth) in enumerate(readers):
            for name in runs:
                ranked = runs[name][f"r{i}"]
                per[name][offset + i] = (recall(ranked, truth), ndcg(ranked, truth))
            for name, got in anc.items():
                if i in got:
                    per[name][offset + i] = (recall(got[i], truth), ndcg(got[i], truth))
        offset += len(readers)
    if args.anchors_only:
        return
    summary = summarise(per) if per else {"rankers": {}, "paired": {}}
    print(f"\n{args.split} split, {offset} readers (mean ± standard error):")
    for name, r in summary["rankers"].items():
        print(f"  {name:<15} recall@20 {r['recall@20']:.4f} ± {r['recall_se']:.4f}   "
              f"nDCG@20 {r['ndcg@20']:.4f} ± {r['ndcg_se']:.4f}   ({r['readers']} readers)")
    print("paired (same readers):")
    for name, r in summary["paired"].items():
        print(f"  {name:<36} recall x{r['recall_ratio']:.3f} (diff {r['recall_diff']:+.4f} ± {r['recall_diff_se']:.4f})"
              f"  nDCG x{r['ndcg_ratio']:.3f} (diff {r['ndcg_diff']:+.4f} ± {r['ndcg_diff_se']:.4f})  [{r['readers']}]")
    d1, d2 = SPLITS[args.split][-1]
    sp = speed(st, settings, papers, d1, d2, args.digest_readers, args.page_readers)
    print(f"speed ({sp['candidates']} candidates; load average {sp['load_average'][0]:.1f}): window prepared in "
          f"{sp['prepare_window_seconds']} s; one reader's page {sp['page_ms_per_reader_warm']} ms warm; "
          f"{sp['digest_readers']:,} digest readers in {sp['digest_seconds']} s wall, {sp['digest_cpu_seconds']} s CPU "
          f"({sp['digest_ms_per_reader']} ms each)")
    out = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
           "split": args.split, "weeks": weeks, "k": K, "quality": summary, "timing_seconds": dict(timing),
           "speed": sp, "settings": {"rec_method": settings.rec_method, "rec_author_weight": settings.rec_author_weight}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
