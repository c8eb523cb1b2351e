"""Digest building at scale: 100,000 subscribers with varied interests over one day of 1,000 new
papers. Prints and saves (bench/results/digest.json) the time to score and render every digest
(subject, plain text and HTML, signed links; sending excluded) and the peak memory.

Target: < 60 s for all 100,000 on the 2-core machine, < 2 GB peak memory.

    python bench/digest.py                       # 100,000 subscribers, 1,000 papers
    python bench/digest.py --subscribers 10000   # quicker look
    python bench/digest.py --mime-sample 2000    # also time MIME composition + outbox writes on a sample

Data: the real arXiv listings in ../shared/data/arxiv-daily-2025-2026 (demo/records.jsonl.gz
when that is absent): the 1,000 newest papers form "the day"; seed papers ("papers like
these") come from the days before it. Interests are drawn at random (fixed seed) from what
that data holds: categories weighted by how common they are, authors of the day's papers,
topics from a list of research phrases, seeds from earlier papers.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from paperwire.config import Settings  # noqa: E402
from paperwire.digest.builder import DigestBuilder, lexical_rows  # noqa: E402
from paperwire.digest.outbox import compose, new_message_id  # noqa: E402
from paperwire.digest.period import parallel_chunks  # noqa: E402
from paperwire.digest.subscriptions import LinkSigner, list_id  # noqa: E402
from paperwire.ingest.listing import listing_record  # noqa: E402
from paperwire.store.subscriptions import Subscriber  # noqa: E402
from paperwire.text import display_text, extract_links  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "arxiv-daily-2025-2026" / "records.jsonl.gz"
if not SHARED.exists():
    SHARED = Path("/work/shared/data/arxiv-daily-2025-2026/records.jsonl.gz")
DEMO = ROOT / "demo" / "records.jsonl.gz"

TOPICS = [
    "diffusion models", "large language models", "retrieval augmented generation", "reinforcement learning from human feedback",
    "vision transformers", "graph neural networks", "speech recognition", "machine translation", "object detection",
    "semantic segmentation", "3d reconstruction", "neural radiance fields", "gaussian splatting", "video generation",
    "text to image", "multimodal reasoning", "chain of thought", "hallucination detection", "code generation",
    "mixture of experts", "quantization", "knowledge distillation", "federated learning", "differential privacy",
    "adversarial robustness", "interpretability", "mechanistic interpretability", "alignment", "reward models",
    "agents tool use", "robot manipulation", "autonomous driving", "medical imaging", "protein structure",
    "time series forecasting", "anomaly detection", "recommender systems", "information retrieval", "question answering",
    "summarization", "low resource languages", "benchmark evaluation", "in-context learning", "instruction tuning",
    "parameter efficient fine-tuning", "LoRA", "long context", "state space models", "efficient inference",
    "speculative decoding", "contrastive learning", "self-supervised learning", "domain adaptation", "continual learning",
    "uncertainty estimation", "causal inference", "optimization theory", "game theory", "information theory",
    "point clouds", "pose estimation", "image restoration", "super resolution", "depth estimation", "tracking",
    "remote sensing", "math reasoning", "theorem proving", "program synthesis", "embodied AI", "world models",
]


def load_records(path: Path, n_day: int, n_seed_pool: int) -> tuple[list, list]:
    recs = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("listing_date"):
                recs.append(r)
    recs.sort(key=lambda r: (r["listing_date"], r["id"]))
    day, before = recs[-n_day:], recs[-n_day - n_seed_pool:-n_day]
    return day, before


def to_paper(rec: dict, listed: str):
    p = listing_record(rec)
    p.listed = listed  # the day's papers are "new" for everybody
    p.title_display = display_text(p.title)
    p.abstract_display = display_text(p.abstract)
    p.links = extract_links(p.abstract, p.comments)
    return p


def make_subscribers(n: int, papers, seed_pool, rng) -> list[Subscriber]:
    import random

    r = random.Random(int(rng.integers(1 << 31)))
    cats, counts = np.unique([c for p in papers for c in p.categories], return_counts=True)
    cats, weights = [str(c) for c in cats], counts.tolist()
    authors = sorted({a for p in papers for a in p.authors})
    seed_ids = [p.id for p in seed_pool]
    subs = []
    for i in range(n):
        k = r.randint(0, 3)
        chosen: list[str] = []
        while len(chosen) < k:  # k distinct categories, the common ones more often
            c = r.choices(cats, weights)[0]
            if c not in chosen:
                chosen.append(c)
        s = Subscriber(id=i + 1, email=f"reader{i}@example.org", status="active", frequency="daily",
                       size=r.choice([5, 10, 10, 10, 15, 20]), categories=chosen, last_until="2000-01-01")
        if r.random() < 0.3:
            s.authors = r.sample(authors, r.randint(1, 3))
        if r.random() < 0.5:
            s.topics = r.sample(TOPICS, r.randint(1, 3))
        if r.random() < 0.2:
            s.seeds = r.sample(seed_ids, r.randint(1, 3))
        subs.append(s)
    return subs


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--papers", type=int, default=1000)
    ap.add_argument("--seed-pool", type=int, default=2000, help="earlier papers seeds are drawn from")
    ap.add_argument("--mime-sample", type=int, default=2000,
                    help="also compose MIME + write to a SQLite outbox for this many digests (0: skip)")
    ap.add_argument("--workers", type=int, default=1,
                    help="forked processes building digests (what `paperwire digest build --workers` does)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "digest.json"))
    args = ap.parse_args()

    src = SHARED if SHARED.exists() else DEMO
    rng = np.random.default_rng(20260701)
    t0 = time.perf_counter()
    day_recs, seed_recs = load_records(src, args.papers, args.seed_pool)
    day = max(r["listing_date"] for r in day_recs)
    papers = [to_paper(r, day) for r in day_recs]
    seed_papers = [to_paper(r, r["listing_date"]) for r in seed_recs]
    subs = make_subscribers(args.subscribers, papers, seed_papers, rng)
    t_data = time.perf_counter() - t0
    print(f"data: {len(papers)} papers listed as {day} from {src.name}, {len(subs):,} subscribers "
          f"({t_data:.1f} s to load and draw)")

    # interest rows: one per distinct topic and seed paper (what `paperwire digest build` does
    # without a vector index; with one, topics run through the hybrid search instead)
    t1 = time.perf_counter()
    topics = sorted({t for s in subs for t in s.topics})
    seeds = sorted({x for s in subs for x in s.seeds})
    by_id = {p.id: p for p in seed_papers}
    topic_rows = dict(zip(topics, lexical_rows(topics, papers)))
    seed_rows = dict(zip(seeds, lexical_rows([f"{by_id[x].title_display} {by_id[x].abstract_display}" for x in seeds],
                                             papers, min_score=0.15)))
    # trending signals for a tenth of the papers (HF upvotes / stars in the real run)
    trend = {p.id: float(rng.pareto(1.5) * 3) for p in papers if rng.random() < 0.1}
    trending_week = sorted(papers, key=lambda p: -trend.get(p.id, 0))[:8]
    settings = Settings.load(env={}, db=":memory:", secret_key="bench-" + "k" * 40, base_url="https://paperwire.example")
    builder = DigestBuilder(papers, period=f"daily:{day}", site_name=settings.site_name, base_url=settings.base_url,
                            trend=trend, trending_week=trending_week, topic_rows=topic_rows, seed_rows=seed_rows,
                            list_id=list_id(settings))
    t_setup = time.perf_counter() - t1
    print(f"setup: {len(topics)} distinct topics, {len(seeds)} distinct seed papers scored over the day, "
          f"templates compiled: {t_setup:.2f} s")

    signer = LinkSigner(settings)  # each digest signs a manage and a feedback token
    keep = args.mime_sample

    def work(chunk, report_progress=True):
        built = empty = items = html_bytes = text_bytes = 0
        sample = []
        t = time.perf_counter()
        for i, s in enumerate(chunk):
            d = builder.build(s, signer.links(s))
            if d is None:
                empty += 1
                continue
            built += 1
            items += len(d.items)
            html_bytes += len(d.html)
            text_bytes += len(d.text)
            if len(sample) < keep:
                sample.append(d)
            if report_progress and (i + 1) % 20000 == 0:
                el = time.perf_counter() - t
                print(f"  {i + 1:,} subscribers: {el:.1f} s ({(i + 1) / el:,.0f}/s), peak RSS {peak_rss_mb():,.0f} MB")
        return {"built": built, "empty": empty, "items": items, "html": html_bytes, "text": text_bytes,
                "rss": peak_rss_mb(), "sample": sample if report_progress else []}

    load_before = os.getloadavg()
    t2 = time.perf_counter()
    c2 = time.process_time()
    if args.workers <= 1:
        parts = [work(subs)]
        cpu_build = time.process_time() - c2
        peak = peak_rss_mb()
    else:
        # children: count and keep nothing (their results travel back pickled)
        # a forked child's process_time() counts its own CPU time from the fork
        parts = parallel_chunks(lambda chunk: {**work(chunk, False), "cpu_child": time.process_time()},
                                subs, args.workers)
        cpu_build = sum(p["cpu_child"] for p in parts)
        peak = max([peak_rss_mb()] + [p["rss"] for p in parts])
        parts[0]["sample"] = [builder.build(s, signer.links(s)) for s in subs[:keep]]
        parts[0]["sample"] = [d for d in parts[0]["sample"] if d is not None]
    t_build = time.perf_counter() - t2
    load_after = os.getloadavg()
    built = sum(p["built"] for p in parts)
    empty = sum(p["empty"] for p in parts)
    items = sum(p["items"] for p in parts)
    html_bytes = sum(p["html"] for p in parts)
    text_bytes = sum(p["text"] for p in parts)
    sample = parts[0]["sample"]
    print(f"built and rendered {built:,} digests ({empty:,} empty, nothing sent) for {len(subs):,} subscribers "
          f"in {t_build:.1f} s with {max(1, args.workers)} process(es) = {len(subs) / t_build:,.0f} subscribers/s; "
          f"avg {items / max(built, 1):.1f} items, {html_bytes / max(built, 1) / 1024:.1f} KiB HTML + "
          f"{text_bytes / max(built, 1) / 1024:.1f} KiB text each")
    print(f"CPU time of the build: {cpu_build:.1f} s (wall {t_build:.1f} s; 1-min load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after on {os.cpu_count()} CPUs: other work on the "
          f"machine stretches the wall time)")
    print(f"peak memory (max RSS of a process): {peak:,.0f} MB")

    mime = {}
    if sample:
        import tempfile

        from paperwire.store import open_store
        from paperwire.store import subscriptions as st

        t3 = time.perf_counter()
        for d in sample:
            row = st.OutboxRow(0, d.subscriber_id, d.period, "digest", d.email, d.subject, d.text, d.html,
                               d.headers, new_message_id(settings), "pending", 0, "", None)
            compose(settings, row).as_bytes()
        t_mime = time.perf_counter() - t3
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(os.path.join(tmp, "bench.db"))
            t4 = time.perf_counter()
            for k in range(0, len(sample), 200):
                with store.transaction() as conn:
                    for d in sample[k:k + 200]:
                        conn.execute("INSERT OR IGNORE INTO subscribers(id, email, status, created_at, updated_at) "
                                     "VALUES (?, ?, 'active', '', '')", (d.subscriber_id, d.email))
                        st.add_message(conn, subscriber_id=d.subscriber_id, period=d.period, kind="digest",
                                       to_addr=d.email, subject=d.subject, text_body=d.text, html_body=d.html,
                                       headers=d.headers, message_id=new_message_id(settings),
                                       n_items=len(d.items), last_until=day)
            t_outbox = time.perf_counter() - t4
            store.close()
        mime = {"sample": len(sample), "mime_compose_ms_per_message": 1000 * t_mime / len(sample),
                "outbox_write_ms_per_message": 1000 * t_outbox / len(sample)}
        print(f"sample of {len(sample):,}: MIME composition (done at send time) {mime['mime_compose_ms_per_message']:.2f} ms/message; "
              f"outbox write {mime['outbox_write_ms_per_message']:.2f} ms/message "
              f"(-> {len(subs) * mime['outbox_write_ms_per_message'] / 1000:.0f} s extra for {len(subs):,} in `digest build`)")

    result = {
        "benchmark": "digest", "when": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "data": {"source": str(src.name), "day": day, "papers": len(papers), "subscribers": len(subs),
                 "distinct_topics": len(topics), "distinct_seeds": len(seeds)},
        "workers": max(1, args.workers),
        "seconds": {"load_and_draw": t_data, "setup": t_setup, "build_and_render": t_build,
                    "build_and_render_cpu": cpu_build},
        "load_average": {"before": load_before[0], "after": load_after[0]},
        "subscribers_per_second": len(subs) / t_build,
        "digests": {"built": built, "empty": empty, "avg_items": items / max(built, 1),
                    "avg_html_kib": html_bytes / max(built, 1) / 1024, "avg_text_kib": text_bytes / max(built, 1) / 1024},
        "peak_rss_mb": peak, "sample": mime,
        "targets": {"build_and_render_seconds": 60, "peak_rss_mb": 2048},
        "met": {"time": t_build < 60, "memory": peak < 2048},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"target < 60 s: {'met' if t_build < 60 else 'MISSED'}; memory < 2 GB: {'met' if peak < 2048 else 'MISSED'}; "
          f"saved {out}")


if __name__ == "__main__":
    main()
