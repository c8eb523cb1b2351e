"""Personal recommendations: which of a window's new papers a reader should read, and why.

Four recommenders share one prepared candidate set (a `Day`: the window's papers, their
features, background papers and the trending prior), so serving many readers costs one
feature pass plus a little linear algebra per reader:

- ``fused`` (the default): standardised TF-IDF centroid and shared-covariance discriminant
  scores in the store's background text model, plus the profile's categories and authors, in
  one calibrated sum, computed for blocks of readers with matrix products (fused.py); the
  digests and the batch mode score all their readers this way (``Day.recommend_many``).
- ``similarity``: recency-weighted cosine similarity to the profile's positive papers (as in
  zotero-arxiv-daily): score(c) = sum_k w_k cos(c, p_k) / sum_k w_k, with w_k halving every
  ``rec_half_life_days`` since the reader's action on p_k; minus half the highest similarity to
  a dismissed paper; plus ``rec_follow_bonus`` per followed category / author that matches.
- ``classifier``: a per-reader linear SVM (as in arxiv-sanity-lite) trained on positives (label
  1) against dismissed, background and candidate papers (label 0), class-balanced; score is the
  decision function (+ the same follow bonus).
- ``blend``: the mean of both after min-max scaling over the candidates, mixed with the
  trending prior: (1 - rec_trend_prior) * personal + rec_trend_prior * trend / max trend.
  A reader with an empty profile gets the trending order (+ follows).

Features are TF-IDF over title + abstract (``rec_features = "tfidf"``) or the search index's
L2-normalised embeddings (``"embeddings"``): the caller passes the process's search engine
(``engine``, for its ``paper_vectors`` and ``encode``); without one, TF-IDF is used.

Every recommendation carries reasons ("close to your saved “<title>”", "you follow cs.CL").
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import numpy as np

from paperwire.config import Settings
from paperwire.ranking import fused
from paperwire.ranking.features import EmbeddingFeatures, EncoderFeatures, TfidfFeatures  # noqa: F401  (re-exported)
from paperwire.ranking import trending as rank
from paperwire.store import profiles as prof_store

log = logging.getLogger(__name__)

METHODS = ("fused", "similarity", "classifier", "blend")
KIND_WORDS = {"like": "liked", "save": "saved", "import": "imported", "upvote": "upvoted"}
BACKGROUND = 1500  # papers before the window: IDF statistics and classifier negatives
TRAIN_NEGATIVES = 1000  # unlabeled papers each reader's classifier is trained against


@dataclass
class Rec:
    paper_id: str
    score: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class Reader:
    """What a recommender needs to know about a reader (built from a stored Profile, or directly
    by the offline benchmark)."""

    positives: dict[str, float]  # paper id -> weight (already recency-decayed)
    kinds: dict[str, str] = field(default_factory=dict)  # paper id -> like | save | import | upvote
    negatives: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)


def _day(x) -> str:
    if x is None:
        return None
    if isinstance(x, datetime):
        return x.astimezone(timezone.utc).date().isoformat()
    if isinstance(x, date):
        return x.isoformat()
    return str(x)[:10]


def _age_days(at: str, now: datetime) -> float:
    try:
        t = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return max(0.0, (now - t).total_seconds() / 86400)


def reader_from_profile(p: prof_store.Profile, now: datetime, half_life_days: float) -> Reader:
    pos = {pid: (0.5 ** (_age_days(at, now) / half_life_days) if half_life_days > 0 else 1.0)
           for pid, (kind, at) in p.positives.items()}
    return Reader(pos, {pid: kind for pid, (kind, _) in p.positives.items()}, list(p.negatives),
                  list(p.categories), list(p.authors))


# Features of the older recommenders (similarity / classifier / blend) live in features.py.
class Day:
    """The prepared candidate set of one window: shared by every reader of that window."""

    def __init__(self, cand_ids: list[str], infos: dict[str, dict], background_ids: list[str],
                 trend: dict[str, float] | None = None, features=None, text_lookup=None,
                 trending_ids: set[str] | None = None, text_model=None):
        """`infos`: {id: {title, text, categories, authors}} for candidates and background;
        `text_lookup(ids) -> infos` fetches profile papers that are not among them;
        `text_model`: the store's background TF-IDF model for the fused recommender (textmodel.py;
        without one, a model is fitted on the candidates and background)."""
        self.text_model = text_model
        self._window = None
        self.cand_ids = list(cand_ids)
        self.infos = dict(infos)
        self.bg_ids = [b for b in background_ids if b in self.infos and b not in set(cand_ids)]
        self.text_lookup = text_lookup
        self.trend = trend or {}
        self.trending_ids = set(self.trend) if trending_ids is None else set(trending_ids)
        # the similarity / classifier / blend recommenders' own features are built on their first
        # use: the default (fused) recommender never needs them, and fitting them costs a second
        self._features_arg = features
        self._features = None
        self._row_of: dict[str, int] = {}
        self._blocks: list = []
        self._n = 0
        self._lock = threading.RLock()
        self.cand_index = {pid: i for i, pid in enumerate(self.cand_ids)}
        self.cand_cats = [set(self.infos[i].get("categories", [])) for i in self.cand_ids]
        self.cand_authors = [set(a.lower() for a in self.infos[i].get("authors", [])) for i in self.cand_ids]
        self.trend_vec = fused.trend_vector(self.cand_ids, self.trend)
        self._stacked = None
        self._said: dict[tuple[str, str], str] = {}

    def _legacy(self) -> None:
        with self._lock:
            if self._features is not None:
                return
            texts = [self.infos[i]["text"] for i in self.cand_ids + self.bg_ids]
            self._features = self._features_arg if self._features_arg is not None else TfidfFeatures(texts)
            self._add(self.cand_ids + self.bg_ids)
            self._C = self._rows(self.cand_ids)
            self._B = self._rows(self.bg_ids)

    @property
    def features(self):
        self._legacy()
        return self._features

    @property
    def C(self):
        self._legacy()
        return self._C

    @property
    def B(self):
        self._legacy()
        return self._B

    # rows of the feature matrix, added on demand for profile papers outside the window
    def _add(self, ids: list[str]) -> None:
        new = fused.new_with_text(ids, self._row_of, self.infos, self.text_lookup)
        if not new:
            return
        texts = [self.infos[i]["text"] for i in new]
        if getattr(self._features, "sparse", True):
            block = self._features.transform(texts).tocsr()
        else:
            block = self._features.rows(new, texts)
        for k, pid in enumerate(new):
            self._row_of[pid] = self._n + k
        self._n += len(new)
        self._blocks.append(block)
        self._stacked = None

    def _matrix(self):
        if self._stacked is None:
            if getattr(self._features, "sparse", True):
                import scipy.sparse as sp

                self._stacked = sp.vstack(self._blocks).tocsr() if len(self._blocks) > 1 else self._blocks[0]
            else:
                self._stacked = np.vstack(self._blocks)
            self._blocks = [self._stacked]
        return self._stacked

    def _rows(self, ids: list[str]):
        self._legacy()
        with self._lock:
            self._add(ids)
            m = self._matrix()
        idx = [self._row_of[i] for i in ids if i in self._row_of]
        return m[idx]

    def known(self, ids) -> list[str]:
        self._legacy()
        with self._lock:
            self._add(list(ids))
        return [i for i in ids if i in self._row_of]

    # -- scoring ------------------------------------------------------------------------------------
    def _dense(self, m) -> np.ndarray:
        return m.toarray() if hasattr(m, "toarray") else np.asarray(m)

    def _follow(self, reader: Reader, bonus: float) -> tuple[np.ndarray, list[list[str]]]:
        add = np.zeros(len(self.cand_ids))
        why: list[list[str]] = [[] for _ in self.cand_ids]
        if not (reader.categories or reader.authors):
            return add, why
        cats = set(reader.categories)
        auths = {a.lower(): a for a in reader.authors}
        for i in range(len(self.cand_ids)):
            hit_c = sorted(cats & self.cand_cats[i])
            if hit_c:
                add[i] += bonus
                why[i].append(f"you follow {hit_c[0]}")
            hit_a = sorted(auths.keys() & self.cand_authors[i])
            if hit_a:
                add[i] += bonus
                why[i].append(f"by {auths[hit_a[0]]}, whom you follow")
        return add, why

    def similarity(self, reader: Reader, exclude: set[str]):
        """(scores, nearest positive per candidate, its similarity) for the candidates."""
        pos = self.known(list(reader.positives))
        n = len(self.cand_ids)
        if not pos:
            return np.zeros(n), [None] * n, np.zeros(n)
        P = self._rows(pos)
        w = np.array([reader.positives[p] for p in pos], np.float64)
        S = self._dense(self.C @ P.T).astype(np.float64)  # n x k cosine similarities
        score = S @ w / max(w.sum(), 1e-12)
        contrib = S * w
        j = contrib.argmax(axis=1)
        nearest = [pos[k] for k in j]
        near_sim = S[np.arange(n), j]
        neg = self.known([x for x in reader.negatives if x not in reader.positives])
        if neg:
            N = self._rows(neg)
            score = score - 0.5 * self._dense(self.C @ N.T).max(axis=1)
        return score, nearest, near_sim

    def classifier(self, reader: Reader) -> np.ndarray | None:
        """Decision values of a per-reader linear SVM, or None without positives."""
        from sklearn.svm import LinearSVC

        pos = self.known(list(reader.positives))
        if not pos:
            return None
        neg = self.known([x for x in reader.negatives if x not in reader.positives])
        Xp, Xn = self._rows(pos), self._rows(neg) if neg else None
        parts = [Xp] + ([Xn] if neg else []) + [self._train_negatives()]
        if getattr(self.features, "sparse", True):
            import scipy.sparse as sp

            X = sp.vstack(parts).tocsr()
        else:
            X = np.vstack(parts)
        y = np.zeros(X.shape[0], np.int8)
        y[: len(pos)] = 1
        # dismissed papers count more than unlabeled background: the reader said "not this"
        sw = np.ones(X.shape[0])
        if neg:
            sw[len(pos): len(pos) + len(neg)] = 5.0
        clf = LinearSVC(class_weight="balanced", C=0.1, tol=1e-4, max_iter=2000)
        clf.fit(X, y, sample_weight=sw)
        self._last_coef = clf.coef_[0]
        return clf.decision_function(self.C).astype(np.float64)

    def _train_negatives(self):
        """The unlabeled papers every reader's classifier is trained against (label 0): a fixed,
        seeded sample of TRAIN_NEGATIVES from background + candidates. Training time grows with
        the rows, so a sample (not all of them, as arxiv-sanity does) keeps it short per reader."""
        if getattr(self, "_neg_matrix", None) is None:
            pool = self.bg_ids + self.cand_ids
            if len(pool) > TRAIN_NEGATIVES:
                rng = np.random.default_rng(0)
                pool = [pool[i] for i in sorted(rng.choice(len(pool), TRAIN_NEGATIVES, replace=False))]
            self._neg_matrix = self._rows(pool)
        return self._neg_matrix

    def top_terms(self, i: int, coef: np.ndarray, k: int = 3) -> list[str]:
        """The k terms of candidate i that push the reader's classifier up the most."""
        terms = getattr(self.features, "terms", None)
        if terms is None or not hasattr(self.C, "indptr"):
            return []
        lo, hi = self.C.indptr[i], self.C.indptr[i + 1]
        cols = self.C.indices[lo:hi]
        contrib = self.C.data[lo:hi] * coef[cols]
        best = np.argsort(-contrib)[:k]
        return [str(terms[cols[b]]) for b in best if contrib[b] > 0]

    @property
    def window(self) -> fused.Window:
        """The candidates in the fused recommender's text space (built on first use)."""
        with self._lock:
            if self._window is None:
                from paperwire.ranking.textmodel import TextModel

                model = self.text_model or TextModel.fit([self.infos[i]["text"] for i in self.cand_ids + self.bg_ids])
                self._window = fused.Window(model, self.cand_ids, self.infos, self.trend_vec, self.text_lookup)
            return self._window

    def _reason_near(self, reader: Reader, pid: str) -> str:
        kind = KIND_WORDS.get(reader.kinds.get(pid, ""), "liked")
        said = self._said.get((kind, pid))
        if said is None:  # a day's digests cite the same papers many times: one string each
            title = (self.infos.get(pid) or {}).get("title") or pid
            said = self._said[(kind, pid)] = f"close to your {kind} “{title}”"
        return said

    def recommend_many(self, readers: list[Reader], limit: int = 20, settings: Settings | None = None,
                       block: int = fused.BLOCK):
        """Yield (reader index, [Rec]) for many readers with the fused recommender, scored a block
        of readers at a time with shared matrix products (the digests' and batch mode's path)."""
        s = settings or Settings()
        win = self.window
        for start, S in win.score_many(readers, s, block):
            part = readers[start:start + S.shape[0]]
            S = self._fused_adjust(part, S, s, frozenset())
            order = fused.top_rows(S, limit)
            near = win.nearest_many(part, order)
            for k in range(S.shape[0]):
                yield start + k, self._fused_recs(part[k], S[k], order[k], near[k])

    def _fused_adjust(self, readers: list[Reader], S: np.ndarray, s: Settings, exclude) -> np.ndarray:
        """Follows, the trending prior and the papers not to show (-inf) added to a block's scores."""
        # the prior counts only papers with a real signal (votes, stars), not the recency term: a
        # week's papers differ in age by days, which says nothing about a reader's interests
        if getattr(self, "_signal_vec", None) is None:
            self._signal_vec = self.trend_vec * np.array([pid in self.trending_ids for pid in self.cand_ids])
        rows = self.window._rows
        for k, reader in enumerate(readers):
            has_profile = any(p in rows for p in reader.positives)
            if reader.categories or reader.authors:
                S[k] += self._follow(reader, s.rec_follow_bonus)[0] * fused.FOLLOW_SCALE
            lam = s.rec_trend_prior if has_profile or reader.categories or reader.authors else 1.0
            S[k] += lam * fused.W_TREND * (self._signal_vec if has_profile else self.trend_vec)
            for p in (*exclude, *reader.positives, *reader.negatives):
                i = self.cand_index.get(p)
                if i is not None:
                    S[k, i] = -np.inf
        return S

    def _fused_recs(self, reader: Reader, score: np.ndarray, order, nearest) -> list[Rec]:
        follow_why = self._follow(reader, 0.0)[1] if reader.categories or reader.authors else None
        out = []
        ids, trending, near_why = self.cand_ids, self.trending_ids, self._reason_near
        for i, (near, sim) in zip(order.tolist(), nearest):
            value = float(score[i])
            if value == -math.inf:
                break
            why = [near_why(reader, near)] if near is not None and sim > 0.05 else []
            if follow_why:
                why.extend(follow_why[i])
            if ids[i] in trending:
                why.append("trending this week")
            out.append(Rec(ids[i], value, why or ["new in your window"]))
        return out

    def recommend(self, reader: Reader, method: str = "fused", limit: int = 20, settings: Settings | None = None,
                  exclude: set[str] = frozenset()) -> list[Rec]:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        s = settings or Settings()
        n = len(self.cand_ids)
        if n == 0 or limit <= 0:
            return []
        if method == "fused":
            win = self.window
            win.add_papers(list(reader.positives) + list(reader.negatives))
            S = self._fused_adjust([reader], win.score([reader], s), s, exclude)
            order = fused.top_rows(S, limit)
            return self._fused_recs(reader, S[0], order[0], win.nearest_many([reader], order)[0])
        follow, follow_why = self._follow(reader, s.rec_follow_bonus)
        sim, nearest, near_sim = self.similarity(reader, set(exclude))
        has_profile = bool(self.known(list(reader.positives)))
        coef = None
        if method == "similarity":
            score = sim + follow
        elif method == "classifier":
            dec = self.classifier(reader)
            coef = getattr(self, "_last_coef", None) if dec is not None else None
            score = (dec if dec is not None else np.zeros(n)) + follow
        else:
            if has_profile:
                dec = self.classifier(reader)
                coef = getattr(self, "_last_coef", None)
                personal = 0.5 * _minmax(sim) + 0.5 * _minmax(dec)
            else:
                personal = np.zeros(n)
            personal = _minmax(personal + follow)
            lam = s.rec_trend_prior if has_profile or reader.categories or reader.authors else 1.0
            score = (1 - lam) * personal + lam * self.trend_vec
        skip = set(exclude) | set(reader.positives) | set(reader.negatives)
        order = sorted((i for i in range(n) if self.cand_ids[i] not in skip),
                       key=lambda i: (-score[i], self.cand_ids[i]))[:limit]
        out = []
        for i in order:
            why = []
            if nearest[i] is not None and near_sim[i] > 0.05:
                why.append(self._reason_near(reader, nearest[i]))
            why.extend(follow_why[i])
            if coef is not None:
                terms = self.top_terms(i, coef)
                if terms:
                    why.append("matches your interests: " + ", ".join(terms))
            if method == "blend" and self.cand_ids[i] in self.trending_ids:
                why.append("trending this week")
            if not why:
                why.append("new in your window")
            out.append(Rec(self.cand_ids[i], float(score[i]), why))
        return out


