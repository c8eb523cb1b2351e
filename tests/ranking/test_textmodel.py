"""The recommenders' background text model: fitted once on the store's papers (words and
bigrams), kept beside the database, updated incrementally as papers arrive, refitted when the
store has doubled."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.ranking import textmodel
from paperwire.store import open_store
from paperwire.store.papers import upsert_papers

DEMO = Path(__file__).parents[2] / "demo" / "records.jsonl.gz"


def _papers(n: int, skip: int = 0) -> list[Paper]:
    out = []
    with gzip.open(DEMO, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i < skip:
                continue
            if len(out) >= n:
                break
            r = json.loads(line)
            out.append(Paper(id=r["id"], title=r["title"], abstract=r.get("summary") or "", listed=r["listing_date"]))
    return out


def _store_of(tmp_path, n: int):
    """A fresh store holding the demo's first n papers, and its settings."""
    db = tmp_path / "tm.db"
    st = open_store(db)
    upsert_papers(st, _papers(n), source="listing")
    return st, Settings.load(env={}, db=str(db))


def _load(st, s):
    """The text model as a new process gets it (nothing cached in memory)."""
    textmodel._MODELS.clear()
    return textmodel.text_model(st, s)


def test_fitted_once_persisted_and_updated_incrementally(tmp_path):
    st, s = _store_of(tmp_path, 2400)
    m = _load(st, s)
    assert textmodel.model_path(s).exists()
    assert m.n_docs == 2400 and m.components.shape[0] > 0
    assert any(" " in t for t in m.terms)  # bigrams
    vocab, df = dict(m.vocabulary), m.df.copy()
    row = m.transform(["Diffusion models for image segmentation with vision transformers"])
    assert abs(float(row.multiply(row).sum()) - 1.0) < 1e-5

    # a new process loads it from disk instead of fitting again
    again = _load(st, s)
    assert again.vocabulary == vocab and again.n_docs == 2400

    # new papers only add to the document frequencies: same vocabulary, rows stay comparable
    upsert_papers(st, _papers(300, skip=2400), source="listing")
    up = _load(st, s)
    assert up.vocabulary == vocab and up.n_docs == 2700 and up.fitted_docs == 2400
    assert (up.df >= df).all() and up.df.sum() > df.sum()
    assert np.isclose(up.idf, np.log((1 + 2700) / (1 + up.df)) + 1).all()
    st.close()


def test_refit_when_the_store_has_doubled_and_a_broken_file_is_ignored(tmp_path):
    st, s = _store_of(tmp_path, 500)
    first = _load(st, s)
    assert first.fitted_docs == 500
    upsert_papers(st, _papers(600, skip=500), source="listing")
    second = _load(st, s)
    assert second.fitted_docs == 1100 and second.n_docs == 1100
    textmodel.model_path(s).write_bytes(b"not a pickle")
    third = _load(st, s)  # refitted, not a crash
    assert third.fitted_docs == 1100
    st.close()
