"""Search: lexical (BM25 on SQLite FTS5), semantic (embeddings + ANN) and hybrid (RRF).

``SearchEngine`` is cheap to create; the encoder and the vector index load on first
use. Lexical search needs nothing but the store, so it keeps working when the
encoder cannot load or is slow: hybrid then falls back to lexical and says why in
``SearchResult.fallback`` instead of failing.

The query language (``parse_query``) never raises: anything it does not understand is
searched as plain words. The FTS5 MATCH string is built only from double-quoted terms,
so user text can never inject FTS5 operators.
"""

from __future__ import annotations

import concurrent.futures
import functools
import html
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from paperwire.search.highlight import Highlighter
from paperwire.models import Hit
from paperwire.store import search_index as idx
from paperwire.text import canonical_id

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

log = logging.getLogger(__name__)

MODES = ("lexical", "semantic", "hybrid")
# FTS5 bm25 column weights: title, abstract, authors. Title highest; measured on CACM with
# bench/quality.py (docs/search.md): title 4x cost 0.014 nDCG@10 lexically and 0.02 in
# hybrid against 1.5x, equal weights were no better than 1.5x.
FIELD_WEIGHTS = (1.5, 1.0, 1.0)
# RRF constant: k=30 beat the customary 60 on CACM (hybrid nDCG@10 0.543 vs 0.535 at depth 100)
RRF_K = 30
CANDIDATES = 100  # per mode, for hybrid fusion
MAX_TERMS = 64  # a 10 kB query becomes at most this many OR-ed terms
MAX_QUERY_CHARS = 4000

# English stopwords removed from free-text terms (FTS5 has no stopword list; removing them
# from the query is what matters for BM25). Phrases keep every word.
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves us also
may might must shall via using use used based towards toward upon within without whether yet
""".split())

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use sentinels: escaped text cannot contain them
_FLAT_MARKS = re.compile("[^\ue000\ue001]*(?:\ue000[^\ue000\ue001]*\ue001[^\ue000\ue001]*)*", re.S)


@dataclass
class Filters:
    categories: list[str] = field(default_factory=list)  # match any
    author: str | None = None
    date_from: str | None = None  # YYYY-MM-DD inclusive
    date_to: str | None = None
    date_field: str = "published"  # or "listed"
    has_code: bool = False

    def is_empty(self) -> bool:
        return not (self.categories or self.author or self.date_from or self.date_to or self.has_code)

    def merged(self, other: "Filters | None") -> "Filters":
        """These filters with ``other``'s set fields applied on top."""
        if other is None:
            return self
        return Filters(
            categories=list(dict.fromkeys([*self.categories, *other.categories])),
            author=other.author or self.author,
            date_from=other.date_from or self.date_from,
            date_to=other.date_to or self.date_to,
            date_field=other.date_field if other.date_field != "published" else self.date_field,
            has_code=self.has_code or other.has_code,
        )


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int
    mode: str
    fallback: str | None
    query: str


class EncoderUnavailable(RuntimeError):
    pass


# -- query parsing ---------------------------------------------------------------------------

_FIELD_RE = re.compile(r'(?i)(author|au|cat|category|has|from|to|since|until|date)[:=]("[^"]*"?|\S*)')
_TOKEN_RE = re.compile(r'"[^"]*"?|\S+')
_WORD_RE = re.compile(r"\w+", re.UNICODE)
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _norm_date(raw: str, end: bool) -> str | None:
    m = _DATE_RE.match(raw.strip())
    if not m:
        return None
    y, mo, d = int(m.group(1)), m.group(2), m.group(3)
    if mo is None:
        return f"{y:04d}-12-31" if end else f"{y:04d}-01-01"
    mo = int(mo)
    if not 1 <= mo <= 12:
        return None
    if d is None:
        return f"{y:04d}-{mo:02d}-31" if end else f"{y:04d}-{mo:02d}-01"  # '-31' compares as end of month
    d = int(d)
    if not 1 <= d <= 31:
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}"


def parse_query(q: str) -> tuple[str, Filters]:
    """Split a query into free text and filters. Never raises.

    Understood: ``author:NAME`` / ``author:"First Last"``, ``cat:cs.CL`` (comma-separated:
    any of), ``has:code``, ``from:YYYY[-MM[-DD]]``, ``to:...``, ``date:listed`` (date range on
    listing day instead of publication). Everything else (words, ``"phrases"``, ``prefix*``)
    is returned as text; unknown ``x:y`` tokens stay text.
    """
    try:
        return _parse_query(q)
    except Exception:  # defensive: the contract is "never raises"
        log.exception("query parser failed; searching the plain text")
        return (str(q) if q is not None else "")[:MAX_QUERY_CHARS], Filters()


