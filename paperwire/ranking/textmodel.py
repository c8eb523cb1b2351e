"""The recommenders' text features: one TF-IDF space for every window and every reader.

A vocabulary fitted on a small window sees too little text: rare but telling phrases ("tensor
programs", "infinite width") fall under its document-frequency floor, and the IDF of a week is a
noisy estimate. So the vocabulary (words and bigrams) and the document frequencies are fitted
once on a large background — the store's most recent ``MAX_BACKGROUND`` papers — kept on disk
beside the database, and brought up to date incrementally: papers added since the last fit only
add to the document frequencies (the vocabulary stays, so every stored row stays comparable).
The model is refitted from scratch only when the store has grown to twice the size it was
fitted on (new fields bring new words).

Besides the IDF, the model keeps a low-rank picture of the background's covariance (the top
``RANK`` principal directions of the TF-IDF rows and their variances). With it, a reader's
classifier has a closed form shared by everybody: a linear discriminant with a shared
covariance, w = Σ⁻¹(μ_profile − μ_background), so thousands of readers are "trained" against the
whole background with a few matrix products instead of one SVM fit each.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

# Word and bigram features; tokens start with a letter, so numbers and years are not topics.
VECTORIZER = dict(strip_accents="unicode", lowercase=True, stop_words="english",
                  token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2))
MAX_FEATURES = 40000
MIN_DF = 3
MAX_DF = 0.1
MAX_BACKGROUND = 100000
RANK = 128
VERSION = 2  # 2: no scikit-learn object inside (loading one imported all of scikit-learn)


class Analyzer:
    """The words and bigrams of a text, exactly as scikit-learn's CountVectorizer(**VECTORIZER)
    finds them (a test compares the two), without importing scikit-learn: a command that only
    scores papers starts 0.8 s sooner."""

    def __init__(self, stop_words):
        self.stop_words = frozenset(stop_words)
        self.pattern = re.compile(VECTORIZER["token_pattern"])

    def words(self, text: str) -> list[str]:
        """The text's words, in order, stop words left out."""
        text = text.lower()
        if not text.isascii():
            text = unicodedata.normalize("NFKD", text)
            marks = {ord(c): None for c in set(text) if not c.isascii() and unicodedata.combining(c)}
            if marks:
                text = text.translate(marks)
        stop = self.stop_words
        return [w for w in self.pattern.findall(text) if w not in stop]

    def __call__(self, text: str) -> list[str]:
        words = self.words(text)
        return words + [a + " " + b for a, b in zip(words, words[1:])]

    def __getstate__(self):
        return sorted(self.stop_words)

    def __setstate__(self, state):
        self.__init__(state)


