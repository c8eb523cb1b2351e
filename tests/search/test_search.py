"""Search: lexical (FTS5 BM25), semantic, hybrid, pin, filters, fallback, incremental
indexing and persistence. Real SQLite files, the real static encoder (distilled once per
session from the bundled MiniLM), real faiss graphs on disk."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from paperwire.cli import cli
from paperwire.config import Settings
from paperwire.models import Paper, Version
from paperwire.search import indexer
from paperwire.search.engine import SearchEngine
from paperwire.search.query import Filters, fts_expression, parse_query
from paperwire.store import open_store
from paperwire.store.papers import upsert_papers


@pytest.fixture
def ssettings(tmp_path, model_cache) -> Settings:
    return Settings.load(env={}, db=str(tmp_path / "s.db"), embed_model="static", model_cache=model_cache,
                         encode_timeout=60.0)


def P(pid, title, abstract="", authors=("Ada Lovelace",), cats=("cs.LG",), published="2025-01-10T00:00:00Z",
      listed=None, comments=None) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, authors=list(authors), categories=list(cats),
                 published=published, listed=listed, comments=comments, versions=[Version(1, published)])


CORPUS = [
    P("2501.00001", "Equivariant graph networks for point clouds",
      "We build rotation equivariant message passing networks that process 3D point clouds.",
      authors=("Taco Cohen", "Max Welling"), cats=("cs.LG", "cs.CV"), published="2025-01-05T00:00:00Z",
      listed="2025-01-06"),
    P("2501.00002", "A survey of optimisation",
      "Point clouds appear in many places; equivariant methods help. We survey gradient methods.",
      authors=("Jane Roe",), cats=("math.OC",), published="2025-02-01T00:00:00Z", listed="2025-02-02"),
    P("2501.00003", "Tensor decomposition with Gaussian process priors",
      "We place Gaussian process priors on the factors of a tensor decomposition. Code: https://github.com/acme/gptd",
      authors=("Hanna Wallach",), cats=("stat.ML",), published="2025-03-01T00:00:00Z", listed="2025-03-02"),
    P("2501.00004", "Large language models as zero-shot planners",
      "Language models can plan household tasks without training, by decomposing instructions.",
      authors=("Wenlong Huang",), cats=("cs.CL", "cs.AI"), published="2025-04-01T00:00:00Z", listed="2025-04-02"),
    P("2501.00005", "Deep learning",
      "Deep learning allows computational models that are composed of multiple processing layers to learn "
      "representations of data with multiple levels of abstraction. Deep learning deep learning networks.",
      authors=("Yann LeCun", "Yoshua Bengio", "Geoffrey Hinton"), cats=("cs.LG",), published="2015-05-27T00:00:00Z"),
    P("2501.00006", "Learning deep representations with deep networks for deep learning",
      "Deep learning of deep representations: deep networks, deep learning, deep models, deep learning again.",
      authors=("Someone Else",), cats=("cs.LG",), published="2025-06-01T00:00:00Z", listed="2025-06-02"),
    P("2501.00007", "Protein structure prediction with attention",
      "We predict protein folding structure from amino-acid sequences using attention and evolutionary data.",
      authors=("John Jumper",), cats=("q-bio.BM",), published="2025-07-01T00:00:00Z", listed="2025-07-02"),
    P("2501.00008", "Sampling molecules with diffusion models",
      "A diffusion model generates 3D molecular conformations; <script>alert(1)</script> & friends.",
      authors=("Émile Noël",), cats=("cs.LG", "q-bio.BM"), published="2025-08-01T00:00:00Z", listed="2025-08-02"),
]


@pytest.fixture
def corpus_store(ssettings):
    s = open_store(ssettings)
    upsert_papers(s, CORPUS, source="test")
    yield s
    s.close()


@pytest.fixture
def engine(corpus_store, ssettings):
    e = SearchEngine(corpus_store, ssettings)
    yield e
    e.close()


def ids(result) -> list[str]:
    return [h.paper_id for h in (result.hits if hasattr(result, "hits") else result)]


# -- lexical ---------------------------------------------------------------------------------

def test_title_match_outranks_abstract_match(engine):
    r = engine.search("equivariant point clouds", mode="lexical")
    assert r.mode == "lexical" and r.fallback is None
    # both papers contain all three words; the one with them in its title wins
    assert ids(r)[:2] == ["2501.00001", "2501.00002"]
    assert r.hits[0].score > r.hits[1].score > 0


def test_stemming_and_stopwords(engine):
    # "network" (singular) finds "networks"; "the"/"of" do not match everything
    assert "2501.00001" in ids(engine.search("network", mode="lexical"))
    r = engine.search("the decompositions of tensors", mode="lexical")
    assert ids(r)[0] == "2501.00003"
    assert r.total == 1  # not all 8 papers via "the"/"of"


def test_phrase_prefix_and_author(engine):
    assert ids(engine.search('"gaussian process"', mode="lexical")) == ["2501.00003"]
    assert ids(engine.search('"process gaussian"', mode="lexical")) == []
    assert "2501.00008" in ids(engine.search("molec*", mode="lexical"))
    r = engine.search("author:hinton deep learning", mode="lexical")
    assert ids(r) == ["2501.00005"]
    # diacritics folded in author names
    assert ids(engine.search("author:emile diffusion", mode="lexical")) == ["2501.00008"]


def test_filters(engine):
    assert set(ids(engine.search("learning", Filters(categories=["cs.LG"]), mode="lexical"))) == {
        "2501.00005", "2501.00006"}
    assert ids(engine.search("cat:q-bio.BM,stat.ML has:code", mode="lexical")) == ["2501.00003"]
    r = engine.search("deep learning", Filters(date_from="2025-01-01"), mode="lexical")
    assert ids(r) == ["2501.00006"]
    r = engine.search("deep learning to:2020", mode="lexical")
    assert ids(r) == ["2501.00005"]
    # listed date: paper 5 has no listing day, so a listed-range excludes it
    r = engine.search("deep learning", Filters(date_from="2000-01-01", date_field="listed"), mode="lexical")
    assert ids(r) == ["2501.00006"]
    # filters only: newest first
    r = engine.search("cat:cs.LG", mode="lexical")
    assert ids(r) == ["2501.00008", "2501.00006", "2501.00001", "2501.00005"]


def test_title_and_id_pin(engine):
    # paper 6 has more "deep learning" than the short paper 5 titled exactly "Deep learning"
    unpinned = engine.search("deep learning networks", mode="lexical")
    assert ids(unpinned)[0] == "2501.00006"
    r = engine.search("Deep Learning.", mode="lexical")
    assert ids(r)[0] == "2501.00005" and r.hits[0].parts.get("pinned")
    for q in ("2501.00007", "2501.00007v3", "arXiv:2501.00007"):
        r = engine.search(q, mode="hybrid")
        assert ids(r)[0] == "2501.00007", q
    # a pinned paper still has to pass the filters
    assert "2501.00005" not in ids(engine.search("deep learning", Filters(categories=["cs.CL"]), mode="lexical"))


def test_snippets_are_html_safe(engine):
    r = engine.search("diffusion alert", mode="lexical")
    h = r.hits[0]
    assert h.paper_id == "2501.00008"
    assert "<script>" not in h.snippet and "&lt;script&gt;" in h.snippet
    assert "<mark>diffusion</mark>" in h.snippet.lower()
    assert re.sub(r"</?mark>", "", h.snippet).count("<") == 0
    assert h.parts["title_html"].count("<mark>") == h.parts["title_html"].count("</mark>") >= 1


def test_new_paper_findable_without_rebuild(engine, corpus_store):
    assert ids(engine.search("quantum annealing", mode="lexical")) == []
    upsert_papers(corpus_store, [P("2501.00099", "Quantum annealing for scheduling", "We anneal.")], source="test")
    assert ids(engine.search("quantum annealing", mode="lexical")) == ["2501.00099"]
    # an updated title replaces the old terms
    upsert_papers(corpus_store, [dataclasses.replace(P("2501.00099", "Classical heuristics for scheduling", "x"),
                                                     versions=[Version(2, "2025-09-01T00:00:00Z")])], source="test")
    assert ids(engine.search("quantum annealing", mode="lexical")) == []
    assert ids(engine.search("classical heuristics", mode="lexical")) == ["2501.00099"]


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.text(max_size=200),
    st.text(alphabet='"*^():-+ NEARORANDOT{}[]\\\'', max_size=60),
    st.lists(st.sampled_from(['"', "NEAR(", "AND", "OR", "NOT", "*", "^", "author:", "cat:", "from:", "to:2020-13",
                              "has:", "title:", "{", "}", "(", ")", "-", "'", "deep", "learn*", "\x00", "é"]),
             max_size=20).map(" ".join),
))
def test_odd_queries_never_raise(engine, q):
    text, f = parse_query(q)
    assert isinstance(text, str) and isinstance(f, Filters)
    r = engine.search(q, mode="lexical", limit=5)
    assert r.mode == "lexical" and len(r.hits) <= 5


def test_huge_and_empty_queries(engine):
    r = engine.search("deep learning " * 1000 + '"unbalanced', mode="lexical")  # ~14 kB
    assert ids(r)[0] in ("2501.00005", "2501.00006")
    assert engine.search("", mode="hybrid").hits == []
    assert engine.search("   \"  ", mode="lexical").hits == []
    # operators become plain quoted words; "OR" is a stopword; only a trailing * makes a prefix
    assert fts_expression('NEAR(ab cd) OR ef* g^h "x y') == '"near ab" OR "cd" OR "ef"* OR "g h" OR "x y"'


def test_parse_query():
    text, f = parse_query('author:"Geoffrey Hinton" cat:cs.LG,cs.AI has:code from:2024 to:2024-06 date:listed capsules')
    assert text == "capsules"
    assert f == Filters(categories=["cs.LG", "cs.AI"], author="Geoffrey Hinton", date_from="2024-01-01",
                        date_to="2024-06-31", date_field="listed", has_code=True)
    # invalid values stay text; URLs are not fields
    text, f = parse_query("from:yesterday see http://cat:3 x")
    assert f == Filters() and "from:yesterday" in text and "http://cat:3" in text


# -- semantic / hybrid -----------------------------------------------------------------------

def test_semantic_and_hybrid_with_static_encoder(engine, corpus_store):
    res = indexer.refresh(corpus_store, engine.settings, engine=engine)
    assert res["embedded"] == len(CORPUS) and res["index"] == "exact"
    # paraphrase without shared words
    r = engine.search("folding of amino acid chains", mode="semantic", limit=3)
    assert r.mode == "semantic" and ids(r)[0] == "2501.00007"
    assert -1.0 <= r.hits[-1].score <= r.hits[0].score <= 1.0
    r = engine.search("equivariant networks for point clouds", mode="hybrid", limit=5)
    assert r.mode == "hybrid" and ids(r)[0] == "2501.00001"
    assert {"lexical_rank", "semantic_rank"} <= set(r.hits[0].parts)
    # filters apply to semantic results too
    r = engine.search("deep networks", Filters(categories=["q-bio.BM"]), mode="semantic")
    assert set(ids(r)) <= {"2501.00007", "2501.00008"} and ids(r)
    # incremental: one new paper -> one embedding; a second refresh embeds nothing
    upsert_papers(corpus_store, [P("2501.00050", "Self-driving cars with lidar", "Autonomous vehicles sense roads.")],
                  source="test")
    assert indexer.refresh(corpus_store, engine.settings, engine=engine)["embedded"] == 1
    assert indexer.refresh(corpus_store, engine.settings, engine=engine)["embedded"] == 0
    assert ids(engine.search("autonomous driving vehicle", mode="semantic", limit=1)) == ["2501.00050"]
    # a changed abstract is re-embedded; unchanged papers are not
    upsert_papers(corpus_store, [dataclasses.replace(CORPUS[1], abstract="Bandits and regret.",
                                                     versions=[Version(2, "2025-09-01T00:00:00Z")])], source="test")
    assert indexer.refresh(corpus_store, engine.settings, engine=engine)["embedded"] == 1


def test_similar_and_more_like(engine, corpus_store):
    indexer.refresh(corpus_store, engine.settings, engine=engine)
    sim = engine.similar("2501.00001", limit=3)
    assert "2501.00001" not in ids(sim) and len(sim) == 3
    sim_recent = engine.similar("2501.00001v2", limit=10, since="2025-06-01")
    assert ids(sim_recent) and all(h.parts["date"] >= "2025-06-01" for h in sim_recent)
    ml = engine.more_like(["2501.00005", "2501.00006"], limit=5, exclude={"2501.00001"})
    assert not {"2501.00005", "2501.00006", "2501.00001"} & set(ids(ml))
    vecs = engine.paper_vectors(["2501.00005", "nope"])
    assert list(vecs) == ["2501.00005"] and abs(float((vecs["2501.00005"] ** 2).sum()) - 1) < 1e-3
    assert engine.similar("9999.99999") == []


def test_hnsw_index_persists_and_catches_up(corpus_store, ssettings):
    s = dataclasses.replace(ssettings, exact_search_below=5)
    e1 = SearchEngine(corpus_store, s)
    assert indexer.refresh(corpus_store, s, engine=e1)["index"] == "hnsw"
    files = list((s.data_path / "vectors").glob("*.faiss"))
    assert len(files) == 1 and files[0].stat().st_size > 0
    before = ids(e1.search("protein folding", mode="semantic", limit=3))
    # a new process loads the graph from disk ...
    e2 = SearchEngine(open_store(s), s)
    assert ids(e2.search("protein folding", mode="semantic", limit=3)) == before
    # ... and picks up vectors another process wrote meanwhile
    upsert_papers(corpus_store, [P("2501.00060", "Weather forecasting with graph networks", "Global weather.")],
                  source="test")
    indexer.refresh(corpus_store, s, engine=e1)
    e2.vectors._checked = 0  # skip the few-second wait between checks
    assert ids(e2.search("weather forecast", mode="semantic", limit=1)) == ["2501.00060"]


def test_fallback_when_encoder_is_broken(corpus_store, ssettings, tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    s = dataclasses.replace(ssettings, embed_model=str(broken))
    r = SearchEngine(corpus_store, s).search("equivariant point clouds", mode="hybrid")
    assert r.mode == "lexical" and r.fallback and "encoder unavailable" in r.fallback
    assert ids(r)[0] == "2501.00001"
    s = dataclasses.replace(ssettings, embed_model=str(tmp_path / "missing"))
    r = SearchEngine(corpus_store, s).search("tensor", mode="semantic")
    assert r.mode == "lexical" and "missing" in r.fallback and ids(r) == ["2501.00003"]


def test_fallback_when_encoder_is_slow(corpus_store, ssettings):
    indexer.refresh(corpus_store, ssettings)
    s = dataclasses.replace(ssettings, encode_timeout=0.000001)  # loading alone takes longer
    r = SearchEngine(corpus_store, s).search("tensor decomposition", mode="hybrid")
    assert r.mode == "lexical" and "timed out" in r.fallback and ids(r)[0] == "2501.00003"


def test_semantic_without_vectors_says_so(engine):
    r = engine.search("protein", mode="semantic")
    assert r.mode == "lexical" and "paperwire index" in r.fallback


# -- CLI -------------------------------------------------------------------------------------

def test_cli_index_search_and_batch(corpus_store, ssettings, tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERWIRE_EMBED_MODEL", "static")
    monkeypatch.setenv("PAPERWIRE_MODEL_CACHE", ssettings.model_cache)
    runner = CliRunner()
    db = ["--db", ssettings.db]
    r = runner.invoke(cli, [*db, "index"])
    assert r.exit_code == 0, r.output
    assert f"embedded {len(CORPUS)} papers" in r.output
    r = runner.invoke(cli, [*db, "index", "--rebuild"])
    assert r.exit_code == 0, r.output
    assert f"lexical index rebuilt: {len(CORPUS)} papers" in r.output and "embedded 0 papers" in r.output
    r = runner.invoke(cli, [*db, "search", "gaussian process tensor", "--mode", "lexical", "--json"])
    assert r.exit_code == 0, r.output
    import json

    data = json.loads(r.output)
    assert data["mode"] == "lexical" and data["hits"][0]["paper_id"] == "2501.00003"
    queries = tmp_path / "q.tsv"
    queries.write_text("1\tprotein folding\n2\tequivariant point clouds\n")
    run = tmp_path / "run.txt"
    r = runner.invoke(cli, [*db, "search", "--batch", str(queries), "--run-out", str(run), "--limit", "3"])
    assert r.exit_code == 0, r.output
    lines = [ln.split() for ln in run.read_text().splitlines()]
    assert len(lines) == 6 and all(len(ln) == 6 and ln[1] == "Q0" for ln in lines)
    assert lines[0][0] == "1" and lines[0][2] == "2501.00007" and lines[0][3] == "1"
    assert lines[3][0] == "2" and lines[3][2] == "2501.00001" and lines[0][5] == "paperwire-hybrid"
    assert float(lines[0][4]) >= float(lines[1][4]) >= float(lines[2][4])
    r = runner.invoke(cli, [*db, "search"])
    assert r.exit_code == 2
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n")
    r = runner.invoke(cli, [*db, "search", "--batch", str(bad)])
    assert r.exit_code == 2 and "qid<TAB>query" in r.output


def test_tantivy_fast_path_for_large_stores(corpus_store, ssettings):
    s = dataclasses.replace(ssettings, fast_lexical_above=1)  # "large" from the first paper on
    e = SearchEngine(corpus_store, s)
    def counts(r):
        return {k: v for k, v in r.items() if k != "lexical_seconds"}

    assert counts(indexer.sync_lexical(corpus_store, s, engine=e)) == {"lexical_added": len(CORPUS),
                                                                       "lexical_changed": 0}
    r = e.search("equivariant point clouds", mode="lexical")
    assert ids(r)[:2] == ["2501.00001", "2501.00002"]  # title boost as in FTS5
    assert r.hits[0].parts["title_html"].count("<mark>") >= 2  # marks come from the hits' text
    assert ids(e.search("gaussian process cat:stat.ML", mode="lexical")) == ["2501.00003"]
    # a paper added after the sync is found at once (FTS5 covers the tail)
    upsert_papers(corpus_store, [P("2501.00070", "Equivariant point transformers", "Point clouds.")], source="test")
    assert "2501.00070" in ids(e.search("equivariant point clouds", mode="lexical"))
    # a retitled paper: the next sync replaces its terms; a second sync has nothing to do
    upsert_papers(corpus_store, [dataclasses.replace(CORPUS[6], title="Ribosome kinetics", abstract="Translation rates.",
                                                     versions=[Version(2, "2025-09-01T00:00:00Z")])], source="test")
    assert counts(indexer.sync_lexical(corpus_store, s, engine=e)) == {"lexical_added": 1, "lexical_changed": 1}
    e._fast_checked = 0
    assert ids(e.search("ribosome", mode="lexical")) == ["2501.00007"]
    assert "2501.00007" not in ids(e.search("protein structure prediction", mode="lexical"))
    assert counts(indexer.sync_lexical(corpus_store, s, engine=e)) == {"lexical_added": 0, "lexical_changed": 0}
    # the folder is disposable: rebuilt from the store
    assert indexer.sync_lexical(corpus_store, s, engine=e, rebuild=True)["lexical_added"] == len(CORPUS) + 1


def test_rebuild_every_index_from_the_store(corpus_store, ssettings):
    s = dataclasses.replace(ssettings, fast_lexical_above=1)
    e = SearchEngine(corpus_store, s)
    first = indexer.refresh(corpus_store, s, engine=e)
    assert first["embedded"] == len(CORPUS) and first["lexical_added"] == len(CORPUS)
    res = indexer.rebuild(corpus_store, s, engine=e)
    assert res["lexical_rebuilt"] == len(CORPUS) and res["lexical_added"] == len(CORPUS)
    assert res["embedded"] == 0 and res["vectors"] == len(CORPUS)  # stored vectors kept: no model run
    r = e.search("equivariant point clouds", mode="hybrid")
    assert r.mode == "hybrid" and ids(r)[0] == "2501.00001"


def test_tantivy_common_words_only_add_to_rarer_matches(ssettings):
    """Words in most abstracts score papers that match a rarer query word (CommonTermsQuery),
    and a hyphenated compound searches its parts, not a phrase."""
    store = open_store(ssettings)
    papers = [P(f"2502.{i:05d}", f"Model number {i}", f"A model of things {i}.") for i in range(40)]
    papers += [P("2502.00100", "Graphene sheets", "Graphene conducts; a model of graphene."),
               P("2502.00101", "Graphene again", "Graphene without the common word."),
               P("2502.00102", "Self study", "Supervised learning of the self, not self-supervised.")]
    upsert_papers(store, papers, source="test")
    e = SearchEngine(store, dataclasses.replace(ssettings, fast_lexical_above=1))
    indexer.sync_lexical(store, e.settings, engine=e)
    fast = e._fast_index()
    assert fast is not None
    fast.common_min_docs = 0  # treat this small index like a large one
    r = e.search("model graphene", mode="lexical", limit=50)
    assert ids(r) == ["2502.00100", "2502.00101"]  # "model" ranks graphene papers, finds none alone
    assert r.total == 2
    fast.common_min_docs = 10**9  # every word rare: plain OR
    r = e.search("model graphene", mode="lexical", limit=50)
    assert len(ids(r)) == 42 and set(ids(r)[:2]) == {"2502.00100", "2502.00101"}
    assert ids(e.search("self-supervised", mode="lexical")) == ["2502.00102"]
    assert ids(e.search("supervised-self", mode="lexical")) == ["2502.00102"]  # parts, in any order
