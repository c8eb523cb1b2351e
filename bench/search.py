"""Search speed and size at scale: build times, embedding throughput, index size on disk,
RSS of the searching process, query latency p50/p95/p99 per mode, ANN recall@10.

The corpus is the shared arXiv listing records (74,728), minus 1,000 held back whose
titles and title fragments are the queries, plus generated papers up to --n: each
generated paper recombines real titles' and abstracts' sentences from the shared
records (so lengths and vocabulary are realistic). Paper vectors come from the static
tier (model2vec distilled from MiniLM) at this scale: embedding 1M abstracts with MiniLM
would take ~7 h on 2 cores. MiniLM's own throughput is measured on --embed-sample real
abstracts, and its query-encoding latency on the benchmark queries.

    python bench/search.py --n 74728             # the shared records only
    python bench/search.py --n 1000000           # 1M papers (long: ~1 h on 2 shared cores)
Saves bench/results/search-<n>.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data" / "arxiv-daily-2025-2026" / "records.jsonl.gz"


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def load_records(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def make_queries(held: list[dict], n: int, rng: random.Random) -> list[str]:
    """Full titles and 3-6 word fragments of held-back papers' titles, alternating."""
    out = []
    for i, r in enumerate(held[:n]):
        words = " ".join(r["title"].split()).split(" ")
        if i % 2 == 0 or len(words) <= 4:
            out.append(" ".join(words))
        else:
            k = rng.randint(3, min(6, len(words)))
            s = rng.randint(0, len(words) - k)
            out.append(" ".join(words[s:s + k]))
    return out


class Generator:
    """Papers recombined from real text, with their vectors.

    A generated paper splices two real titles and strings 4-9 real abstract sentences
    together (realistic lengths and vocabulary). Its vector is built from precomputed
    static-tier vectors of those titles and sentences (the static model mean-pools token
    vectors, so the mean of its parts' vectors approximates the vector of the whole text):
    encoding ~1M abstracts one by one would dominate the benchmark's time.
    """

    def __init__(self, records: list[dict], encoder, rng: random.Random, pool: int = 20000):
        import numpy as np

        self.rng = rng
        self.sentences = []
        for r in records[:pool]:
            self.sentences.extend(s.strip().rstrip(".") + "." for s in r.get("summary", "").replace("\n", " ").split(". ")
                                  if len(s) > 30)
        self.sentences = self.sentences[: pool * 2]
        self.titles = [" ".join(r["title"].split()) for r in records[:pool]]
        self.authors = [a for r in records[:pool] for a in r.get("authors", [])][:100000]
        self.cats = [r.get("categories") or ["cs.LG"] for r in records[:pool]]
        t = time.perf_counter()
        self.svec = encoder.encode(self.sentences).astype(np.float32)
        self.tvec = encoder.encode(self.titles).astype(np.float32)
        print(f"  encoded {len(self.sentences)} sentences + {len(self.titles)} titles for generation "
              f"in {time.perf_counter() - t:.1f}s", flush=True)

    def batch(self, start: int, count: int):
        import numpy as np

        from paperwire.models import Paper

        papers, vecs = [], np.zeros((count, self.svec.shape[1]), dtype=np.float32)
        rng = self.rng
        for j in range(count):
            a, b = rng.randrange(len(self.titles)), rng.randrange(len(self.titles))
            t1, t2 = self.titles[a].split(), self.titles[b].split()
            cut1, cut2 = rng.randint(1, max(1, len(t1) - 1)), rng.randint(0, max(0, len(t2) - 1))
            sidx = [rng.randrange(len(self.sentences)) for _ in range(rng.randint(4, 9))]
            day = f"20{rng.randint(10, 24):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            papers.append(Paper(id=f"gen:{start + j}", title=" ".join(t1[:cut1] + t2[cut2:]),
                                abstract=" ".join(self.sentences[i] for i in sidx),
                                authors=rng.sample(self.authors, rng.randint(1, 6)),
                                categories=list(rng.choice(self.cats)), published=day + "T00:00:00Z", listed=day))
            v = self.svec[sidx].mean(0) + 0.6 * self.tvec[a] + 0.4 * self.tvec[b]
            vecs[j] = v / (np.linalg.norm(v) or 1.0)
        return papers, vecs


