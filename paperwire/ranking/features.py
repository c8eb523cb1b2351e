"""Text and embedding features of the similarity, classifier and blend recommenders: TF-IDF
fitted per window, an encoder's vectors, or the search index's stored vectors."""

from __future__ import annotations

import numpy as np


class TfidfFeatures:
    """TF-IDF rows (L2-normalised) for any paper; the vocabulary/IDF is fit once per Day."""

    def __init__(self, fit_texts: list[str], max_features: int = 50000):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vec = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2, max_df=0.5,
                                   max_features=max_features, dtype=np.float32,
                                   token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9\-]+\b")
        try:
            self.vec.fit(fit_texts)
        except ValueError:  # tiny corpora: every term in fewer than min_df papers
            self.vec.set_params(min_df=1, max_df=1.0)
            self.vec.fit(fit_texts)
        self.terms = self.vec.get_feature_names_out()
        self.sparse = True

    def transform(self, texts: list[str]):
        return self.vec.transform(texts)


class EncoderFeatures:
    """Dense, L2-normalised vectors from an encoder (paperwire.search.encoders.load_encoder); the offline
    benchmark uses this for the embedding variant without building a search index."""

    sparse = False
    terms = None

    def __init__(self, encoder):
        self.encoder = encoder

    def rows(self, ids: list[str], texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), np.float32)
        return np.asarray(self.encoder.encode(list(texts)), dtype=np.float32)


class EmbeddingFeatures:
    """The search index's stored vectors; papers without one are encoded on the fly.
    `engine`: the process's search engine (anything with ``paper_vectors(ids)`` and
    ``encode(texts)``)."""

    sparse = False
    terms = None

    def __init__(self, engine):
        self.engine = engine

    def rows(self, ids: list[str], texts: list[str]) -> np.ndarray:
        got = self.engine.paper_vectors(ids)
        missing = [i for i, pid in enumerate(ids) if pid not in got]
        dim = len(next(iter(got.values()))) if got else None
        if missing:
            enc = self.engine.encode([texts[i] for i in missing])
            for i, v in zip(missing, enc):
                got[ids[i]] = v
            dim = enc.shape[1]
        return np.stack([np.asarray(got[pid], dtype=np.float32) for pid in ids]) if ids else np.zeros((0, dim or 1), np.float32)
