"""paperwire.store.search_index: the FTS5 index kept by triggers, filters, the docid map, the change
log for external indexes and the stored vectors."""

from __future__ import annotations

import time

import numpy as np
import pytest

from paperwire.models import Paper, Version
from paperwire.store import changes
from paperwire.store import search_index as si
from paperwire.store import users
from paperwire.store.papers import upsert_papers

A, B, C, D = "2501.00701", "2501.00702", "2501.00703", "2501.00704"
ALL = si.FilterSQL()
TITLE_FIRST, ABSTRACT_FIRST = (10.0, 1.0, 1.0), (1.0, 10.0, 1.0)


@pytest.fixture
def corpus(store, put):
    put(A, "Graph Neural Networks.", abstract="We study message passing.", authors=["Ann Lee"],
        categories=["cs.LG"], listed="2025-01-06", comments="Code: https://github.com/ann/gnn")
    put(B, "Cooking with graphs", abstract="Recipes as graph structures.", authors=["Bob Ray"],
        categories=["cs.AI"], listed="2025-01-07")
    put(C, "Protein folding", abstract="Neural methods for proteins.", authors=["Ann Lee", "Cy"],
        categories=["q-bio.BM", "cs.LG"], version_dates=("2025-01-03T08:00:00Z",))
    put(D, "Graph theory revisited", abstract="Old results.", listed="2025-01-05")
    users.set_paper_hidden(store, D)
    return si.docs_for_papers(store, [A, B, C, D])


def ids(rows) -> list[str]:
    return [row[1] for row in rows]


def test_every_stored_paper_gets_a_document(store, corpus):
    assert set(corpus) == {A, B, C, D} and si.doc_count(store) == 4
    assert si.papers_for_docs(store, corpus.values()) == {docid: pid for pid, docid in corpus.items()}
    assert si.max_docid(store) == max(corpus.values())
    after_first = si.docs_after(store, corpus[A])
    assert [(docid, title) for docid, title, _, _ in after_first] == [
        (corpus[B], "Cooking with graphs"), (corpus[C], "Protein folding"), (corpus[D], "Graph theory revisited")]


def test_column_weights_decide_between_a_title_and_an_abstract_match(store, corpus):
    assert ids(si.lexical(store, '"neural"', TITLE_FIRST, ALL, limit=10)) == [A, C]
    assert ids(si.lexical(store, '"neural"', ABSTRACT_FIRST, ALL, limit=10)) == [C, A]
    assert ids(si.lexical(store, '"neural"', TITLE_FIRST, ALL, limit=1, offset=1)) == [C]


def test_matches_are_stemmed_and_hidden_papers_never_come_back(store, corpus):
    # "graphs" in B's title and "graph" in its abstract both stem to graph; D is hidden
    assert sorted(ids(si.lexical(store, '"graph"', TITLE_FIRST, ALL, limit=10))) == [A, B]
    assert si.hidden_docids(store) == {corpus[D]}
    assert si.find_visible(store, A) == corpus[A] and si.find_visible(store, D) is None


@pytest.mark.parametrize("filters, expected", [
    (dict(categories=["cs.LG"]), [A, C]),
    (dict(categories=["cs.AI", "q-bio.BM"]), [C]),
    (dict(has_code=True), [A]),
    (dict(date_from="2025-01-04"), [A]),  # C's publication day 2025-01-03 stands for it
    (dict(date_to="2025-01-05"), [C]),
    (dict(date_from="2025-01-01", date_field="listed"), [A]),  # C was never listed
    (dict(author="ann lee"), [A, C]),
    (dict(author="%"), []),  # a LIKE wildcard is matched literally
    (dict(categories=["cs.LG"], author="Cy"), [C]),
])
def test_filters_narrow_a_lexical_search(store, corpus, filters, expected):
    flt = si.filter_sql(**filters)
    assert sorted(ids(si.lexical(store, '"neural"', TITLE_FIRST, flt, limit=10))) == expected
    assert si.lexical_count(store, '"neural"', flt) == len(expected)


