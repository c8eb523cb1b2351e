"""The query stage of search: lexical (BM25 on SQLite FTS5, or tantivy on large stores),
semantic (embeddings + ANN) and hybrid (RRF).

``SearchEngine`` is cheap to create; the encoder and the vector index load on first
use. Lexical search needs nothing but the store, so it keeps working when the
encoder cannot load or is slow: hybrid then falls back to lexical and says why in
``SearchResult.fallback`` instead of failing. Keeping the indexes current is the index
stage's work (``paperwire.search.indexer``); the query language is ``paperwire.search.query``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from paperwire.models import Hit
from paperwire.search.analysis import FIELD_WEIGHTS
from paperwire.search.analysis import INDEX_WORD, porter_stem
from paperwire.search.encoders import normalise
from paperwire.search.fuse import DEFAULT, Fusion, agreement, combine, feedback_query, named_terms
from paperwire.search.highlight import highlighter, snippet_html, title_html
from paperwire.search.query import Filters, clauses, content_clauses, fts_expression, norm_date, parse_query, title_key
from paperwire.search import tantivy as tantivy_index
from paperwire.search.topics import TOPIC_FLOOR
from paperwire.search.vectors import VectorSearch
from paperwire.store import search_index as idx
from paperwire.text import canonical_id

log = logging.getLogger(__name__)

MODES = ("lexical", "semantic", "hybrid")
CANDIDATES = 100  # per mode, for hybrid fusion
# Cosine (MiniLM, query to "title. abstract") from which a paper the words did not find still
# counts as a match in hybrid mode's total: the digest topics' calibrated floor.
SEMANTIC_FLOOR = TOPIC_FLOOR


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int
    mode: str
    fallback: str | None
    query: str
    # when only part of the store has vectors: (papers with a vector, papers); the meaning side
    # of the search saw only the first number (see ``coverage_note``)
    coverage: tuple[int, int] | None = None

    @property
    def coverage_note(self) -> str | None:
        if not self.coverage or self.mode == "lexical":
            return None
        have, total = self.coverage
        return f"meaning search covers {have:,} of {total:,} papers"


class EncoderUnavailable(RuntimeError):
    pass


# -- the engine ------------------------------------------------------------------------------

class SearchEngine:
    """Search over one store. Cheap to create; thread-safe for concurrent searches."""

    def __init__(self, store, settings):
        self.store = store
        self.settings = settings
        self._vectors: VectorSearch | None = None  # created lazily
        self._fast: tantivy_index.TantivyLexical | None = None  # when in use
        self._fast_checked = 0.0
        self._counts: dict = {}  # see _count_estimate
        self._enc_avg: float | None = None  # seconds per query encoding, once the model is loaded
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.fusion: Fusion = DEFAULT  # how hybrid search weighs words against meaning
        self._qvecs: dict[str, np.ndarray] = {}  # recent query vectors: paging re-asks the same query

    # -- embedding side (lazy) ----------------------------------------------------------------
    @property
    def vectors(self) -> VectorSearch:
        """The vector side (encoder + index), created on first use."""
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    self._vectors = VectorSearch(self.store, self.settings)
        return self._vectors

    def _encoding_thread(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")
            return self._pool

    def warm(self, wait: bool = False):
        """Load the encoder and the vector index now (in the encoding thread), so the first
        searches need not fall back to lexical while they load. Servers call this at start."""
        def job():
            self.vectors.size()
            self.vectors.encode_query("warm up")

        fut = self._encoding_thread().submit(job)
        if wait:
            fut.result()
        return fut

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.vectors.encoder.encode(list(texts))

    def _encode_query(self, text: str) -> np.ndarray:
        """The query's vector: from the recent ones (the next page of results asks again), else
        encoded (``_encode_new``)."""
        v = self._qvecs.get(text)
        if v is None:
            v = self._encode_new(text)
            if len(self._qvecs) >= 256:
                self._qvecs.clear()
            self._qvecs[text] = v
        return v

    def _encode_new(self, text: str) -> np.ndarray:
        """Encode one query within settings.encode_timeout, or raise EncoderUnavailable.

        Loading (and anything slow) runs in a worker thread we can stop waiting for. Once the
        model is loaded and has been fast (average < 1/20 of the timeout), queries encode in
        the calling thread: on a busy machine the hand-off to the worker cost more than the
        encoding of a short query."""
        timeout = float(self.settings.encode_timeout)
        if self._enc_avg is not None and self._enc_avg * 20 < timeout:
            t = time.perf_counter()
            try:
                v = self.vectors.encode_query(text)
            except Exception as exc:
                raise EncoderUnavailable(f"encoder unavailable: {exc}") from exc
            self._enc_avg = 0.9 * self._enc_avg + 0.1 * (time.perf_counter() - t)
            return v
        t = time.perf_counter()
        v = self._encode_in_worker(text)
        if self._vectors is not None and self._vectors.encoder_loaded:
            took = time.perf_counter() - t
            self._enc_avg = took if self._enc_avg is None else 0.9 * self._enc_avg + 0.1 * took
        return v

    def _encode_in_worker(self, text: str) -> np.ndarray:
        fut = self._encoding_thread().submit(lambda: self.vectors.encode_query(text))
        try:
            return fut.result(timeout=float(self.settings.encode_timeout))
        except concurrent.futures.TimeoutError:
            raise EncoderUnavailable(f"encoder timed out after {self.settings.encode_timeout:g}s")
        except EncoderUnavailable:
            raise
        except Exception as exc:  # a broken model, a missing file: search goes on without it
            log.warning("encoder failed: %s", exc)
            raise EncoderUnavailable(f"encoder unavailable: {exc}") from exc

    # -- public API -------------------------------------------------------------------------
    def search(self, query: str, filters: Filters | None = None, mode: str = "hybrid", limit: int = 20,
               offset: int = 0) -> SearchResult:
        mode = mode if mode in MODES else "hybrid"
        limit = max(0, min(int(limit), 1000))
        offset = max(0, int(offset))
        text, parsed = parse_query(query)
        flt = parsed.merged(filters)
        n = offset + limit
        match = fts_expression(text, flt.author)
        lex_flt = idx.filter_sql(flt.categories, flt.date_from, flt.date_to, flt.date_field, flt.has_code)
        all_flt = idx.filter_sql(flt.categories, flt.date_from, flt.date_to, flt.date_field, flt.has_code, flt.author)
        fallback = None
        used = mode

        if not clauses(text):
            # no words: filters only (newest first), or nothing at all
            if flt.is_empty():
                return SearchResult([], 0, mode, None, str(query or ""))
            rows = idx.filtered_latest(self.store, all_flt, limit, offset)
            hits = self._render([(d, pid, 0.0, {}) for d, pid in rows], None)
            return SearchResult(hits, idx.filtered_count(self.store, all_flt), mode, None, str(query or ""))

        qvec = None
        if mode in ("semantic", "hybrid"):
            try:
                if self._vectors is not None and self._vectors.known_empty():
                    # nothing to compare with: do not spend the encoding
                    raise EncoderUnavailable("no paper vectors yet: run `paperwire index`")
                qvec = self._encode_query(text)
                if self.vectors.size() == 0:
                    raise EncoderUnavailable("no paper vectors yet: run `paperwire index`")
            except EncoderUnavailable as exc:
                fallback = str(exc)
                used = "lexical"
                qvec = None

        ranked: list[tuple[int, str, float, dict]] = []  # docid, paper_id, score, parts
        total = 0
        if used == "lexical":
            rows, total = self._lexical(text, match, flt, lex_flt, n)
            ranked = [(d, pid, -s, {"lexical_rank": i + 1, "lexical_score": round(-s, 4)})
                      for i, (d, pid, s) in enumerate(rows)]
        elif used == "semantic":
            sem = self.vectors.search(qvec, max(n, 10), all_flt)
            ranked = [(d, pid, s, {"semantic_rank": i + 1, "semantic_score": round(s, 4)})
                      for i, (d, pid, s) in enumerate(sem)]
            # every visible paper has some similarity: the total is the corpus (or filtered) size
            total = len(sem) if len(sem) < n else max(len(sem), self._count_estimate(all_flt))
        else:
            k = max(CANDIDATES, n)
            lex, total = self._lexical(text, match, flt, lex_flt, k, resolve=False)
            sem = self.vectors.search(qvec, k, all_flt, resolve=False)
            ranked, total = self._hybrid(text, qvec, lex, sem, k, all_flt)

        ranked = self._pin(str(query or ""), text, ranked, all_flt)
        page = ranked[offset:offset + limit]
        hits = self._render(page, text)
        if used != "hybrid":
            total = max(total, len(ranked))
        coverage = self._coverage() if used != "lexical" else None
        return SearchResult(hits, total, used, fallback, str(query or ""), coverage)

    def _hybrid(self, text: str, qvec, lex, sem, k: int, flt) -> tuple[list, int]:
        """Score the lexical and the semantic candidates together (``paperwire.search.fuse``);
        a title that holds the query's words as a phrase goes first. Returns the ranking and the
        number of candidates that match: found by the words, or close enough in meaning."""
        f = self.fusion
        lookup = self._title_phrase_hits(text, flt)
        # one or two words, or a quoted phrase, look something up; longer text describes
        words = content_clauses(text)
        short = len(words) <= 2 or any(c.kind == "phrase" for c in words)
        q = normalise(qvec)[0]
        lexs = [(d, -s) for d, _, s in lex]  # FTS5's bm25 is negative: positive, larger is better
        in_lex = {d for d, _ in lexs}
        full = len(lexs) >= k  # else every paper holding a query word is in ``lexs``
        cos = {d: s for d, _, s in sem}
        floor = sem[-1][2] if sem else 0.0  # a meaning score that cannot be computed: the last one
        vecs = idx.get_vectors(self.store, self.vectors.encoder.name, [d for d in in_lex if d not in cos])
        blind = self._cosines(lexs, cos, vecs, q, [s for _, _, s in sem[:f.agree_depth]])
        if lookup or short:
            weight = f.lookup
        else:
            known = [cos[d] for d, _ in lexs if d not in blind][:f.agree_depth]
            # no word match can be held against meaning (none has a vector yet): trust the words
            agree = agreement(known, [s for _, _, s in sem], f.agree_depth) if known else f.agree_high
            weight = f.weight(agree, len(named_terms(text)))
        matching = self._matching([d for d in cos if d not in in_lex], text) if full else set()
        scored = combine(lexs, matching, cos, weight)
        first_cos = dict(cos)
        if not (lookup or short) and f.feedback_docs > 0 and lexs and scored:
            top = [d for d, _, _ in scored[:f.feedback_docs]]
            vecs.update(idx.get_vectors(self.store, self.vectors.encoder.name, [d for d in top if d not in vecs]))
            moved = feedback_query(q, [normalise(vecs[d])[0] for d in top if d in vecs], f.feedback_beta)
            if moved is not None:
                sem2 = self.vectors.search(moved, k, flt, resolve=False)
                cos2 = {d: s for d, _, s in sem2}
                need = [d for d in (*in_lex, *cos2) if d not in vecs]
                vecs.update(idx.get_vectors(self.store, self.vectors.encoder.name, need))
                self._cosines(lexs, cos2, vecs, moved, [s for _, _, s in sem2[:f.agree_depth]])
                for d in cos2:  # the meaning score shown (and the topic floor) is the query's own
                    if d not in first_cos:
                        first_cos[d] = float(normalise(vecs[d])[0] @ q) if d in vecs else floor
                new = [d for d in cos2 if d not in in_lex and d not in cos]
                matching |= self._matching(new, text) if full else set()
                scored = combine(lexs, matching, cos2, weight)
        lex_rank = {d: i + 1 for i, (d, _) in enumerate(lexs)}
        sem_rank = {d: i + 1 for i, (d, _, _) in enumerate(sem)}
        ranked = []
        for d, score, _ in scored:
            parts = {"fusion_lexical_weight": round(weight, 3)}
            if d in sem_rank or d in vecs:  # a paper without a vector has no meaning score to show
                parts["semantic_score"] = round(first_cos.get(d, floor), 4)
            if d in lex_rank:
                parts["lexical_rank"], parts["lexical_score"] = lex_rank[d], round(lexs[lex_rank[d] - 1][1], 4)
            if d in sem_rank:
                parts["semantic_rank"] = sem_rank[d]
            ranked.append((d, None, score, parts))
        if lookup:
            first = {d: i for i, (d, _) in enumerate(lookup)}
            pids = dict(lookup)
            front = sorted((r for r in ranked if r[0] in first), key=lambda r: first[r[0]])
            seen = {r[0] for r in front}
            top_score = ranked[0][2] if ranked else 1.0
            extra = [(d, pid, top_score, {"title_phrase": True}) for d, pid in lookup if d not in seen]
            front = [(d, pid or pids[d], max(top_score, s), {**parts, "title_phrase": True})
                     for d, pid, s, parts in front]
            ranked = [*front, *extra, *(r for r in ranked if r[0] not in first)]
        total = sum(1 for r in ranked if "lexical_rank" in r[3] or r[3].get("title_phrase") or r[0] in matching
                    or r[3].get("semantic_score", 0.0) >= SEMANTIC_FLOOR)
        return ranked, total

    @staticmethod
    def _cosines(lexs, cos: dict, vecs: dict, q, sem_top: list[float]) -> set[int]:
        """Fill in ``cos`` for the word matches from their vectors. A paper without a vector yet
        (only part of the store embedded) is taken to be as close as the word matches that have
        one (else as the nearest papers), neither favoured nor buried; returns those papers."""
        blind = set()
        for d, _ in lexs:
            if d not in cos:
                if d in vecs:
                    cos[d] = float(normalise(vecs[d])[0] @ q)
                else:
                    blind.add(d)
        known = [cos[d] for d, _ in lexs if d not in blind][:len(sem_top) or 10]
        guess = float(np.mean(known)) if known else (float(np.mean(sem_top)) if sem_top else 0.0)
        for d in blind:
            cos[d] = guess
        return blind

    def _matching(self, docids: list[int], text: str) -> set[int]:
        """Those of ``docids`` whose title or abstract holds a query word (candidates the words
        ranked too low), read from their text: on a large store an FTS5 MATCH restricted to
        these rows still walks the whole posting list of every common query word."""
        wanted = {porter_stem(w) for c in content_clauses(text) if c.kind != "prefix" for w in c.words}
        if not docids or not wanted:
            return set()
        info = idx.doc_info(self.store, docids)
        return {d for d, i in info.items()
                if any(porter_stem(w) in wanted for w in INDEX_WORD.findall(f"{i['title']} {i['abstract']}"))}

    def _title_phrase_hits(self, text: str, flt) -> list[tuple[int, str]]:
        """Papers whose title holds the query's words in order (3 or more words, filters
        applied): a known-item search for a remembered part of a title."""
        words = INDEX_WORD.findall(text)
        if not 3 <= len(words) <= 12 or '"' in text:
            return []
        phrase = '"' + " ".join(words).replace('"', '""') + '"'
        try:
            return idx.title_phrase(self.store, phrase, flt, limit=10)
        except Exception as exc:  # an odd token FTS5 refuses: the fused ranking stands
            log.debug("title phrase lookup failed: %s", exc)
            return []

    def _coverage(self) -> tuple[int, int] | None:
        """(papers with a vector, papers) when some papers have none yet, cached for a minute."""
        hit = self._counts.get("coverage")
        if hit and time.monotonic() - hit[0] < 60:
            return hit[1]
        have = idx.vector_count(self.store, self.vectors.encoder.name)
        docs = idx.doc_count(self.store)
        value = (have, docs) if have < docs else None
        self._counts["coverage"] = (time.monotonic(), value)
        return value

    def _count_estimate(self, flt) -> int:
        """Number of papers passing ``flt`` (capped at 10,000), cached for a minute: counting
        on every semantic query would cost more than the query."""
        key = (flt.where, flt.params)
        cache = self._counts
        hit = cache.get(key)
        if hit and time.monotonic() - hit[0] < 60:
            return hit[1]
        n = idx.filtered_count(self.store, flt) if not flt.empty else min(idx.doc_count(self.store), 10000)
        if len(cache) > 256:
            cache.clear()
        cache[key] = (time.monotonic(), n)
        return n

    def _fast_index(self):
        """The tantivy index when the store is large enough and it has been built."""
        limit = tantivy_index.size_threshold(self.settings)
        if limit <= 0:
            return None
        now = time.monotonic()
        if now - self._fast_checked > 5.0:  # cheap re-checks: another process may sync it
            self._fast_checked = now
            if not tantivy_index.available():
                return None
            if self._fast is None:
                f = tantivy_index.TantivyLexical(tantivy_index.index_folder(self.settings))
                if f.exists() and idx.max_docid(self.store) >= limit and f.open():
                    self._fast = f
            else:
                try:
                    self._fast.reload()
                except Exception as exc:  # a damaged folder: FTS5 answers until `paperwire index`
                    log.warning("tantivy index unusable (%s); using FTS5", exc)
                    self._fast = None
        return self._fast

    def _lexical(self, text: str, match: str, flt: Filters, lex_flt, k: int, resolve: bool = True) -> tuple[list, int]:
        """(docid, paper_id, bm25 as FTS5 gives it: negative, smaller is better) best first, total.
        ``resolve=False``: paper ids may be None (see VectorSearch.search)."""
        if not match:
            return [], 0
        fast = self._fast_index()
        if fast is not None and not flt.author:
            tq = tantivy_index.tantivy_query(content_clauses(text))
            if tq:
                want = k if lex_flt.empty else max(1000, k * 20)
                try:
                    hits, total = fast.search(tq, want)
                except Exception as exc:
                    log.warning("tantivy query failed (%s); using FTS5", exc)
                    hits, total = None, 0
                if hits is not None:
                    # papers added since the last sync come from FTS5 (scores of both are BM25)
                    # (a seek on the rowid b-tree first: when nothing is newer, skip the MATCH)
                    tail = (idx.lexical_tail(self.store, match, FIELD_WEIGHTS, fast.synced, k)
                            if idx.max_docid(self.store) > fast.synced else [])
                    merged = sorted([(d, s) for d, s in hits] + [(d, -s) for d, _, s in tail], key=lambda r: -r[1])
                    ok = idx.keep_matching(self.store, [d for d, _ in merged], lex_flt)
                    merged = [(d, s) for d, s in merged if d in ok]
                    if len(merged) >= k or len(hits) < want:  # else filters were too selective: FTS5
                        merged = merged[:k]
                        if not resolve:
                            return [(d, None, -s) for d, s in merged], total + len(tail)
                        names = idx.papers_for_docs(self.store, [d for d, _ in merged])
                        return [(d, names[d], -s) for d, s in merged if d in names], total + len(tail)
        rows = idx.lexical(self.store, match, FIELD_WEIGHTS, lex_flt, k)
        return rows, idx.lexical_count(self.store, match, lex_flt)

    def _pin(self, raw_query: str, text: str, ranked, flt) -> list:
        """An arXiv id or an exact title puts that paper first."""
        pinned: list[tuple[int, str]] = []
        pid = canonical_id(raw_query.strip()) or canonical_id(text.strip())
        if pid:
            d = idx.find_visible(self.store, pid)
            if d is not None:
                pinned = [(d, pid)]
        if not pinned and len(text) >= 8:
            pinned = idx.find_by_title_key(self.store, title_key(text))[:1]
        if not pinned:
            return ranked
        d, pid = pinned[0]
        if not flt.empty and d not in idx.keep_matching(self.store, [d], flt):
            return ranked
        rest = [r for r in ranked if r[0] != d]
        old = next((r for r in ranked if r[0] == d), None)
        top = ranked[0][2] if ranked else 1.0
        parts = dict(old[3]) if old else {}
        parts["pinned"] = True
        return [(d, pid, max(top, old[2] if old else top), parts), *rest]

    def _render(self, page, text: str | None) -> list[Hit]:
        docids = [r[0] for r in page]
        info = idx.doc_info(self.store, docids)
        hl = highlighter(text) if text else None
        hits = []
        for d, pid, score, parts in page:
            i = info.get(d)
            if i is None:
                continue
            parts = dict(parts)
            parts["title_html"] = title_html(hl, i["title"])
            snippet = snippet_html(hl, i["abstract"])
            if i.get("date"):
                parts["date"] = i["date"]
            hits.append(Hit(paper_id=i["paper_id"], score=float(score), title=i["title"], snippet=snippet, parts=parts))
        return hits

    def similar(self, paper_id: str, limit: int = 10, since: str | None = None) -> list[Hit]:
        """Nearest papers to one paper (excluding itself), optionally listed/published since a day."""
        return self.more_like([canonical_id(paper_id) or paper_id], limit=limit, since=since)

    def more_like(self, paper_ids: list[str], limit: int = 50, since: str | None = None,
                  exclude: set[str] = frozenset()) -> list[Hit]:
        """Papers nearest to the mean of the given papers' vectors (those papers excluded)."""
        vecs = self.paper_vectors(list(paper_ids))
        if not vecs:
            return []
        centroid = np.mean(np.stack(list(vecs.values())), axis=0)
        norm = float(np.linalg.norm(centroid))
        if norm == 0:
            return []
        centroid = centroid / norm
        skip = set(paper_ids) | set(exclude)
        # "recent" means either first published or first listed on/after that day
        flt = idx.published_or_listed_since(norm_date(since, end=False) or since) if since else idx.FilterSQL()
        found = self.vectors.search(centroid, limit + len(skip), flt)
        rows = [(d, pid, s, {"semantic_rank": i + 1, "semantic_score": round(s, 4)})
                for i, (d, pid, s) in enumerate(found) if pid not in skip][:limit]
        return self._render(rows, None)

    def paper_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """L2-normalised stored vectors of the given papers (papers without one are absent)."""
        return self.vectors.paper_vectors(ids)

    def reopen_lexical(self) -> None:
        """Open the tantivy index again on the next search (after a sync or a rebuild)."""
        self._fast, self._fast_checked = None, 0.0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
