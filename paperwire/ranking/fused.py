"""The default recommender ("fused"): every reader of a window scored together with matrix products.

Per reader and candidate paper it computes a few features and adds them with fixed weights:

- ``discriminant``: the candidate's score under a linear discriminant of the profile against the
  whole background with the background's shared low-rank covariance (textmodel.py); one matrix
  product for all readers instead of an SVM fit per reader. The profile's mean is the
  recency-weighted mean of its papers' TF-IDF rows in the store's background text model (words
  and bigrams, IDF from up to 100,000 papers);
- ``nearest``: the cosine of the candidate to the most similar profile paper (a second interest
  in a profile is not averaged away);
- ``centroid``: the cosine to the profile's mean (weight 0 since the nearest paper came in; it
  still sets the scale of dismissals);
- ``categories``: how many of the profile's papers carry each of the candidate's categories
  (a share, summed over the candidate's categories);
- ``authors``: log(1 + how many profile papers each of the candidate's authors wrote), the
  library's authors being part of what the reader imported (weight: setting rec_author_weight);
- ``dismissed``: cosine to the nearest "not interested" paper, subtracted;
- explicit follows (``rec_follow_bonus`` per matching category / author) and the trending prior.

The text scores are standardised per reader over the window's candidates (z-scores), so one
set of weights fits readers with short and long profiles alike; the weights were chosen on a
tuning split of weeks by bench/recommend.py (docs/ranking.md says which).

Each profile paper's cosines to every candidate are computed once per window and shared by every
reader who has it, so a day's digests cost one pass over the distinct profile papers plus a few
products per block of readers.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import scipy.sparse as sp

# chosen on the tuning weeks of bench/recommend.py, text and categories only (docs/ranking.md): the
# centroid adds nothing once the discriminant and the nearest paper are in (it still scales dismissals)
W_CENTROID = 0.0
W_DISCRIMINANT = 0.6
W_NEAREST = 0.5
W_CATEGORIES = 1.0
W_DISMISSED = 1.0
W_TREND = 3.0  # times rec_trend_prior: the trending prior in z units
FOLLOW_SCALE = 10.0  # rec_follow_bonus is in the older recommenders' [0, 1] units; here, z units
RIDGE = 0.01  # the covariance's isotropic part: how far the discriminant trusts the background
# how much the recency weights (rec_half_life_days) count here: a profile's older papers still
# describe its interests (weight ** RECENCY; 0 = all alike, 1 = the full decay)
RECENCY = 0.25
BLOCK = 2000  # readers scored per matrix product


def new_with_text(ids, known, infos: dict[str, dict], text_lookup) -> list[str]:
    """The ids not in `known` (once each, in order) whose text there is: ids missing from
    `infos` are looked up first (text_lookup(ids) -> infos, added to `infos`); an id it does
    not find is left out. Shared with recommend.Day, whose feature rows grow the same way."""
    new = [i for i in dict.fromkeys(ids) if i not in known]
    missing = [i for i in new if i not in infos]
    if missing and text_lookup is not None:
        infos.update(text_lookup(missing))
    return [i for i in new if i in infos]


class _Grow:
    """A dense array that grows by rows (capacity doubling): a window serving readers one at a
    time adds a few profile papers per reader without copying everything each time."""

    def __init__(self, cols: int, dtype=np.float32):
        self.a = np.zeros((0, cols), dtype)
        self.n = 0

    def add(self, rows: np.ndarray) -> None:
        need = self.n + rows.shape[0]
        if need > self.a.shape[0]:
            bigger = np.zeros((max(need, 2 * self.a.shape[0], 64), self.a.shape[1]), self.a.dtype)
            bigger[:self.n] = self.a[:self.n]
            self.a = bigger
        self.a[self.n:need] = rows
        self.n = need

    @property
    def rows(self) -> np.ndarray:
        return self.a[:self.n]


class Window:
    """A window's candidates in the text model's space, shared by every reader of the window.

    Each profile paper is turned into features once per window, whoever's profile it is in: its
    cosine to every candidate (a dense row of ``G``), its coordinates in the background's
    principal directions and its authors / categories among the candidates'. A reader's scores
    are then weighted sums and maxima of their papers' rows — for a block of readers, a few
    products with a sparse readers x papers weight matrix."""

    def __init__(self, model, cand_ids: list[str], infos: dict[str, dict], trend: np.ndarray | None = None,
                 text_lookup=None):
        self.model = model
        self.cand_ids = list(cand_ids)
        self.infos = infos
        self.text_lookup = text_lookup
        n = len(self.cand_ids)
        self.C = (model.transform_kept(self.cand_ids, [infos[i]["text"] for i in self.cand_ids]) if n
                  else sp.csr_matrix((0, model.dim), dtype=np.float32))
        self.CT = self.C.T.tocsr()
        comps = model.components
        self.k = comps.shape[0]
        self.CV = np.asarray(self.C @ comps.T, dtype=np.float32) if self.k else np.zeros((n, 0), np.float32)
        shrink = model.variances / (model.variances + RIDGE) if self.k else np.zeros(0)
        self.shrink = shrink.astype(np.float32)
        self.mean_v = (comps @ model.mean).astype(np.float32) if self.k else np.zeros(0, np.float32)
        self.Cmu = np.asarray(self.C @ model.mean, dtype=np.float32).ravel()
        self.trend = np.zeros(n) if trend is None else np.asarray(trend, np.float64)
        self._rows: dict[str, int] = {}
        self._ids: list[str] = []  # row -> profile paper id
        self._blocks: list[sp.csr_matrix] = []
        self._mat = sp.csr_matrix((0, model.dim), dtype=np.float32)
        self._G = _Grow(n)  # profile paper x candidate cosines
        self._V = _Grow(self.k)  # profile paper in the principal directions
        # candidate x author / category incidence, for the overlap features as sparse products
        self.author_col: dict[str, int] = {}
        self.cat_col: dict[str, int] = {}
        self.CA = self._incidence([[a.lower() for a in infos[i].get("authors", [])] for i in self.cand_ids],
                                  self.author_col)
        self.CC = self._incidence([infos[i].get("categories", []) for i in self.cand_ids], self.cat_col)
        self._PA: list[sp.csr_matrix] = []  # profile paper x candidate authors / categories
        self._PC: list[sp.csr_matrix] = []
        # the site's requests share a window: papers are added and rows read under one lock, so a
        # reader's weights and the rows they index always come from the same state
        self.lock = threading.RLock()

    @staticmethod
    def _incidence(lists: list[list[str]], cols: dict[str, int], grow: bool = True) -> sp.csr_matrix:
        r, c = [], []
        for i, names in enumerate(lists):
            for name in set(names):
                j = cols.setdefault(name, len(cols)) if grow else cols.get(name)
                if j is not None:
                    r.append(i)
                    c.append(j)
        return sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(lists), max(1, len(cols))))

    # -- profile papers -------------------------------------------------------------------------------
    def add_papers(self, ids) -> None:
        """Features of profile papers, computed once per window and shared by every reader."""
        with self.lock:
            self._add_papers(ids)

    def _add_papers(self, ids) -> None:
        new = new_with_text(ids, self._rows, self.infos, self.text_lookup)
        if not new:
            return
        for lo in range(0, len(new), 4000):  # bounded temporary memory for a day's many papers
            part = new[lo:lo + 4000]
            block = self.model.transform([self.infos[i]["text"] for i in part])
            base = self._G.n
            self._G.add((block @ self.CT).toarray() if self.cand_ids else np.zeros((len(part), 0), np.float32))
            self._V.add(np.asarray(block @ self.model.components.T) if self.k else np.zeros((len(part), 0)))
            self._blocks.append(block)
            self._PA.append(self._incidence([[a.lower() for a in self.infos[i].get("authors", [])] for i in part],
                                            self.author_col, grow=False))
            self._PC.append(self._incidence([self.infos[i].get("categories", []) for i in part], self.cat_col,
                                            grow=False))
            for k, pid in enumerate(part):
                self._rows[pid] = base + k
            self._ids.extend(part)

    def _stacked(self, name: str) -> sp.csr_matrix:
        blocks = getattr(self, name)
        if len(blocks) > 1:
            blocks[:] = [sp.vstack(blocks).tocsr()]
        return blocks[0]

    @property
    def mat(self) -> sp.csr_matrix:
        """Every profile paper's TF-IDF row (in the order of ``_rows``)."""
        if not self._blocks:
            return self._mat
        return self._stacked("_blocks")

    def known(self, ids) -> list[str]:
        return [i for i in ids if i in self._rows]

    def rows(self, ids: list[str]) -> sp.csr_matrix:
        return self.mat[[self._rows[i] for i in ids]]

    # -- scoring -------------------------------------------------------------------------------------------
    def _weights(self, readers) -> tuple[sp.csr_matrix, np.ndarray]:
        """readers x profile papers: each reader's normalised positive weights; and the padded
        (readers x longest profile) table of their papers' rows (-1 = none)."""
        r, c, v, lists = [], [], [], []
        for k, rd in enumerate(readers):
            pos = [self._rows[p] for p in rd.positives if p in self._rows]
            w = [rd.positives[p] ** RECENCY for p in rd.positives if p in self._rows]
            total = sum(w) or 1.0
            r.extend([k] * len(pos))
            c.extend(pos)
            v.extend(x / total for x in w)
            lists.append(pos)
        W = sp.csr_matrix((np.asarray(v, np.float32), (r, c)), shape=(len(readers), self._G.n))
        table = np.full((len(readers), max((len(x) for x in lists), default=0)), -1, np.int64)
        for k, pos in enumerate(lists):
            table[k, :len(pos)] = pos
        return W, table

    def features(self, readers) -> dict[str, np.ndarray]:
        """readers x candidates matrices of every feature (one block of readers)."""
        with self.lock:
            return self._features(readers)

    def _features(self, readers) -> dict[str, np.ndarray]:
        W, table = self._weights(readers)
        G = self._G.rows
        raw = np.asarray(W @ G, dtype=np.float32)  # readers x candidates: the weighted mean's dot products
        Q = W @ self.mat
        norms = np.sqrt(np.asarray(Q.multiply(Q).sum(axis=1)).ravel())
        out = {"centroid": raw / np.where(norms > 0, norms, 1.0)[:, None]}
        best = np.full(raw.shape, -1.0, np.float32)
        for j in range(table.shape[1]):  # the nearest profile paper's cosine
            have = table[:, j] >= 0
            if have.any():
                best[have] = np.maximum(best[have], G[table[have, j]])
        out["nearest"] = np.where(best < 0, 0.0, best)
        if self.k:
            # w = Σ⁻¹(q − μ) with Σ = V diag(ev) Vᵀ + ridge·I: (q − μ) minus its shrunk projection
            QV = np.asarray(W @ self._V.rows, dtype=np.float32) - self.mean_v[None, :]
            out["discriminant"] = raw - self.Cmu[None, :] - (QV * self.shrink[None, :]) @ self.CV.T
        ones = W.copy()
        ones.data[:] = 1.0
        sizes = np.maximum(1.0, np.asarray(ones.sum(axis=1)).ravel())[:, None]
        out["categories"] = self._overlap(ones, "_PC", self.CC) / sizes
        out["authors"] = np.log1p(self._overlap(ones, "_PA", self.CA))
        return out

    def _overlap(self, ones: sp.csr_matrix, name: str, M: sp.csr_matrix) -> np.ndarray:
        """readers x candidates: summed over a candidate's authors (categories), how many of the
        reader's papers carry them."""
        if not getattr(self, name):
            return np.zeros((ones.shape[0], len(self.cand_ids)), np.float32)
        return ((ones @ self._stacked(name)) @ M.T).toarray().astype(np.float32)

    def dismissed(self, reader) -> np.ndarray | None:
        neg = self.known([x for x in reader.negatives if x not in reader.positives])
        if not neg:
            return None
        return self._G.rows[[self._rows[x] for x in neg]].max(axis=0)

    def score(self, readers, settings) -> np.ndarray:
        """readers x candidates scores for one block of readers (their papers already added)."""
        n = len(self.cand_ids)
        if not readers or n == 0:
            return np.zeros((len(readers), n))
        f = self.features(readers)
        s = W_CENTROID * _z(f["centroid"]) + W_NEAREST * _z(f["nearest"])
        if "discriminant" in f:
            s += W_DISCRIMINANT * _z(f["discriminant"])
        s += W_CATEGORIES * f["categories"] + settings.rec_author_weight * f["authors"]
        for k, rd in enumerate(readers):
            if rd.negatives:
                d = self.dismissed(rd)
                if d is not None:
                    # in the centroid's units, so "not interested" can outweigh "close to your saved"
                    sd = f["centroid"][k].std() or 1.0
                    s[k] -= W_DISMISSED * d / sd
            if not rd.positives:
                s[k] = 0.0
        return s

    def score_many(self, readers, settings, block: int = BLOCK):
        """Yield (first reader index, scores block) over all readers, `block` readers at a time."""
        for start in range(0, len(readers), block):
            part = readers[start:start + block]
            self.add_papers([p for rd in part for p in rd.positives] + [p for rd in part for p in rd.negatives])
            yield start, self.score(part, settings)

    def nearest(self, reader, idx: list[int]) -> list[tuple[str | None, float]]:
        """For candidates `idx`: the most similar positive profile paper and its cosine (reasons)."""
        return self.nearest_many([reader], np.asarray([idx], np.int64))[0]

    def nearest_many(self, readers, top: np.ndarray) -> list[list[tuple[str | None, float]]]:
        """For each reader k and candidate top[k, j]: the reader's most similar profile paper."""
        with self.lock:
            _, table = self._weights(readers)
            G = self._G.rows
        ids = self._ids
        if table.shape[1] == 0 or top.shape[1] == 0:
            return [[(None, 0.0)] * top.shape[1] for _ in readers]
        sims = G[np.maximum(table, 0)[:, :, None], top[:, None, :]]  # readers x papers x top
        sims = np.where(table[:, :, None] >= 0, sims, -np.inf)
        j = sims.argmax(axis=1)
        best = np.take_along_axis(sims, j[:, None, :], axis=1)[:, 0, :]
        rows = np.take_along_axis(table, j, axis=1)
        return [[(ids[r], float(b)) if r >= 0 else (None, 0.0) for r, b in zip(rows[k].tolist(), best[k].tolist())]
                for k in range(len(readers))]


def _z(x: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=1, keepdims=True)
    sd = x.std(axis=1, keepdims=True)
    return (x - mu) / np.where(sd > 0, sd, 1.0)


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row's k best candidate indexes, best first (ties: the lower index first); -inf
    entries (papers not to show) come last."""
    n = scores.shape[1]
    k = min(k, n)
    if k <= 0:
        return np.zeros((scores.shape[0], 0), np.int64)
    idx = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (scores.shape[0], 1))
    idx.sort(axis=1)
    got = np.take_along_axis(scores, idx, axis=1)
    return np.take_along_axis(idx, np.argsort(-got, axis=1, kind="stable"), axis=1)


def trend_vector(cand_ids: list[str], trend: dict[str, float]) -> np.ndarray:
    tmax = max((v for v in trend.values() if v > 0), default=0.0)
    vec = np.array([math.log1p(max(0.0, trend.get(i, 0.0))) for i in cand_ids], np.float64)
    return vec / math.log1p(tmax) if tmax > 0 else vec