def test_filters_alone_list_the_newest_visible_papers(store, corpus):
    assert ids(si.filtered_latest(store, ALL, limit=10)) == [B, A, C]
    assert ids(si.filtered_latest(store, si.filter_sql(categories=["cs.LG"]), limit=1, offset=1)) == [C]
    assert si.filtered_count(store, ALL) == 3 and si.filtered_count(store, ALL, cap=2) == 2
    assert sorted(si.filtered_docids(store, si.filter_sql(categories=["cs.LG"]), cap=2)) == sorted(
        [corpus[A], corpus[C]])
    assert si.filtered_docids(store, ALL, cap=2) is None  # three pass: more than the cap


def test_keep_matching_drops_hidden_filtered_and_unmatched_documents(store, corpus):
    every = list(corpus.values())
    assert si.keep_matching(store, every, ALL) == {corpus[A], corpus[B], corpus[C]}
    assert si.keep_matching(store, every, ALL, match='"graph"') == {corpus[A], corpus[B]}
    assert si.keep_matching(store, every, si.filter_sql(categories=["cs.LG"])) == {corpus[A], corpus[C]}


def test_document_info_and_the_exact_title_key(store, corpus):
    assert si.doc_info(store, [corpus[A]]) == {corpus[A]: {
        "paper_id": A, "title": "Graph Neural Networks.", "abstract": "We study message passing.",
        "date": "2025-01-06"}}
    assert si.find_by_title_key(store, "graph neural networks") == [(corpus[A], A)]
    assert si.find_by_title_key(store, "graph theory revisited") == []  # hidden


def _wipe_lexical(store) -> None:
    """Lose every word of the lexical index (what a damaged or half-restored index looks like):
    SQLite's FTS5 table emptied, PostgreSQL's weighted documents blanked."""
    if store.dialect == "postgresql":
        store.conn.execute("UPDATE search_docs SET tsv = ''::tsvector")
    else:
        store.conn.execute("INSERT INTO papers_fts(papers_fts) VALUES ('delete-all')")


def test_a_wiped_index_is_rebuilt_from_the_papers(store, corpus):
    _wipe_lexical(store)
    assert si.lexical(store, '"graph"', TITLE_FIRST, ALL, limit=10) == []
    assert si.rebuild_lexical(store) == 4
    si.optimize_lexical(store)
    assert sorted(ids(si.lexical(store, '"graph"', TITLE_FIRST, ALL, limit=10))) == [A, B]
    assert si.docs_for_papers(store, [A, B, C, D]) == corpus  # the documents keep their numbers


def _follow(store, position: dict, want: int = 1, wait: float = 30.0) -> tuple[dict, list]:
    """What an index folder following the store reads next (paperwire.store.changes), as it
    would: read, apply, acknowledge. PostgreSQL hands out a transaction's rows once every older
    transaction on the server has ended, so this reads again (for up to `wait` s) until at least
    `want` documents came back."""
    got: dict = {}
    deadline = time.monotonic() + wait
    while True:
        batch = changes.read(store, position)
        changes.acknowledge(store, batch)
        position = batch.position
        got.update(batch.changed)
        if len(got) >= want or time.monotonic() > deadline:
            return position, sorted(got.items())
        time.sleep(0.05)


def test_a_changed_title_is_searchable_at_once_and_logged_for_external_indexes(store, corpus):
    # a folder that has read every document there is (a first read notes where the log stands)
    position, seen = _follow(store, {"synced": si.max_docid(store)}, want=0)
    assert seen == []
    upsert_papers(store, [Paper(id=C, title="Protein design", abstract="Neural methods for proteins.",
                                authors=["Ann Lee", "Cy"], versions=[Version(1, "2025-01-03T08:00:00Z"),
                                                                     Version(2, "2025-01-09T08:00:00Z")])], "oai")
    assert ids(si.lexical(store, '"design"', TITLE_FIRST, ALL, limit=10)) == [C]
    assert si.lexical(store, '"folding"', TITLE_FIRST, ALL, limit=10) == []
    position, seen = _follow(store, position)
    assert seen == [(corpus[C], ("Protein design", "Neural methods for proteins.", '["Ann Lee", "Cy"]'))]
    store.conn.execute("DELETE FROM papers WHERE id=?", (B,))
    position, seen = _follow(store, position)
    assert seen == [(corpus[B], None)]  # gone: the folder deletes it
    assert _follow(store, position, want=0)[1] == []  # what was read is not handed out again


