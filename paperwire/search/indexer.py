"""The index stage of search: bring the indexes derived from the store up to date.

Three indexes follow the papers, and each can be rebuilt from the store at any time:

* FTS5 (``papers_fts``), kept current by triggers; only papers a bulk import deferred
  are indexed here;
* the paper vectors: papers without a vector, or whose text changed, are embedded and
  stored, then the vector index catches up;
* on large stores (``fast_lexical_above``), the tantivy index, synced with new, changed
  and removed papers.

``paperwire index``, the daily job and the benchmarks call this stage; the query stage is
``paperwire.search.engine``. With several app hosts (PostgreSQL) each host keeps its own
folders current with ``sync_host`` / ``Follower``: a host that starts empty builds them from
the database (saying how far it is), then follows the store's change sequence every few
seconds. Given the process's engine, the stage updates the engine's
in-memory indexes and reuses its loaded encoder.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

import numpy as np

from paperwire.search import tantivy as tantivy_index
from paperwire.search.engine import SearchEngine
from paperwire.search.vectors import VectorSearch
from paperwire.store import changes as store_changes
from paperwire.store import search_index as idx
from paperwire.store import shared_state
from paperwire.store.bulk import catch_up

Progress = Callable[[str, int, int], None]  # (stage, done, total)
log = logging.getLogger(__name__)


def refresh(store, settings, engine: SearchEngine | None = None, progress: Progress | None = None,
            rebuild_lexical: bool = False, vectors_file=None) -> dict:
    """Index what changed since the last run (resumable: each batch commits on its own).
    ``rebuild_lexical`` rebuilds the tantivy index from scratch instead of syncing it.
    ``vectors_file`` (an export_vectors file) supplies the vectors it holds first."""
    vectors = _vectors(store, settings, engine)
    imported = import_vectors(store, vectors.encoder.name, vectors_file) if vectors_file else None
    out = _refresh(store, settings, vectors, engine, progress, rebuild_lexical)
    if imported is not None:
        out["vectors_imported"] = imported["imported"]
        out["vectors_file_model"] = imported["file_model"]
    return out


def rebuild(store, settings, engine: SearchEngine | None = None, progress: Progress | None = None) -> dict:
    """Every index rebuilt from the store: FTS5 and the docid map, tantivy, the vector index
    (stored vectors of unchanged papers are kept: the model is not run again for them)."""
    rebuilt = idx.rebuild_lexical(store)
    vectors = _vectors(store, settings, engine)
    out = _refresh(store, settings, vectors, engine, progress, rebuild_lexical=True)
    out.update(vectors.rebuild(progress=progress))
    out["lexical_rebuilt"] = rebuilt
    return out


def _vectors(store, settings, engine: SearchEngine | None) -> VectorSearch:
    return engine.vectors if engine is not None else VectorSearch(store, settings)


def _refresh(store, settings, vectors: VectorSearch, engine: SearchEngine | None, progress: Progress | None,
             rebuild_lexical: bool) -> dict:
    # an interrupted bulk import may have left new papers out of FTS5: index them first
    deferred = catch_up(store)
    out = embed_new(store, vectors, progress=progress)
    if deferred:
        out["lexical_deferred_indexed"] = deferred
    out.update(sync_lexical(store, settings, engine=engine, progress=progress, rebuild=rebuild_lexical))
    pruned = store_changes.prune(store)
    if pruned:
        out["changes_pruned"] = pruned
    return out


def sync_host(store, settings, engine: SearchEngine | None = None, progress: Progress | None = None,
              embed: bool = False) -> dict:
    """One pass of this host's index folders: (with ``embed``, papers without a vector embedded
    and stored first, for every host), the tantivy folder synced from the change sequence, the
    vector index caught up with the vectors in the store. A host that starts with no folders
    builds them here from the database, reporting ``progress(stage, done, total)``."""
    vectors = _vectors(store, settings, engine)
    out: dict = {}
    if embed:
        out.update(embed_new(store, vectors, progress=progress))
    else:
        t = time.perf_counter()
        kind, size = vectors.update(progress=progress)
        out.update({"index": kind, "vectors": size, "index_seconds": round(time.perf_counter() - t, 2)})
    out.update(sync_lexical(store, settings, engine=engine, progress=progress))
    return out


def progress_line(stage: str, done: int, total: int) -> str:
    """``index: 40,000 / 1,000,000 papers`` (the line a host prints while it builds)."""
    name = {"lexical": "lexical index", "vectors": "vector index", "embed": "embedding"}.get(stage, stage)
    return f"{name}: {done:,} / {total:,} papers"


class Follower:
    """A thread that keeps this host's index folders current (``sync_host`` every ``interval``
    seconds) until ``stop()``: what each app host of a multi-host install runs beside its web
    workers, so a paper stored through any host is found by words and by meaning on this one
    within seconds. A failed pass is logged and tried again at the next one."""

    def __init__(self, store, settings, engine: SearchEngine | None = None, interval: float = 2.0,
                 embed: bool = False, progress: Progress | None = None):
        self.store, self.settings, self.engine = store, settings, engine
        self.interval, self.embed, self.progress = float(interval), embed, progress
        self.passes = 0
        self.last: dict = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> dict:
        self.last = sync_host(self.store, self.settings, engine=self.engine, progress=self.progress, embed=self.embed)
        self.passes += 1
        return self.last

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("index sync failed; trying again in %.0fs", self.interval)
            self._stop.wait(self.interval)

    def start(self) -> "Follower":
        self._thread = threading.Thread(target=self._loop, name="index-follower", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


class ArrivalEmbedder:
    """What each serving process runs every few seconds, so that a paper stored through any host
    (an ingest, a harvest, a submission) is found by meaning on every host within seconds rather
    than after the next `paperwire index`: the papers that arrived since this process started
    are embedded and stored (a changed text keeps its old vector until `paperwire index`). One process at a time does it (the
    leader lock ``embed-arrivals``); every host's vector index picks the stored vectors up by
    itself (VectorSearch checks for new ones every second). At most ``limit`` at once: a larger
    arrival (a bulk import) is `paperwire index`'s work, not a web worker's; papers stored while
    no host ran are left to it too."""

    # A docid is taken when a transaction starts writing and seen when it commits, so a lower
    # docid can appear after a higher one: the mark below which nothing is looked at any more
    # trails the newest docid by this long.
    LAG_SECONDS = 600.0

    def __init__(self, store, vectors: VectorSearch, limit: int):
        self.store, self.vectors, self.limit = store, vectors, int(limit)
        self.holder = shared_state.new_holder()
        self.after = idx.newest_docid(store)
        self.embedded = 0
        self._marks: deque[tuple[float, int]] = deque()
        self._told_too_many = False

    def run_once(self) -> int:
        """One pass; returns how many papers this process embedded."""
        if self.limit <= 0:
            return 0
        now = time.monotonic()
        self._marks.append((now, idx.newest_docid(self.store)))
        while now - self._marks[0][0] >= self.LAG_SECONDS:
            self.after = max(self.after, self._marks.popleft()[1])
        if self._marks[-1][1] <= self.after:
            return 0  # nothing arrived: the model is not even loaded for this
        model = self.vectors.encoder.name
        todo = idx.recent_docs_to_embed(self.store, model, self.after, self.limit)
        if todo is None:
            if not self._told_too_many:
                log.info("more than %d papers wait for vectors: `paperwire index` embeds them", self.limit)
                self._told_too_many = True
            return 0
        self._told_too_many = False
        if not todo:
            return 0
        with shared_state.leader(self.store, "embed-arrivals", self.holder, lease_seconds=300) as lead:
            if not lead:
                return 0
            # again under the lock: the process that held it a moment ago may have done them
            todo = idx.recent_docs_to_embed(self.store, model, self.after, self.limit) or []
            if todo:
                vecs = self.vectors.encoder.encode([text for _, text, _ in todo])
                idx.save_vectors(self.store, model, [(d, h) for d, _, h in todo], vecs)
        self.embedded += len(todo)
        return len(todo)


def embed_new(store, vectors: VectorSearch, progress: Progress | None = None, batch: int = 64) -> dict:
    """Embed papers without a vector (or whose text changed), store the vectors and bring the
    vector index up to date."""
    enc = vectors.encoder
    todo = idx.count_to_embed(store, enc.name)
    done = 0
    t0 = time.perf_counter()
    for rows in idx.docs_to_embed(store, enc.name, batch=batch):
        vecs = enc.encode([text for _, text, _ in rows])
        idx.save_vectors(store, enc.name, [(d, h) for d, _, h in rows], vecs)
        done += len(rows)
        if progress:
            progress("embed", done, todo)
    secs = time.perf_counter() - t0
    t1 = time.perf_counter()
    kind, size = vectors.update(progress=progress)
    return {"model": enc.name, "embedded": done, "seconds": round(secs, 2),
            "rate": round(done / secs, 1) if done and secs > 0 else None,
            "index": kind, "vectors": size, "index_seconds": round(time.perf_counter() - t1, 2)}


def export_vectors(store, model: str, path) -> int:
    """Write every stored vector of ``model`` with its paper id and text hash to an .npz file
    (how the demo ships its vectors: see import_vectors)."""
    ids, hashes, vecs = [], [], []
    for rows in idx.stored_vectors(store, model):
        for pid, h, blob in rows:
            ids.append(pid)
            hashes.append(h)
            vecs.append(np.frombuffer(blob, dtype="<f2"))
    matrix = np.stack(vecs) if vecs else np.zeros((0, 0), dtype="<f2")
    with open(path, "wb") as fh:
        np.savez_compressed(fh, model=np.array(model), ids=np.array(ids), hashes=np.array(hashes), vectors=matrix)
    return len(ids)


def import_vectors(store, model: str, path) -> dict:
    """Store the vectors of an export_vectors file for the papers that still need one and whose
    text is the one the file's vector was computed from (same text hash, same model); every
    other paper is left to the encoder. Returns {"imported": n, "file_model": name}."""
    with np.load(path, allow_pickle=False) as data:
        file_model = str(data["model"])
        if file_model != model:
            return {"imported": 0, "file_model": file_model}
        known = {(str(p), str(h)): i for i, (p, h) in enumerate(zip(data["ids"], data["hashes"]))}
        vectors = data["vectors"]
    imported = 0
    for rows in idx.docs_to_embed(store, model, batch=1000):
        paper_of = idx.papers_for_docs(store, [d for d, _, _ in rows])
        hits = [(d, h, known[(paper_of.get(d), h)]) for d, _, h in rows if (paper_of.get(d), h) in known]
        if hits:
            idx.save_vectors(store, model, [(d, h) for d, h, _ in hits], vectors[[i for _, _, i in hits]])
            imported += len(hits)
    return {"imported": imported, "file_model": file_model}


def sync_lexical(store, settings, engine: SearchEngine | None = None, progress: Progress | None = None,
                 rebuild: bool = False) -> dict:
    """Sync (or rebuild) the tantivy index of a large store; {} when the store does not use one."""
    limit = tantivy_index.size_threshold(settings)
    folder = tantivy_index.index_folder(settings)
    # the folder first: counting every document (a full scan on PostgreSQL) is only needed to
    # decide whether to build one, not on each follower pass every 2 s once it exists
    if limit <= 0 or not tantivy_index.available() or (not folder.exists() and idx.doc_count(store) < limit):
        return {}
    t = time.perf_counter()
    res = tantivy_index.TantivyLexical(folder).sync(store, progress=progress, rebuild=rebuild)
    res["lexical_seconds"] = round(time.perf_counter() - t, 2)
    if engine is not None and (res.get("lexical_added") or res.get("lexical_changed")):
        engine.reopen_lexical()  # (a follower's pass with nothing new leaves the open index alone)
    return res
