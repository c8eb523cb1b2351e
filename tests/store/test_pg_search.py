"""Lexical search on PostgreSQL (weighted tsvector, GIN, BM25 over the best candidates), on a
real server, against SQLite's FTS5 on the same papers: the same query string, the same result
shape, the same papers first for ordinary queries; kept current by triggers; never an error
for odd input. Runs in both passes of scripts/test.sh (it needs both engines at once)."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from pg_support import pg_server, pg_url  # noqa: F401
from paperwire.config import Settings
from paperwire.ingest import import_file
from paperwire.models import Paper, Version
from paperwire.search.engine import SearchEngine
from paperwire.store import open_store
from paperwire.store import search_index as si
from paperwire.store.copy import copy_store
from paperwire.store.papers import upsert_papers
from paperwire.store.sqlite import Store as SQLiteStore

# Ordinary queries (words, a phrase, a prefix, filters) over the 3,000 demo papers.
QUERIES = ["diffusion models", "graph neural network", "reinforcement learning from human feedback",
           "protein structure", "large language model reasoning", "quantum error correction", "image segmentation",
           "speech recognition", "transformer", "federated learning privacy", "robot manipulation", "dark matter",
           '"neural network"', "cat:cs.CL translation", "point cloud", "time series forecasting"]


@pytest.fixture(scope="module")
def demo_sqlite(tmp_path_factory, demo_records):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    store = SQLiteStore(path)
    import_file(store, demo_records)
    store.close()
    return path


@pytest.fixture
def engines(demo_sqlite, pg_url, tmp_path):
    lite = SQLiteStore(demo_sqlite)
    pg = open_store(pg_url)
    assert copy_store(lite, pg).ok
    a = SearchEngine(lite, Settings.load(env={}, db=str(demo_sqlite), data_dir=str(tmp_path / "a")))
    b = SearchEngine(pg, Settings.load(env={}, db=pg_url, data_dir=str(tmp_path / "b")))
    yield a, b
    a.close(), b.close()
    lite.close(), pg.close()


def test_ordinary_queries_put_the_same_papers_first_on_both_engines(engines):
    lite, pg = engines
    first_agree = 0
    for q in QUERIES:
        ra, rb = lite.search(q, mode="lexical", limit=10), pg.search(q, mode="lexical", limit=10)
        ia, ib = [h.paper_id for h in ra.hits], [h.paper_id for h in rb.hits]
        assert len(ia) == len(ib) == 10, q
        assert len(set(ia) & set(ib)) >= 6, (q, ia, ib)
        first_agree += ia[0] == ib[0]
        # the same shape: a score, marked title and snippet, the ranks of the lexical side
        h = rb.hits[0]
        assert h.score > 0 and "<mark>" in h.parts["title_html"] + h.snippet and h.parts["lexical_rank"] == 1
        assert abs(ra.total - rb.total) <= 0.05 * ra.total, (q, ra.total, rb.total)
    assert first_agree >= 0.8 * len(QUERIES)


def test_filters_author_and_accents(engines):
    lite, pg = engines
    for q in ("author:smith", "author:\"Ann\" learning", "cat:cs.CV has:code detection", "date:listed from:2026-06-20 to:2026-06-25 graph"):
        ra, rb = lite.search(q, mode="lexical", limit=500), pg.search(q, mode="lexical", limit=500)
        assert ra.total < 500 and ra.hits, q
        assert {h.paper_id for h in ra.hits} == {h.paper_id for h in rb.hits}, q
    # "Schrödinger" folded on both sides, as FTS5's remove_diacritics does
    ia = [h.paper_id for h in lite.search("Schrodinger", mode="lexical").hits]
    assert ia and [h.paper_id for h in pg.search("Schrodinger", mode="lexical").hits] == ia
    assert [h.paper_id for h in pg.search("Schrödinger", mode="lexical").hits] == ia


@pytest.mark.parametrize("q", ["'; DROP TABLE papers; --", "a:b c::d", "o'neil", "\\", "*", '"unclosed', "!@#$%^&()",
                               "x <-> y | !z & (w:*A)", "title : foo", "%s %(x)s ?", "the", "é" * 300])
def test_odd_queries_never_raise(pg_url, tmp_path, q):
    store = open_store(pg_url)
    upsert_papers(store, [Paper(id="2501.00001", title="The x y z paper", abstract="O'Neil and a:b")], "listing")
    engine = SearchEngine(store, Settings.load(env={}, db=pg_url, data_dir=str(tmp_path)))
    res = engine.search(q, mode="lexical")
    assert res.total >= len(res.hits) >= 0
    assert store.query_one("SELECT count(*) FROM papers")[0] == 1
    store.close()


def test_new_changed_hidden_and_removed_papers_are_searched_at_once(pg_url):
    store = open_store(pg_url)
    flt = si.FilterSQL()
    upsert_papers(store, [Paper(id="2501.00001", title="Sparse autoencoders", abstract="Features of models.",
                                authors=["Ann Lee"], versions=[Version(1, "2025-01-02T00:00:00Z")])], "listing")
    ids = lambda m: [pid for _, pid, _ in si.lexical(store, m, (1.5, 1.0, 1.0), flt, 10)]  # noqa: E731
    assert ids('"autoencoders"') == ["2501.00001"] and ids('"features"') == ["2501.00001"]
    assert ids('authors : ("lee")') == ["2501.00001"]
    upsert_papers(store, [Paper(id="2501.00001", title="Dense retrievers", abstract="Features of models.",
                                versions=[Version(1, "2025-01-02T00:00:00Z"), Version(2, "2025-01-05T00:00:00Z")])],
                  "oai")
    assert ids('"autoencoders"') == [] and ids('"retrievers"') == ["2501.00001"]
    store.conn.execute("UPDATE papers SET hidden = 1 WHERE id = ?", ("2501.00001",))
    assert ids('"retrievers"') == [] and si.hidden_docids(store) == set(si.docs_for_papers(store, ["2501.00001"]).values())
    store.conn.execute("DELETE FROM papers WHERE id = ?", ("2501.00001",))
    assert si.doc_count(store) == 0
    store.close()


def test_a_search_and_its_count_agree_and_a_later_count_is_counted_afresh(pg_url):
    """The count that follows a ranked search comes from the ranking query's own count of the
    matches (one pass over them, not two); asked again, after a write, it is counted anew."""
    store = open_store(pg_url)
    upsert_papers(store, [Paper(id=f"2501.0000{i}", title=f"Graph paper {i}", categories=["cs.LG" if i % 2 else "cs.AI"])
                          for i in range(1, 6)], "listing")
    store.conn.execute("UPDATE papers SET hidden = 1 WHERE id = ?", ("2501.00005",))  # never counted
    cs_lg = si.filter_sql(categories=["cs.LG"])
    for flt, want in ((si.FilterSQL(), 4), (cs_lg, 2)):
        assert len(si.lexical(store, '"graph"', (1.5, 1.0, 1.0), flt, 10)) == want
        assert si.lexical_count(store, '"graph"', flt) == want
        assert si.lexical_count(store, '"graph"', flt, cap=1) == 1
    assert len(si.lexical(store, '"graph"', (1.5, 1.0, 1.0), si.FilterSQL(), 2)) == 2  # a page smaller than the total
    upsert_papers(store, [Paper(id="2501.00009", title="Graph paper 9")], "listing")
    # the count beside a page is that search's own (all its matches, not the page's two) ...
    assert si.lexical_count(store, '"graph"', si.FilterSQL()) == 4
    assert si.lexical_count(store, '"graph"', si.FilterSQL()) == 5  # ... a count asked again sees the new paper
    store.close()


def test_a_wiped_index_is_rebuilt_from_the_papers(pg_url):
    store = open_store(pg_url)
    upsert_papers(store, [Paper(id=f"2501.0000{i}", title=f"Graph paper {i}") for i in range(1, 4)], "listing")
    store.conn.execute("UPDATE search_docs SET tsv = ''")
    store.conn.execute("DELETE FROM search_docs WHERE docid = (SELECT min(docid) FROM search_docs)")
    assert si.lexical(store, '"graph"', (1.5, 1.0, 1.0), si.FilterSQL(), 10) == []
    assert si.rebuild_lexical(store) == 3
    si.optimize_lexical(store)
    assert len(si.lexical(store, '"graph"', (1.5, 1.0, 1.0), si.FilterSQL(), 10)) == 3
    store.close()


def test_vector_sequence_never_skips_a_transaction_that_commits_late(pg_url):
    """Transaction 1 writes a vector and stays open; transaction 2 writes one and commits. A reader
    must not yet report a sequence number past transaction 1, or it would never read its vector."""
    store = open_store(pg_url)
    upsert_papers(store, [Paper(id="2501.00001", title="One"), Paper(id="2501.00002", title="Two")], "listing")
    d1, d2 = sorted(si.docs_for_papers(store, ["2501.00001", "2501.00002"]).values())
    blob = np.ones(4, dtype="<f2").tobytes()
    sql = "INSERT INTO paper_vectors(model, docid, text_hash, vector) VALUES ('m', %s, 'h', %s)"
    with psycopg.connect(pg_url) as slow, psycopg.connect(pg_url, autocommit=True) as fast:
        slow.execute(sql, (d1, blob))  # transaction 1: open
        first = slow.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0]
        fast.execute(sql, (d2, blob))  # transaction 2: committed
        seen = si.vector_seq(store, "m")
        assert seen < first
        assert [list(ids) for ids, _ in si.iter_vectors(store, "m", 0, upto_seq=seen)] == []
        slow.commit()
    upto = si.vector_seq(store, "m")
    got = sorted(int(d) for ids, _ in si.iter_vectors(store, "m", seen, upto_seq=upto) for d in ids)
    assert got == [d1, d2] and si.vector_count(store, "m") == 2
    store.close()



def test_copy_writes_what_executemany_writes(pg_url):
    """bulk_pg.executemany_copy: the store phase's inserts as COPY, conflicts skipped as before."""
    from paperwire.store.bulk_pg import executemany_copy

    store = open_store(pg_url)
    papers = [("2501.00001", "A", "A", "2025-01-01", "x", "x"), ("2501.00002", "B", "B", "2025-01-01", "x", "x")]
    with store.transaction() as conn:
        conn.execute("SET LOCAL paperwire.bulk = 'on'")
        n = executemany_copy(conn, "INSERT INTO papers(id, title, title_display, listed, created_at, changed_at) "
                                   "VALUES (?,?,?,?,?,?)", papers)
        links = [("2501.00001", "https://github.com/a/b", "github"), ("2501.00001", "https://github.com/a/b", "github"),
                 ("2501.00002", "https://x.org", "project")]
        m = executemany_copy(conn, "INSERT INTO links(paper_id, url, kind, origin) VALUES (?,?,?,'text') "
                                   "ON CONFLICT DO NOTHING", links)
        m2 = executemany_copy(conn, "INSERT INTO links(paper_id, url, kind) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                              links[:1])
    assert (n, m, m2) == (2, 2, 0)
    assert store.query("SELECT id, title_display FROM papers ORDER BY id") == [("2501.00001", "A"), ("2501.00002", "B")]
    assert [tuple(r) for r in store.query("SELECT paper_id, url, kind, origin FROM links ORDER BY url")] == [
        ("2501.00001", "https://github.com/a/b", "github", "text"), ("2501.00002", "https://x.org", "project", "text")]
    # the bulk setting kept the per-row trigger out: the catch-up writes the search documents
    assert si.doc_count(store) == 0
    store.close()
