"""The vector index of paper embeddings; rebuildable from the store.

Vectors live in the store (``paper_vectors``, keyed by model + paper, with the hash of the
embedded text, so only new or changed papers are embedded; the index stage,
``paperwire.search.indexer``, writes them). The in-memory index is exact (a numpy matrix)
below ``settings.exact_search_below`` papers and a faiss HNSW graph above it; the graph is
saved under ``<data_path>/vectors/`` and loaded at start, then caught up with vectors
written since (by sequence number). On PostgreSQL every app host holds its own index, built
from the vectors in the database and caught up the same way every few seconds (the sequence
number there is the writing transaction's: ``paperwire.store.search_index.vector_seq``).
The encoders are ``paperwire.search.encoders``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np

from paperwire.search.encoders import Encoder, load_encoder, normalise
from paperwire.store import search_index as idx

log = logging.getLogger(__name__)

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
# Query-time beam width (settings.ann_ef_search): higher finds more true neighbours, slower;
# recall figures per value in docs/search.md.
HNSW_EF_SEARCH = 768
FILTER_EXACT_BELOW = 20000  # filtered semantic search scores this many papers exactly


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
        # spin-waiting made a 75k-vector search several times slower. The count is per
        # calling thread, so it is set here, in whichever thread searches (a web worker's too).
        faiss.omp_set_num_threads(1)
        params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
        D, I = self.index.search(q[None, :].astype(np.float32), k, params=params)
        keep = I[0] >= 0
        return I[0][keep], D[0][keep]


class VectorSearch:
    """The encoder plus the vector index of one store. Thread-safe."""

    CHECK_EVERY = 1.0  # seconds between checks for vectors written by another process or host

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

    @property
    def encoder_loaded(self) -> bool:
        return self._encoder is not None

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
        """True when the index is loaded, held no vector when it was last checked, and that was
        under CHECK_EVERY ago (never loads it: loading is the encoder thread's job, under the
        encode timeout). Past that, the caller's next size() looks for vectors written since."""
        return (self._index is not None and len(self._index) == 0
                and time.monotonic() - self._checked < self.CHECK_EVERY)

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

    def _load_or_build(self, progress=None) -> None:
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
        self._build(total, progress=progress)

    def _build(self, total: int | None = None, progress=None) -> None:
        name = self.encoder.name
        total = idx.vector_count(self.store, name) if total is None else total
        seq = idx.vector_seq(self.store, name)
        index = _HNSW(self.encoder.dim) if total >= int(self.settings.exact_search_below) else _Exact(self.encoder.dim)
        index.ef_search = int(getattr(self.settings, "ann_ef_search", HNSW_EF_SEARCH))
        done = 0
        for ids, mat in idx.iter_vectors(self.store, name, 0, upto_seq=seq):
            index.add(ids, mat)
            done += len(ids)
            if progress:
                progress("vectors", done, total)
        self._index, self._seq = index, seq
        if index.kind == "hnsw":
            self._save()

    def _catch_up(self) -> None:
        name = self.encoder.name
        seq = idx.vector_seq(self.store, name)
        if seq <= self._seq:
            return
        for ids, mat in idx.iter_vectors(self.store, name, self._seq, upto_seq=seq):
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
        and looks up ids for its page only (random lookups of 100 ids are slow on a large store)."""
        self._ensure()
        q = normalise(qvec)[0]
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
                out[pid] = normalise(vecs[d])[0]
        return out

    # -- keeping up with the store ---------------------------------------------------------
    def update(self, progress=None) -> tuple[str, int]:
        """Load the index, or catch it up with the vectors stored since; (kind, size).
        ``progress("vectors", done, total)`` while it is built from the store."""
        with self._lock:
            if self._index is None:
                self._load_or_build(progress)
            else:
                self._catch_up()
            self._checked = time.monotonic()
            return self._index.kind, len(self._index)

    def rebuild(self, progress=None) -> dict:
        """The index built again from every stored vector."""
        with self._lock:
            self._build(progress=progress)
            return {"index": self._index.kind, "vectors": len(self._index)}