def test_a_tail_search_sees_only_documents_added_after_a_docid(store, corpus):
    after = corpus[B]
    assert ids(si.lexical_tail(store, '"neural"', TITLE_FIRST, after, limit=10)) == [C]
    assert si.lexical_tail(store, '"graph"', TITLE_FIRST, si.max_docid(store), limit=10) == []


# -- vectors -------------------------------------------------------------------------------------

def embed_all(store, model: str) -> list[tuple[int, str, str]]:
    batches = list(si.docs_to_embed(store, model, batch=3))
    return [row for batch in batches for row in batch]


def settled_seq(store, model: str, above: int = 0, wait: float = 30.0) -> int:
    """vector_seq once it has passed `above`. PostgreSQL numbers a write by its transaction and
    gives a number only once every older transaction on the server has ended (other tests' may
    be running): read again, as a host following the store does, for up to `wait` s."""
    deadline = time.monotonic() + wait
    while (seq := si.vector_seq(store, model)) <= above and time.monotonic() < deadline:
        time.sleep(0.05)
    return seq


def test_vectors_are_stored_once_per_text_and_read_back(store, corpus):
    todo = embed_all(store, "m")
    assert [docid for docid, _, _ in todo] == sorted(corpus.values())
    text_of = {docid: text for docid, text, _ in todo}
    assert text_of[corpus[A]] == "Graph Neural Networks.. We study message passing."
    assert all(h == si.text_hash(text) for _, text, h in todo)
    assert (si.vector_seq(store, "m"), si.vector_seq(store, "other")) == (0, 0)
    vectors = np.arange(len(todo) * 4, dtype=np.float32).reshape(len(todo), 4) / 8
    si.save_vectors(store, "m", [(docid, h) for docid, _, h in todo], vectors)
    assert si.count_to_embed(store, "m") == 0 and si.count_to_embed(store, "other") == 4
    seq = settled_seq(store, "m")
    assert (si.vector_count(store, "m"), seq > 0, si.vector_seq(store, "other")) == (4, True, 0)
    got = si.get_vectors(store, "m", [todo[1][0]])
    np.testing.assert_allclose(got[todo[1][0]], vectors[1], rtol=1e-3)
    ((docids, matrix),) = list(si.iter_vectors(store, "m", upto_seq=seq))  # all of one write
    assert list(docids) == [docid for docid, _, _ in todo] and matrix.dtype == np.float32
    np.testing.assert_allclose(matrix, vectors, rtol=1e-3)
    assert list(si.iter_vectors(store, "m", after_seq=seq)) == []


def test_only_changed_text_is_embedded_again(store, corpus):
    todo = embed_all(store, "m")
    si.save_vectors(store, "m", [(docid, h) for docid, _, h in todo], np.ones((len(todo), 2), dtype=np.float32))
    first = settled_seq(store, "m")
    # marked dirty without a text change: only the mark is cleared
    store.conn.execute("UPDATE search_docs SET dirty = 1 WHERE docid = ?", (corpus[B],))
    assert si.count_to_embed(store, "m") == 1
    assert embed_all(store, "m") == [] and si.count_to_embed(store, "m") == 0
    upsert_papers(store, [Paper(id=A, title="Graph networks, revised", versions=[Version(1, "2025-01-10T00:00:00Z")])],
                  "oai")
    ((docid, text, h),) = embed_all(store, "m")
    assert (docid, text) == (corpus[A], "Graph networks, revised. We study message passing.")
    si.save_vectors(store, "m", [(docid, h)], np.zeros((1, 2), dtype=np.float32))
    second = settled_seq(store, "m", above=first)
    assert second > first  # a later write gets a later number: a follower reads only what changed
    ((changed, matrix),) = list(si.iter_vectors(store, "m", after_seq=first))
    assert list(changed) == [corpus[A]] and not matrix.any()


def test_embed_text_and_meta_json():
    assert si.embed_text(" Title ", " Abstract ") == "Title. Abstract"
    assert si.embed_text("Title", "") == "Title"
    assert si.text_hash("x") == si.text_hash("x") != si.text_hash("y")
    assert si.meta_json({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'
