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


def test_own_word_analysis_matches_scikit_learn(tmp_path):
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [f"{p.title}. {p.abstract}" for p in _papers(400)]
    texts += ["Café naïve Ünïcode: the Schrödinger equation, résumé of x2 and 2x; don't re-use e.g. GPT-4o",
              "", "the and of", "ＦＵＬＬ-width Ｔｅｘｔ ﬁne ligatures"]
    cv = CountVectorizer(dtype=np.float32, **textmodel.VECTORIZER).fit(texts)
    ours = textmodel.TextModel({t: int(j) for t, j in cv.vocabulary_.items()}, np.ones(len(cv.vocabulary_)), len(texts),
                               stop_words=cv.get_stop_words())
    theirs = cv.transform(texts)
    mine = ours.counts(texts)
    assert mine.shape == theirs.shape and abs(mine - theirs).sum() == 0
    # and the weighting: sublinear tf times idf, rows of unit length (an empty text stays empty)
    row = ours.transform(texts[:1] + [""])
    assert abs(float(row[0].multiply(row[0]).sum()) - 1.0) < 1e-5 and row[1].nnz == 0


def test_scoring_needs_no_scikit_learn_and_counts_a_window_once(tmp_path):
    """A new process scoring with a stored model imports no scikit-learn (0.8 s of a command's
    start) and reads the window's counts kept by the first one."""
    import subprocess
    import sys

    st, s = _store_of(tmp_path, 2400)
    _load(st, s)  # fitted here, in this process
    code = (
        "import sys, json\n"
        "from paperwire.config import Settings\n"
        "from paperwire.store import open_store\n"
        "from paperwire.ranking import textmodel\n"
        f"s = Settings.load(env={{}}, db={str(tmp_path / 'tm.db')!r}); st = open_store(s.db)\n"
        "m = textmodel.text_model(st, s)\n"
        "texts = [r[0] for r in st.query('SELECT abstract_display FROM papers ORDER BY id LIMIT 500')]\n"
        "X = m.transform_kept([str(i) for i in range(len(texts))], texts)\n"
        "print(json.dumps({'sk': any(k.startswith('sklearn') for k in sys.modules), 'sum': float(X.sum()),"
        " 'nnz': int(X.nnz)}))\n")
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                      cwd=tmp_path).stdout) for _ in range(2)]
    assert runs[0]["sk"] is False and runs[1]["sk"] is False
    assert runs[0]["nnz"] > 0 and runs[0] == runs[1]
    assert len(list(textmodel.model_path(s).parent.glob("counts-*.npz"))) == 1
    st.close()