class TextModel:
    """Vocabulary, document frequencies and the background's principal directions."""

    def __init__(self, vocabulary: dict[str, int], df: np.ndarray, n_docs: int, max_rowid: int = 0,
                 stop_words=()):
        self.vocabulary = vocabulary
        self.df = df.astype(np.float64)
        self.n_docs = int(n_docs)
        self.fitted_docs = int(n_docs)
        self.max_rowid = int(max_rowid)
        self.analyzer = Analyzer(stop_words)
        # a new token per fit: features kept on disk name the fit (vocabulary) they belong to
        self.fit_id = os.urandom(8).hex()
        self._terms = None
        self.components = np.zeros((0, len(vocabulary)), np.float32)  # RANK x V, orthonormal rows
        self.variances = np.zeros(0)
        self.mean = np.zeros(len(vocabulary), np.float32)
        self._idf()

    @property
    def terms(self) -> np.ndarray:
        if self._terms is None:
            self._terms = np.array(sorted(self.vocabulary, key=self.vocabulary.get), dtype=object)
        return self._terms

    def counts(self, texts: list[str]) -> sp.csr_matrix:
        """Term counts (texts x vocabulary) of the vocabulary's words and bigrams."""
        get, analyze = self.vocabulary.get, self.analyzer
        indptr, indices = [0], []
        for text in texts:
            indices.extend([j for j in map(get, analyze(text)) if j is not None])
            indptr.append(len(indices))
        m = sp.csr_matrix((np.ones(len(indices), np.float32), np.asarray(indices, np.int32),
                           np.asarray(indptr, np.int64)), shape=(len(texts), self.dim))
        m.sum_duplicates()  # repeated terms become counts
        return m

    # -- fitting and updating ---------------------------------------------------------------------
    @classmethod
    def fit(cls, texts: list[str], max_rowid: int = 0, rank: int = RANK) -> "TextModel":
        from sklearn.feature_extraction.text import CountVectorizer

        n = len(texts)
        # a small store (tests, a fresh install) cannot afford the floors meant for 100,000 papers
        min_df = MIN_DF if n >= 2000 else 1
        max_df = MAX_DF if n >= 2000 else 1.0
        cv = CountVectorizer(min_df=min_df, max_df=max_df, max_features=MAX_FEATURES, dtype=np.float32, **VECTORIZER)
        try:
            counts = cv.fit_transform(texts)
        except ValueError:  # no usable word at all (empty store): an empty vocabulary
            model = cls({}, np.zeros(0), n, max_rowid, cv.get_stop_words())
            return model
        df = np.asarray((counts > 0).sum(axis=0)).ravel()
        model = cls({t: int(j) for t, j in cv.vocabulary_.items()}, df, n, max_rowid, cv.get_stop_words())
        model._fit_components(model._weigh(counts), rank)
        return model

    def _fit_components(self, X, rank: int) -> None:
        from sklearn.utils.extmath import randomized_svd

        k = min(rank, X.shape[0] - 1, X.shape[1] - 1)
        self.mean = np.asarray(X.mean(axis=0), dtype=np.float32).ravel()
        if k < 2:
            return
        _, s, vt = randomized_svd(X, k, n_iter=3, random_state=0)
        self.components = vt.astype(np.float32)
        self.variances = (s ** 2) / X.shape[0]

    def update(self, texts: list[str], max_rowid: int) -> None:
        """Count papers added since the last fit or update into the document frequencies."""
        if texts and self.vocabulary:
            counts = self.counts(texts)
            self.df += np.asarray((counts > 0).sum(axis=0)).ravel()
        self.n_docs += len(texts)
        self.max_rowid = max(self.max_rowid, int(max_rowid))
        self._idf()

    def _idf(self) -> None:
        self.idf = (np.log((1.0 + self.n_docs) / (1.0 + self.df)) + 1.0).astype(np.float32)

    # -- features -----------------------------------------------------------------------------------
    def _weigh(self, counts) -> sp.csr_matrix:
        """Sublinear TF times IDF, each row L2-normalised (in place on a copy: no diagonal products)."""
        X = sp.csr_matrix(counts, dtype=np.float32, copy=True)
        X.data = (1.0 + np.log(X.data)) * self.idf[X.indices]
        lens = np.diff(X.indptr)
        rows = np.repeat(np.arange(X.shape[0]), lens)
        norms = np.sqrt(np.bincount(rows, weights=X.data.astype(np.float64) ** 2, minlength=X.shape[0]))
        X.data /= norms[rows].astype(np.float32)
        return X

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """L2-normalised TF-IDF rows (sublinear term frequency) for the texts."""
        if not self.vocabulary:
            return sp.csr_matrix((len(texts), 1), dtype=np.float32)
        return self._weigh(self.counts(texts))

    def transform_kept(self, ids: list[str], texts: list[str]) -> sp.csr_matrix:
        """transform(texts), with the term counts kept on disk beside the model (``cache_dir``) under
        a hash of this fit, the ids and the texts: a window's candidates are counted once, not by
        every command that serves them (counting 1,500 abstracts takes about a second)."""
        folder = getattr(self, "cache_dir", None)
        if folder is None or len(texts) < KEEP_MIN or not self.vocabulary:
            return self.transform(texts)
        h = hashlib.sha1(self.fit_id.encode())
        for pid, text in zip(ids, texts):
            h.update(pid.encode() + b"\0" + text.encode("utf-8", "surrogatepass") + b"\1")
        path = Path(folder) / f"counts-{h.hexdigest()[:24]}.npz"
        try:
            counts = sp.load_npz(path).tocsr()
            if counts.shape == (len(texts), self.dim):
                return self._weigh(counts)
        except Exception:  # missing, half-written by a crash, or not ours: count again
            pass
        counts = self.counts(texts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".counts-", suffix=".npz")
            with os.fdopen(fd, "wb") as fh:
                sp.save_npz(fh, counts)
            os.replace(tmp, path)
            _prune_kept(path.parent)
        except OSError as exc:  # a read-only data folder: counted again next time
            log.debug("could not keep window counts (%s)", exc)
        return self._weigh(counts)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("cache_dir", None)
        state["_terms"] = None
        return state

    @property
    def dim(self) -> int:
        return max(1, len(self.vocabulary))


KEEP_MIN = 200  # fewer texts than this are counted faster than a file is read
KEEP_FILES = 16  # windows whose counts are kept (the newest)


def _prune_kept(folder: Path) -> None:
    files = sorted(folder.glob("counts-*.npz"), key=lambda f: f.stat().st_mtime, reverse=True)
    for old in files[KEEP_FILES:]:
        old.unlink(missing_ok=True)


# -- persistence: one model per store, beside the database ---------------------------------------------

def model_path(settings) -> Path:
    return settings.data_path / "recommend" / "text-model.pkl"


def _load(path: Path) -> TextModel | None:
    try:
        with open(path, "rb") as fh:
            version, model = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError):
        return None
    return model if version == VERSION else None


def _save(model: TextModel, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".text-model-")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((VERSION, model), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # readers see the old model or the new one, never half of one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_MODELS: dict[str, TextModel] = {}


def text_model(store, settings, persist: bool = True) -> TextModel:
    """The store's text model: loaded from disk (or memory), updated with papers added since, or
    fitted when there is none or the store has doubled since the fit."""
    from paperwire.store import profiles as prof_store

    path = model_path(settings)
    model = _MODELS.get(str(path)) or (_load(path) if path.exists() else None)
    total, max_rowid = prof_store.paper_count(store)
    if model is None or total > 2 * max(model.fitted_docs, 1) or max_rowid < model.max_rowid:
        texts, max_rowid = prof_store.recent_texts(store, MAX_BACKGROUND)
        log.info("recommendations: fitting the text model on %d papers", len(texts))
        model = TextModel.fit(texts, max_rowid)
        changed = True
    else:
        texts, new_max = prof_store.texts_after_rowid(store, model.max_rowid)
        changed = bool(texts)
        if changed:
            model.update(texts, new_max)
    if changed and persist:
        try:
            _save(model, path)
        except OSError as exc:  # a read-only data folder: the model still serves this process
            log.warning("could not save the recommendations' text model (%s)", exc)
    model.cache_dir = path.parent
    _MODELS[str(path)] = model
    return model