def _parse_query(q) -> tuple[str, Filters]:
    q = "" if q is None else str(q)
    q = q.replace("\x00", " ")[:MAX_QUERY_CHARS]
    f = Filters()
    keep: list[str] = []
    pos = 0
    for m in _FIELD_RE.finditer(q):
        # only at a token start (not inside a word such as "http://")
        if m.start() > 0 and not q[m.start() - 1].isspace():
            continue
        name, value = m.group(1).lower(), m.group(2).strip('"').strip()
        used = True
        if name in ("author", "au") and value:
            f.author = value
        elif name in ("cat", "category") and value:
            f.categories.extend(c for c in re.split(r"[,|]", value) if c)
        elif name == "has" and value.lower() in ("code", "github", "repo"):
            f.has_code = True
        elif name in ("from", "since") and _norm_date(value, end=False):
            f.date_from = _norm_date(value, end=False)
        elif name in ("to", "until") and _norm_date(value, end=True):
            f.date_to = _norm_date(value, end=True)
        elif name == "date" and value.lower() in ("listed", "published"):
            f.date_field = value.lower()
        else:
            used = False
        if used:
            keep.append(q[pos:m.start()])
            pos = m.end()
    keep.append(q[pos:])
    text = re.sub(r"\s+", " ", " ".join(keep)).strip()
    return text, f


@dataclass(frozen=True)  # shared: _clauses caches them
class _Clause:
    kind: str  # term | prefix | phrase (quoted by the user) | compound ("self-supervised")
    words: tuple[str, ...]

    def fts(self) -> str:
        body = " ".join(self.words).replace('"', '""')
        if self.kind == "prefix":
            return f'"{body}"*'
        return f'"{body}"'


@functools.lru_cache(maxsize=256)  # one search parses its text for the MATCH, tantivy and the marks
def _clauses(text: str) -> tuple[_Clause, ...]:
    out: list[_Clause] = []
    seen: set[tuple] = set()
    for tok in _TOKEN_RE.findall(text):
        words = tuple(w.lower() for w in _WORD_RE.findall(tok))
        if tok.startswith('"'):
            c = _Clause("phrase" if len(words) > 1 else "term", words)
        else:
            if len(words) == 1 and tok.rstrip().endswith("*") and len(words[0]) >= 2:
                c = _Clause("prefix", words)
            elif len(words) > 1:  # "self-supervised", "3D-aware": the parts in order
                c = _Clause("compound", words)
            else:
                c = _Clause("term", words)
        if not c.words:
            continue
        key = (c.kind, c.words)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return tuple(out[: MAX_TERMS * 2])


def _content_clauses(text: str) -> tuple[_Clause, ...]:
    """The clauses searched for (and marked): stopword terms dropped, unless the query has
    nothing else (a query of stopwords only still searches for them)."""
    clauses = _clauses(text)
    return tuple(c for c in clauses if not (c.kind == "term" and c.words[0] in STOPWORDS)) or clauses


def fts_expression(text: str, author: str | None = None) -> str:
    """The FTS5 MATCH string for free text (OR of terms, stopwords dropped) and an author."""
    parts = [c.fts() for c in _content_clauses(text)[:MAX_TERMS]]
    expr = " OR ".join(parts)
    if author:
        names = [w.lower() for w in _WORD_RE.findall(author)][:8]
        if names:
            aexpr = "authors : (" + " AND ".join('"' + w.replace('"', '""') + '"' for w in names) + ")"
            expr = f"({expr}) AND {aexpr}" if expr else aexpr
    return expr


def highlighter(text: str) -> Highlighter:
    """What to mark in hits: the query's clauses, stopwords dropped as in the MATCH."""
    return Highlighter((c.kind, c.words) for c in _content_clauses(text)[:MAX_TERMS])


def title_key(text: str) -> str:
    """Key of the exact-title pin; must equal the 0020 migration's lower(rtrim(trim(t), '.'))."""
    t = re.sub(r"\s+", " ", text.strip().strip('"').strip())
    return t.translate(_ASCII_LOWER).rstrip(".")


# -- rendering -------------------------------------------------------------------------------

