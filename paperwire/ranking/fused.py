"""The default recommender ("fused"): every reader of a window scored together with matrix products.

Per reader and candidate paper it computes a few features and adds them with fixed weights:

- ``centroid``: cosine of the candidate to the reader's profile centroid (the recency-weighted
  mean of the profile papers' TF-IDF rows, in the store's background text model — words and
  bigrams, IDF from up to 100,000 papers; see textmodel.py), kept to its ``CENTROID_TERMS``
  strongest terms (the long tail of a centroid is noise and costs time);
- ``discriminant``: the candidate's score under a linear discriminant of the profile against the
  whole background with the background's shared low-rank covariance (textmodel.py); one matrix
  product for all readers instead of an SVM fit per reader;
- ``categories``: how many of the profile's papers carry each of the candidate's categories
  (a share, summed over the candidate's categories);
- ``authors``: log(1 + how many profile papers each of the candidate's authors wrote), the
  library's authors being part of what the reader imported (weight: setting rec_author_weight);
- ``dismissed``: cosine to the nearest "not interested" paper, subtracted;
- explicit follows (``rec_follow_bonus`` per matching category / author) and the trending prior.

The two text scores are standardised per reader over the window's candidates (z-scores), so one
set of weights fits readers with short and long profiles alike; the weights were chosen on a
tuning split of weeks by bench/recommend.py (docs/ranking.md says which).

All of it is sparse/dense matrix algebra over a block of readers at a time, so a day's digests
cost one feature pass over the candidates plus a few products per block of readers.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import scipy.sparse as sp

W_CENTROID = 1.0
W_DISCRIMINANT = 0.3
W_CATEGORIES = 0.5
W_DISMISSED = 1.0
W_TREND = 3.0  # times rec_trend_prior: the trending prior in z units
FOLLOW_SCALE = 10.0  # rec_follow_bonus is in the older recommenders' [0, 1] units; here, z units
RIDGE = 0.01  # the covariance's isotropic part: how far the discriminant trusts the background
CENTROID_TERMS = 300
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


class Window:
    """A window's candidates in the text model's space, shared by every reader of the window."""

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
        self.CV = np.asarray(self.C @ comps.T) if comps.shape[0] else np.zeros((n, 0), np.float32)
        shrink = model.variances / (model.variances + RIDGE) if comps.shape[0] else np.zeros(0)
        self.shrink = shrink.astype(np.float32)
        self.Cmu = np.asarray(self.C @ model.mean).ravel()
        self.trend = np.zeros(n) if trend is None else np.asarray(trend, np.float64)
        self._rows: dict[str, int] = {}
        self._mat = sp.csr_matrix((0, model.dim), dtype=np.float32)
        # candidate x author / category incidence, for the overlap features as sparse products
        self.author_col: dict[str, int] = {}
        self.cat_col: dict[str, int] = {}
        self.CA = self._incidence([[a.lower() for a in infos[i].get("authors", [])] for i in self.cand_ids],
                                  self.author_col)
        self.CC = self._incidence([infos[i].get("categories", []) for i in self.cand_ids], self.cat_col)

    @staticmethod
    def _incidence(lists: list[list[str]], cols: dict[str, int]) -> sp.csr_matrix:
        r, c = [], []
        for i, names in enumerate(lists):
            for name in set(names):
                r.append(i)
                c.append(cols.setdefault(name, len(cols)))
        return sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(lists), max(1, len(cols))))

    # -- profile papers -------------------------------------------------------------------------------
    def add_papers(self, ids) -> None:
        """TF-IDF rows for profile papers, transformed once per window and shared by readers."""
        new = new_with_text(ids, self._rows, self.infos, self.text_lookup)
        if not new:
            return
        block = self.model.transform([self.infos[i]["text"] for i in new])
        base = self._mat.shape[0]
        for k, pid in enumerate(new):
            self._rows[pid] = base + k
        self._mat = sp.vstack([self._mat, block]).tocsr()

    def known(self, ids) -> list[str]:
        return [i for i in ids if i in self._rows]

    def rows(self, ids: list[str]) -> sp.csr_matrix:
        return self._mat[[self._rows[i] for i in ids]]

    # -- scoring -------------------------------------------------------------------------------------------
    def _weights(self, readers) -> sp.csr_matrix:
        """readers x profile-paper rows: each reader's normalised positive weights."""
        r, c, v = [], [], []
        for k, rd in enumerate(readers):
            pos = self.known(list(rd.positives))
            w = [rd.positives[p] ** RECENCY for p in pos]
            total = sum(w) or 1.0
            for p, wp in zip(pos, w):
                r.append(k)
                c.append(self._rows[p])
                v.append(wp / total)
        return sp.csr_matrix((np.asarray(v, np.float32), (r, c)), shape=(len(readers), self._mat.shape[0]))

    def _overlap(self, readers, attr: str, cols: dict[str, int], M: sp.csr_matrix, lower: bool) -> np.ndarray:
        """readers x candidates: sum over a candidate's authors (categories) of how many profile
        papers carry them."""
        r, c, v = [], [], []
        for k, rd in enumerate(readers):
            counts = Counter()
            for p in self.known(list(rd.positives)):
                for name in set(self.infos[p].get(attr, [])):
                    counts[name.lower() if lower else name] += 1
            for name, n in counts.items():
                j = cols.get(name)
                if j is not None:
                    r.append(k)
                    c.append(j)
                    v.append(n)
        R = sp.csr_matrix((np.asarray(v, np.float32), (r, c)), shape=(len(readers), M.shape[1]))
        return np.asarray((R @ M.T).todense(), dtype=np.float32)

    def features(self, readers) -> dict[str, np.ndarray]:
        """readers x candidates matrices of every feature (one block of readers)."""
        W = self._weights(readers)
        Q = (W @ self._mat).tocsr()  # recency-weighted profile means
        Q = _prune(Q, CENTROID_TERMS)
        norms = np.sqrt(np.asarray(Q.multiply(Q).sum(axis=1)).ravel())
        raw = np.asarray((Q @ self.CT).todense(), dtype=np.float32)  # readers x candidates
        out = {"centroid": raw / np.where(norms > 0, norms, 1.0)[:, None]}
        if self.CV.shape[1]:
            # w = Σ⁻¹(q − μ) with Σ = V diag(ev) Vᵀ + ridge·I: (q − μ) minus its shrunk projection
            QV = np.asarray(Q @ self.model.components.T) - (self.model.components @ self.model.mean)[None, :]
            out["discriminant"] = raw - self.Cmu[None, :] - (QV * self.shrink[None, :]) @ self.CV.T
        profile_sizes = np.array([max(1, len(self.known(list(rd.positives)))) for rd in readers], np.float32)
        out["categories"] = self._overlap(readers, "categories", self.cat_col, self.CC, False) / profile_sizes[:, None]
        out["authors"] = np.log1p(self._overlap(readers, "authors", self.author_col, self.CA, True))
        return out

    def dismissed(self, reader) -> np.ndarray | None:
        neg = self.known([x for x in reader.negatives if x not in reader.positives])
        if not neg:
            return None
        return np.asarray((self.rows(neg) @ self.CT).todense()).max(axis=0).ravel()

    def score(self, readers, settings) -> np.ndarray:
        """readers x candidates scores for one block of readers (their papers already added)."""
        n = len(self.cand_ids)
        if not readers or n == 0:
            return np.zeros((len(readers), n))
        f = self.features(readers)
        s = W_CENTROID * _z(f["centroid"])
        if "discriminant" in f:
            s += W_DISCRIMINANT * _z(f["discriminant"])
        s += W_CATEGORIES * f["categories"] + settings.rec_author_weight * f["authors"]
        for k, rd in enumerate(readers):
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
        pos = self.known(list(reader.positives))
        if not pos or not idx:
            return [(None, 0.0)] * len(idx)
        S = np.asarray((self.C[idx] @ self.rows(pos).T).todense())
        j = S.argmax(axis=1)
        return [(pos[j[k]], float(S[k, j[k]])) for k in range(len(idx))]