def dbstat_sizes(store) -> dict:
    rows = store.query("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
    sizes = {r[0]: r[1] for r in rows}
    fts = sum(v for k, v in sizes.items() if k.startswith("papers_fts"))
    vec = sum(v for k, v in sizes.items() if k.startswith("paper_vectors"))
    return {"fts_bytes": fts, "vectors_table_bytes": vec, "all_tables_bytes": sum(sizes.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=74728, help="papers in the index (shared records + generated)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--embed-sample", type=int, default=5000, help="real abstracts for MiniLM throughput (0: skip)")
    ap.add_argument("--recall-queries", type=int, default=200)
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default var/bench-search-<n>; reused)")
    ap.add_argument("--records", type=Path, default=SHARED)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--build-only", action="store_true", help="stop after building the store and the indexes")
    ap.add_argument("--lexical-only", action="store_true",
                    help="sync the tantivy index and time lexical search only (no vectors)")
    ap.add_argument("--out", type=Path, default=None, help="result file (default bench/results/search-<n>.json)")
    ap.add_argument("--fts-queries", type=int, default=100, help="queries timed on FTS5 alone when tantivy is in use")
    args = ap.parse_args()

    import numpy as np
    import psutil

    from paperwire.config import Settings
    from paperwire.ingest import run_import
    from paperwire.ingest.listing import parse_listing
    from paperwire.search import indexer
    from paperwire.search.engine import SearchEngine
    from paperwire.store import open_store
    from paperwire.store import search_index as idx

    rng = random.Random(args.seed)
    work = args.work or ROOT / "var" / f"bench-search-{args.n}"
    work.mkdir(parents=True, exist_ok=True)
    proc = psutil.Process()
    res: dict = {"n_target": args.n, "cpus": os.cpu_count(), "steps": {}, "complete": False}
    out = args.out or ROOT / "bench" / "results" / f"search-{args.n}.json"
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every step: a long run cut short still leaves its figures
        res["load_average_now"] = [round(x, 2) for x in os.getloadavg()]
        out.write_text(json.dumps(res, indent=2))

    records = load_records(args.records)
    held_ids = {r["id"] for i, r in enumerate(records) if i % 74 == 0}
    held = [r for r in records if r["id"] in held_ids]
    rng.shuffle(held)
    queries = make_queries(held, args.queries, rng)
    settings = Settings.load(env={}, db=str(work / "bench.db"), embed_model="static",
                             model_cache=str(ROOT / "var" / "models"), encode_timeout=30.0)
    store = open_store(settings)

    # 1. the shared records (minus held-back ones) through the real listing parser
    have = idx.doc_count(store)
    if have == 0:
        kept = work / "kept.jsonl.gz"
        with gzip.open(kept, "wt", encoding="utf-8") as fh:
            for r in records:
                if r["id"] not in held_ids:
                    fh.write(json.dumps(r) + "\n")
        t = time.perf_counter()
        summ = run_import(store, parse_listing(kept), source="listing", batch_size=2000)
        res["steps"]["ingest_shared_s"] = round(time.perf_counter() - t, 1)
        print(f"ingested shared records: {summ.line()} in {res['steps']['ingest_shared_s']}s", flush=True)
        have = idx.doc_count(store)
    # 2. generated papers up to n, with their vectors stored the way the indexer stores them
    engine = SearchEngine(store, settings)
    if have < args.n:
        from paperwire.store.papers import upsert_papers
        from paperwire.text import display_text

        gen = Generator(records, engine.vectors.encoder, random.Random(args.seed + have))
        name = engine.vectors.encoder.name
        t = time.perf_counter()
        n_gen = args.n - have
        done = 0
        while done < n_gen:
            papers, vecs = gen.batch(have + done, min(5000, n_gen - done))
            with store.transaction() as conn:
                upsert_papers(store, papers, source="generated", conn=conn)
            docs = idx.docs_for_papers(store, [p.id for p in papers])
            rows = [(docs[p.id], idx.text_hash(idx.embed_text(display_text(p.title), display_text(p.abstract))))
                    for p in papers]
            idx.save_vectors(store, name, rows, vecs)
            done += len(papers)
            if done % 100000 < 5000:
                print(f"  generated {done}/{n_gen} ({done / (time.perf_counter() - t):.0f}/s)", flush=True)
        res["steps"]["generate_insert_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        idx.optimize_lexical(store)
        res["steps"]["fts_optimize_s"] = round(time.perf_counter() - t, 1)
    res["papers"] = idx.doc_count(store)
    print(f"papers: {res['papers']}", flush=True)

    if args.lexical_only:
        t = time.perf_counter()
        res["lexical_sync"] = indexer.sync_lexical(store, settings, engine=engine)
        res["steps"]["lexical_sync_s"] = round(time.perf_counter() - t, 1)
        print(f"lexical sync: {res['lexical_sync']}", flush=True)
        save()
        engine = SearchEngine(store, settings)
        for q in queries[:50]:
            engine.search(q, mode="lexical", limit=10)
        modes_timed = ("lexical",)
    else:
        modes_timed = ("lexical", "semantic", "hybrid")
    # 3. vectors of the real papers (static tier) + the ANN index over all
    t = time.perf_counter()
    r = {} if args.lexical_only else indexer.refresh(store, settings, engine=engine, progress=lambda stage, d, tot: print(f"  {stage} {d}/{tot}", flush=True) if d % 50000 < 256 else None)
    res["steps"]["embed_static_and_index_s"] = round(time.perf_counter() - t, 1)
    res["refresh"] = r
    print(f"refresh: {r} in {res['steps']['embed_static_and_index_s']}s", flush=True)
    save()
    if args.build_only:
        print(json.dumps(res, indent=2))
        return
    import gc

    if not args.lexical_only:
        del engine
        gc.collect()

    # 4. a fresh searching engine in this process: load from disk, warm up, time each mode
    if not args.lexical_only:
        t = time.perf_counter()
        engine = SearchEngine(store, settings)
        engine.vectors.size()
        res["steps"]["index_load_s"] = round(time.perf_counter() - t, 2)
        for q in queries[:50]:
            for mode in modes_timed:
                engine.search(q, mode=mode, limit=10)
    lat: dict = {}
    for mode in modes_timed:
        xs = []
        for q in queries:
            t = time.perf_counter()
            found = engine.search(q, mode=mode, limit=10)
            xs.append((time.perf_counter() - t) * 1000)
            assert found.mode == mode, (mode, found.fallback)
        lat[mode] = {"p50_ms": round(pct(xs, 50), 2), "p95_ms": round(pct(xs, 95), 2), "p99_ms": round(pct(xs, 99), 2),
                     "mean_ms": round(sum(xs) / len(xs), 2)}
        print(f"{mode:<9} p50 {lat[mode]['p50_ms']:7.2f} ms  p95 {lat[mode]['p95_ms']:7.2f} ms  p99 {lat[mode]['p99_ms']:7.2f} ms",
              flush=True)
    res["lexical_engine"] = "tantivy" if engine._fast_index() is not None else "fts5"
    if res["lexical_engine"] == "tantivy" and args.fts_queries > 0:
        # the same queries on SQLite FTS5 alone, for comparison
        import dataclasses

        fts_engine = SearchEngine(store, dataclasses.replace(settings, fast_lexical_above=0))
        xs = []
        for q in queries[: args.fts_queries]:
            t = time.perf_counter()
            fts_engine.search(q, mode="lexical", limit=10)
            xs.append((time.perf_counter() - t) * 1000)
        lat["lexical_fts5_only"] = {"p50_ms": round(pct(xs, 50), 2), "p95_ms": round(pct(xs, 95), 2),
                                    "p99_ms": round(pct(xs, 99), 2), "queries": len(xs)}
        print(f"lexical on FTS5 alone ({len(xs)} queries): p50 {lat['lexical_fts5_only']['p50_ms']} ms "
              f"p95 {lat['lexical_fts5_only']['p95_ms']} ms", flush=True)
    res["latency"] = lat
    # CPU contention at the time (other processes on the machine): load average over 1/5/15 min
    res["load_average"] = [round(x, 2) for x in os.getloadavg()]
    res["rss_bytes_searching"] = proc.memory_info().rss
    save()
    print(f"RSS of the searching process: {res['rss_bytes_searching'] / 2**20:.0f} MiB", flush=True)

    if args.lexical_only:
        res["complete"] = True
        save()
        print(f"saved {out}")
        return
    # 5. ANN recall@10 against exact search (streamed from the store: no second copy in RAM)
    vs = engine.vectors
    res["index_kind"] = vs._index.kind
    qv = np.stack([vs.encode_query(q) for q in queries[: args.recall_queries]])
    if vs._index.kind == "hnsw":
        best_s = np.full((len(qv), 10), -np.inf, dtype=np.float32)
        best_i = np.zeros((len(qv), 10), dtype=np.int64)
        for ids, mat in idx.iter_vectors(store, vs.encoder.name, 0, batch=50000):
            s = qv @ mat.T
            cs = np.concatenate([best_s, s], axis=1)
            ci = np.concatenate([best_i, np.broadcast_to(ids, s.shape)], axis=1)
            top = np.argpartition(-cs, 9, axis=1)[:, :10]
            best_s = np.take_along_axis(cs, top, 1)
            best_i = np.take_along_axis(ci, top, 1)
        rec = []
        for i in range(len(qv)):
            got, _ = vs._index.search(qv[i], 10)
            rec.append(len(set(got.tolist()) & set(best_i[i].tolist())) / 10)
        res["ann_recall_at_10"] = round(float(np.mean(rec)), 4)
        print(f"ANN recall@10 vs exact: {res['ann_recall_at_10']}", flush=True)
        save()

    # 6. sizes on disk
    sizes = dbstat_sizes(store)
    faiss_files = list((settings.data_path / "vectors").glob("*.faiss"))
    sizes["ann_file_bytes"] = sum(f.stat().st_size for f in faiss_files)
    sizes["db_file_bytes"] = Path(settings.db).stat().st_size
    res["disk"] = sizes
    print("disk: " + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in sizes.items()), flush=True)

    # 7. MiniLM (the default model): throughput on real abstracts, query-encoding latency
    if args.embed_sample:
        from paperwire.search.encoders import load_encoder
        from paperwire.store.search_index import embed_text

        ms = Settings.load(env={}, db=str(work / "bench.db"), embed_model="minilm", model_cache=str(ROOT / "var" / "models"))
        enc = load_encoder(ms)
        texts = [embed_text(r["title"], r["summary"]) for r in records[: args.embed_sample]]
        t = time.perf_counter()
        enc.encode(texts)
        secs = time.perf_counter() - t
        res["minilm_throughput_per_s"] = round(len(texts) / secs, 1)
        qs = []
        for q in queries[:300]:
            t = time.perf_counter()
            enc.encode([q])
            qs.append((time.perf_counter() - t) * 1000)
        res["minilm_query_encode_ms"] = {"p50": round(pct(qs, 50), 2), "p95": round(pct(qs, 95), 2),
                                         "p99": round(pct(qs, 99), 2)}
        print(f"MiniLM ({enc.__class__.__name__}): {res['minilm_throughput_per_s']} abstracts/s over {len(texts)}; "
              f"query encode p50 {res['minilm_query_encode_ms']['p50']} ms p95 {res['minilm_query_encode_ms']['p95']} ms",
              flush=True)
        st_enc = engine.vectors.encoder
        t = time.perf_counter()
        st_enc.encode(texts)
        res["static_throughput_per_s"] = round(len(texts) / (time.perf_counter() - t), 1)
        print(f"static tier: {res['static_throughput_per_s']} abstracts/s", flush=True)

    res["complete"] = True
    save()
    print(f"saved {out}")


if __name__ == "__main__":
    main()