def _marked(raw: str) -> str:
    """Escape text that carries sentinel marks, then turn the marks into <mark> tags."""
    s = html.escape(raw.replace("<mark>", "").replace("</mark>", ""), quote=True)
    if _FLAT_MARKS.fullmatch(s):  # the usual case: flat, balanced
        return s.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")
    # Close any mark FTS5 left open at a snippet boundary so the HTML stays balanced.
    out, depth = [], 0
    for ch in s:
        if ch == _OPEN:
            if depth == 0:
                out.append("<mark>")
            depth += 1
        elif ch == _CLOSE:
            if depth == 1:
                out.append("</mark>")
            depth = max(0, depth - 1)
        else:
            out.append(ch)
    if depth:
        out.append("</mark>")
    return "".join(out)


def _plain_snippet(abstract: str, n: int = 240) -> str:
    a = abstract or ""
    if len(a) > n:
        a = a[:n].rsplit(" ", 1)[0] + "\u2026"
    return html.escape(a, quote=True)


# -- the engine ------------------------------------------------------------------------------

class SearchEngine:
    """Search over one store. Cheap to create; thread-safe for concurrent searches."""

    def __init__(self, store, settings):
        self.store = store
        self.settings = settings
        self._vectors = None  # paperwire.search.vectors.VectorSearch, created lazily
        self._fast = None  # paperwire.search.tantivy.TantivyLexical when in use
        self._fast_checked = 0.0
        self._enc_avg: float | None = None  # seconds per query encoding, once the model is loaded
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    # -- embedding side (lazy) ----------------------------------------------------------------
    @property
    def vectors(self):
        """The vector side (encoder + index), created on first use."""
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    from paperwire.search.vectors import VectorSearch

                    self._vectors = VectorSearch(self.store, self.settings)
        return self._vectors

    def warm(self, wait: bool = False):
        """Load the encoder and the vector index now (in the encoding thread), so the first
        searches need not fall back to lexical while they load. Servers call this at start."""
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")

        def job():
            self.vectors.size()
            self.vectors.encode_query("warm up")

        fut = self._pool.submit(job)
        if wait:
            fut.result()
        return fut

    def encode(self, texts: list[str]) -> "np.ndarray":
        return self.vectors.encoder.encode(list(texts))

    def _encode_query(self, text: str) -> "np.ndarray":
        """Encode one query within settings.encode_timeout, or raise EncoderUnavailable.

        Loading (and anything slow) runs in a worker thread we can stop waiting for. Once the
        model is loaded and has been fast (average < 1/20 of the timeout), queries encode in
        the calling thread: on a busy machine the hand-off to the worker cost more than the
        encoding of a short query."""
        import time

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
        if self._vectors is not None and self._vectors._encoder is not None:
            took = time.perf_counter() - t
            self._enc_avg = took if self._enc_avg is None else 0.9 * self._enc_avg + 0.1 * took
        return v

    def _encode_in_worker(self, text: str) -> "np.ndarray":
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")
        fut = self._pool.submit(lambda: self.vectors.encode_query(text))
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

        if not _clauses(text):
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
            ranked = fuse(lex, sem)
            total = max(len(ranked), total)

        ranked = self._pin(str(query or ""), text, ranked, all_flt)
        page = ranked[offset:offset + limit]
        hits = self._render(page, text)
        return SearchResult(hits, max(total, len(ranked)), used, fallback, str(query or ""))

    def _count_estimate(self, flt) -> int:
        """Number of papers passing ``flt`` (capped at 10,000), cached for a minute: counting
        on every semantic query would cost more than the query."""
        import time

        key = (flt.where, flt.params)
        cache = self.__dict__.setdefault("_counts", {})
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
        import time

        limit = int(getattr(self.settings, "fast_lexical_above", 0) or 0)
        if limit <= 0:
            return None
        now = time.monotonic()
        if now - self._fast_checked > 5.0:  # cheap re-checks: another process may sync it
            self._fast_checked = now
            from paperwire.search import tantivy as search_fast

            if not search_fast.available():
                return None
            if self._fast is None:
                f = search_fast.TantivyLexical(self.settings.data_path / "lexical-tantivy")
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
            from paperwire.search.tantivy import tantivy_query

            tq = tantivy_query(_content_clauses(text), STOPWORDS)
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
            title_m = hl.mark(i["title"], _OPEN, _CLOSE) if hl else None
            snip = hl.snippet(i["abstract"], _OPEN, _CLOSE) if hl else None
            parts["title_html"] = _marked(title_m) if title_m else html.escape(i["title"])
            snippet = _marked(snip) if snip else _plain_snippet(i["abstract"])
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
        import numpy as np

        vecs = self.paper_vectors(list(paper_ids))
        if not vecs:
            return []
        centroid = np.mean(np.stack(list(vecs.values())), axis=0)
        norm = float(np.linalg.norm(centroid))
        if norm == 0:
            return []
        centroid = centroid / norm
        skip = set(paper_ids) | set(exclude)
        flt = idx.filter_sql(date_from=_norm_date(since, end=False) if since else None, date_field="published")
        if since:
            # "recent" means either first published or first listed on/after that day
            day = _norm_date(since, end=False) or since
            flt = idx.FilterSQL("(substr(p.published, 1, 10) >= ? OR p.listed >= ?)", (day, day))
        found = self.vectors.search(centroid, limit + len(skip), flt)
        rows = [(d, pid, s, {"semantic_rank": i + 1, "semantic_score": round(s, 4)})
                for i, (d, pid, s) in enumerate(found) if pid not in skip][:limit]
        return self._render(rows, None)

    def paper_vectors(self, ids: list[str]) -> dict[str, "np.ndarray"]:
        """L2-normalised stored vectors of the given papers (papers without one are absent)."""
        return self.vectors.paper_vectors(ids)

    def refresh(self, progress=None, rebuild_lexical: bool = False) -> dict:
        """Embed new/changed papers and update the vector index. The FTS5 index is kept
        current by triggers; the tantivy index (large stores only) is synced here."""
        from paperwire.store.bulk import catch_up

        # an interrupted bulk import may have left new papers out of FTS5: index them first
        deferred = catch_up(self.store)
        out = self.vectors.refresh(progress=progress)
        if deferred:
            out["lexical_deferred_indexed"] = deferred
        out.update(self.refresh_lexical(progress=progress, rebuild=rebuild_lexical))
        return out

    def refresh_lexical(self, progress=None, rebuild: bool = False) -> dict:
        from paperwire.search import tantivy as search_fast

        limit = int(getattr(self.settings, "fast_lexical_above", 0) or 0)
        folder = self.settings.data_path / "lexical-tantivy"
        if limit <= 0 or not search_fast.available() or (idx.doc_count(self.store) < limit and not folder.exists()):
            return {}
        import time

        f = search_fast.TantivyLexical(folder)
        t = time.perf_counter()
        res = f.sync(self.store, progress=progress, rebuild=rebuild)
        res["lexical_seconds"] = round(time.perf_counter() - t, 2)
        self._fast, self._fast_checked = None, 0.0  # reopen on the next search
        return res

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def fuse(lex: list[tuple[int, str, float]], sem: list[tuple[int, str, float]], k: int = RRF_K,
         w_lex: float = 1.0, w_sem: float = 1.0) -> list[tuple[int, str, float, dict]]:
    """Reciprocal-rank fusion of two ranked lists of (docid, paper_id, score)."""
    acc: dict[int, list] = {}
    for i, (d, pid, s) in enumerate(lex):
        e = acc.setdefault(d, [pid, 0.0, {}])
        e[1] += w_lex / (k + i + 1)
        e[2].update(lexical_rank=i + 1, lexical_score=round(-s, 4))
    for i, (d, pid, s) in enumerate(sem):
        e = acc.setdefault(d, [pid, 0.0, {}])
        e[1] += w_sem / (k + i + 1)
        e[2].update(semantic_rank=i + 1, semantic_score=round(s, 4))
    out = [(d, pid, score, parts) for d, (pid, score, parts) in acc.items()]
    out.sort(key=lambda r: (-r[2], r[0]))
    return out


_ENGINES: "weakref.WeakKeyDictionary" = None  # store -> (settings, engine), so the model loads once
_ENGINES_LOCK = threading.Lock()


def engine_for(store, settings) -> SearchEngine:
    """A SearchEngine shared by callers of the same store and settings."""
    global _ENGINES
    import weakref

    with _ENGINES_LOCK:
        if _ENGINES is None:
            _ENGINES = weakref.WeakKeyDictionary()
        got = _ENGINES.get(store)
        if got is None or got[0] != settings:
            got = (settings, SearchEngine(store, settings))
            _ENGINES[store] = got
        return got[1]


def search(store, settings, query, filters=None, mode="hybrid", limit=20, offset=0) -> SearchResult:
    """Convenience: search with the engine shared per store (see engine_for)."""
    return engine_for(store, settings).search(query, filters, mode=mode, limit=limit, offset=offset)