def _minmax(x: np.ndarray | None) -> np.ndarray:
    if x is None:
        return 0.0
    lo, hi = float(np.min(x)), float(np.max(x))
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


# -- store-backed entry points ----------------------------------------------------------------------

_DAYS: "OrderedDict[tuple, tuple[Day, float]]" = OrderedDict()
DAY_TTL = 600.0
_DAYS_LOCK = threading.Lock()


def prepare_day(store, settings: Settings, window_start, window_end=None, engine=None) -> Day:
    """The candidate set for [window_start, window_end] (days, inclusive), cached per process
    until the papers change. `engine`: the search engine whose vectors serve as features when
    ``settings.rec_features`` is "embeddings"."""
    start, end = _day(window_start), _day(window_end)
    if settings.rec_features == "embeddings" and engine is None:
        log.warning("recommendations: no search engine given for embedding features; using TF-IDF")
    features = "embeddings" if settings.rec_features == "embeddings" and engine is not None else "tfidf"
    key = (store.path, start, end, features, prof_store.data_version(store))
    with _DAYS_LOCK:
        hit = _DAYS.get(key)
        # the trending prior moves with votes and stars, which do not change the papers: re-prepare
        # every DAY_TTL seconds even when the papers are unchanged
        if hit is not None and time.monotonic() - hit[1] < DAY_TTL:
            _DAYS.move_to_end(key)
            return hit[0]
    cand = prof_store.window_paper_ids(store, start, end)
    bg = prof_store.background_ids(store, start, BACKGROUND)
    infos = prof_store.paper_texts(store, cand + bg)
    now = rank.as_utc(date.fromisoformat(end)) if end else rank.latest_now(store)
    trends = rank.trending(store, "week", now, limit=10**9, settings=settings) if cand else []
    trend = {t.paper_id: t.score for t in trends}
    # papers with a real signal (not just the recency term) may say "trending this week"
    signalled = {t.paper_id for t in trends if t.score - t.parts.get("recency", 0.0) > 1e-12}
    feats = None
    if features == "embeddings" and cand:
        try:
            feats = EmbeddingFeatures(engine)
            feats.rows(cand[:1], [infos[cand[0]]["text"]])  # fail now, not per reader
        except Exception as exc:  # no model / no index: TF-IDF still gives good results
            log.warning("embeddings unavailable for recommendations (%s); using TF-IDF", exc)
            feats = None
    from paperwire.ranking.textmodel import text_model

    model = text_model(store, settings)
    day = Day(cand, infos, bg, trend, feats, text_lookup=lambda ids: prof_store.paper_texts(store, ids), text_model=model,
              trending_ids=signalled)
    with _DAYS_LOCK:
        _DAYS[key] = (day, time.monotonic())
        while len(_DAYS) > 4:
            _DAYS.popitem(last=False)
    return day