def _z(x: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=1, keepdims=True)
    sd = x.std(axis=1, keepdims=True)
    return (x - mu) / np.where(sd > 0, sd, 1.0)


def _prune(Q: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row's `keep` largest entries."""
    Q = Q.tocsr()
    Q.sort_indices()
    lens = np.diff(Q.indptr)
    if lens.size == 0 or lens.max() <= keep:
        return Q
    data, indices, indptr = [], [], [0]
    for i in range(Q.shape[0]):
        lo, hi = Q.indptr[i], Q.indptr[i + 1]
        d, c = Q.data[lo:hi], Q.indices[lo:hi]
        if hi - lo > keep:
            top = np.argpartition(-d, keep)[:keep]
            d, c = d[top], c[top]
        data.append(d)
        indices.append(c)
        indptr.append(indptr[-1] + len(d))
    return sp.csr_matrix((np.concatenate(data), np.concatenate(indices), np.asarray(indptr)), shape=Q.shape)


def top_k(scores: np.ndarray, k: int, skip: list[set[int]] | None = None) -> list[list[int]]:
    """Best-first candidate indexes per row (ties by index), leaving out each row's `skip`."""
    out = []
    n = scores.shape[1]
    for r in range(scores.shape[0]):
        s = scores[r]
        bad = skip[r] if skip else ()
        want = min(n, k + len(bad))
        idx = np.argpartition(-s, want - 1)[:want] if want < n else np.arange(n)
        idx = sorted(idx, key=lambda i: (-s[i], i))
        out.append([int(i) for i in idx if i not in bad][:k])
    return out


def trend_vector(cand_ids: list[str], trend: dict[str, float]) -> np.ndarray:
    tmax = max((v for v in trend.values() if v > 0), default=0.0)
    vec = np.array([math.log1p(max(0.0, trend.get(i, 0.0))) for i in cand_ids], np.float64)
    return vec / math.log1p(tmax) if tmax > 0 else vec