def recommend(store, settings: Settings, profile_key: str, window_start, window_end=None, limit: int = 20,
              method: str | None = None, now: datetime | None = None, engine=None) -> list[Rec]:
    """Recommendations for one stored profile among the papers of the window (`engine`: see
    prepare_day)."""
    method = method or settings.rec_method
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    profile = prof_store.load_profile(store, profile_key)
    day = prepare_day(store, settings, window_start, window_end, engine)
    now = now or datetime.now(timezone.utc)
    reader = reader_from_profile(profile, now, settings.rec_half_life_days)
    return day.recommend(reader, method, limit, settings)


def recommend_for(store, settings: Settings, profile_key: str, window_start, limit: int = 20,
                  window_end=None, method: str | None = None, engine=None) -> tuple[list[str], list[float], list[str]]:
    """(ids, scores, reasons) for a profile ('user:<id>' / 'sub:<id>') among papers that appeared
    on or after `window_start` (a date, datetime or 'YYYY-MM-DD'; optional inclusive `window_end`).
    Each reason is one human-readable sentence, e.g. "close to your saved 2503.11731; you follow cs.CL"."""
    recs = recommend(store, settings, profile_key, window_start, window_end, limit, method, engine=engine)
    return [r.paper_id for r in recs], [r.score for r in recs], ["; ".join(r.reasons) for r in recs]
