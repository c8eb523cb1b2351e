"""Hybrid search: honest coverage when only part of the store has vectors, a result count
that means something, known-item lookups by a fragment of a title, and requests written as
sentences. Real SQLite, the real static encoder."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from paperwire.cli import cli
from paperwire.config import Settings
from paperwire.models import Paper, Version
from paperwire.search import indexer
from paperwire.search.engine import SearchEngine
from paperwire.search.fuse import DEFAULT, Fusion, agreement, combine, named_terms
from paperwire.search.query import fts_expression
from paperwire.store import open_store
from paperwire.store.papers import upsert_papers


def P(pid, title, abstract) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, authors=["Ada Lovelace"], categories=["cs.LG"],
                 published="2025-01-10T00:00:00Z", versions=[Version(1, "2025-01-10T00:00:00Z")])


CORPUS = [
    P("2502.00001", "Protein structure prediction with attention",
      "We predict protein folding structure from amino-acid sequences using attention."),
    P("2502.00002", "Equivariant graph networks for point clouds",
      "Rotation equivariant message passing networks process 3D point clouds."),
    P("2502.00003", "A study of learning rates for large models",
      "Learning rate schedules for training large networks, and what a model learns from them."),
    P("2502.00004", "Learning to rank with large margin models",
      "Pairwise ranking losses for search engines; a model of clicks."),
    P("2502.00005", "Sampling molecules with diffusion models",
      "A diffusion model generates 3D molecular conformations."),
    P("2502.00006", "Tensor decomposition with Gaussian process priors",
      "Gaussian process priors on the factors of a tensor decomposition."),
]
LATE = [P("2502.00101", "Self-driving cars with lidar", "Autonomous vehicles sense roads with lidar."),
        P("2502.00102", "Speech recognition for low-resource languages", "Acoustic models for rare languages.")]


@pytest.fixture
def settings(tmp_path, model_cache) -> Settings:
    return Settings.load(env={}, db=str(tmp_path / "h.db"), embed_model="static", model_cache=model_cache,
                         encode_timeout=60.0)


@pytest.fixture
def indexed(settings):
    store = open_store(settings)
    upsert_papers(store, CORPUS, source="test")
    engine = SearchEngine(store, settings)
    indexer.refresh(store, settings, engine=engine)
    yield store, engine
    engine.close()
    store.close()


def test_partial_vectors_are_reported(indexed, settings):
    store, engine = indexed
    r = engine.search("protein folding", mode="hybrid")
    assert r.coverage is None and r.coverage_note is None  # every paper has a vector
    upsert_papers(store, LATE, source="test")  # not embedded yet
    fresh = SearchEngine(store, settings)
    try:
        for mode in ("hybrid", "semantic"):
            r = fresh.search("protein folding", mode=mode)
            assert r.mode == mode and r.coverage == (6, 8)
            assert r.coverage_note == "meaning search covers 6 of 8 papers"
        lex = fresh.search("protein folding", mode="lexical")
        assert lex.coverage_note is None  # a search by words sees every paper
        # the papers without a vector are still found by their words
        assert [h.paper_id for h in fresh.search("lidar", mode="hybrid").hits][:1] == ["2502.00101"]
        indexer.refresh(store, settings, engine=fresh)
        fresh._counts.clear()  # the coverage is cached for a minute
        assert fresh.search("protein folding", mode="hybrid").coverage is None
    finally:
        fresh.close()


def test_cli_prints_the_coverage(indexed, settings, monkeypatch):
    store, _ = indexed
    upsert_papers(store, LATE, source="test")
    monkeypatch.setenv("PAPERWIRE_EMBED_MODEL", "static")
    monkeypatch.setenv("PAPERWIRE_MODEL_CACHE", settings.model_cache)
    out = CliRunner().invoke(cli, ["--db", str(settings.db), "search", "protein folding"])
    assert out.exit_code == 0, out.output
    assert "meaning search covers 6 of 8 papers" in out.output


def test_hybrid_total_counts_matches_not_the_store(indexed):
    _, engine = indexed
    r = engine.search("protein structure", mode="hybrid", limit=20)
    assert r.hits[0].paper_id == "2502.00001"
    # every paper is *some* distance away; the count is the papers that match the words or
    # are close in meaning, never simply all the candidates
    assert 1 <= r.total < len(CORPUS)
    assert r.total <= len(r.hits)


def test_title_fragment_finds_its_paper_first(indexed):
    _, engine = indexed
    # common words ("learning", "large", "models") appear in several titles; the fragment
    # as a phrase appears in one
    r = engine.search("learning rates for large", mode="hybrid", limit=5)
    assert r.hits[0].paper_id == "2502.00003" and r.hits[0].parts.get("title_phrase")
    r = engine.search("rank with large margin", mode="hybrid", limit=5)
    assert r.hits[0].paper_id == "2502.00004"


def test_requests_written_as_sentences_search_their_subject(indexed):
    _, engine = indexed
    assert fts_expression("I'd like papers describing protein folding") == '"protein" OR "folding"'
    assert fts_expression("papers") == '"papers"'  # nothing else: the word itself is searched
    r = engine.search("I am interested in articles on tensor decompositions", mode="lexical")
    assert r.hits[0].paper_id == "2502.00006"


# -- fusion: words weighed against meaning, per query ---------------------------------------------

def test_names_and_codes_in_a_query_are_recognised():
    assert named_terms("I am interested in articles written either by Prieve or Udo Pooch") == [
        "Prieve", "Udo", "Pooch"]
    assert named_terms("What articles exist which deal with TSS (Time Sharing System) for IBM computers?") == [
        "TSS", "Time", "Sharing", "System", "IBM"]
    assert named_terms("Languages such as ALGOL 68 and EL1") == ["ALGOL", "68", "EL1"]
    # a capital at the start of a sentence names nothing; one name alone ("AI") is not a look-up
    assert named_terms("Teaching robots to pick up objects. Watching people helps") == []
    assert named_terms("how do you tell if a picture was made by AI") == ["AI"]


def test_lexical_weight_follows_agreement_and_names():
    f = Fusion(low=0.1, high=0.5, agree_low=0.7, agree_high=0.9, names=0.2)
    assert f.weight(0.5, 0) == pytest.approx(0.1)  # word matches far from the query in meaning
    assert f.weight(0.8, 0) == pytest.approx(0.3)
    assert f.weight(1.2, 0) == pytest.approx(0.5)  # as close as the nearest papers
    assert f.weight(0.5, 1) == pytest.approx(0.1) and f.weight(0.5, 2) == pytest.approx(0.3)
    # the mean cosine of the word matches against that of the nearest papers
    assert agreement([0.2, 0.2], [0.4, 0.4, 0.1], depth=2) == pytest.approx(0.5)
    assert agreement([], [0.4], depth=10) == 0.0


def test_combine_scores_every_candidate_by_meaning_and_words():
    lex = [(1, 10.0), (2, 5.0)]  # bm25, best first: the last one found scores 5
    cos = {1: 0.30, 2: 0.50, 3: 0.45, 4: 0.45}
    # 3 holds a query word but ranked below the lexical candidates: it counts as the last of them
    out = combine(lex, {3}, cos, weight=0.2)
    scores = {d: s for d, s, _ in out}
    assert scores[1] == pytest.approx(0.30 + 0.2) and scores[2] == pytest.approx(0.50 + 0.1)
    assert scores[3] == pytest.approx(0.45 + 0.1) and scores[4] == pytest.approx(0.45)
    assert [d for d, _, _ in out] == [2, 3, 1, 4]
    # with no weight on the words, meaning alone orders them
    assert [d for d, _, _ in combine(lex, {3}, cos, weight=0.0)][:2] == [2, 3]


def test_hybrid_parts_carry_the_querys_own_meaning_score(indexed):
    _, engine = indexed
    q = "models that generate molecules and predict how proteins fold"
    sem = {h.paper_id: h.parts["semantic_score"] for h in engine.search(q, mode="semantic", limit=10).hits}
    hyb = engine.search(q, mode="hybrid", limit=10)
    assert hyb.mode == "hybrid" and hyb.hits
    for h in hyb.hits:
        # the feedback step moves the query, but the score shown (and the topic floor) is the query's
        assert h.parts["semantic_score"] == pytest.approx(sem[h.paper_id], abs=2e-3)
        assert 0.0 <= h.parts["fusion_lexical_weight"] <= 1.0


def test_lookups_lean_on_the_words(indexed):
    _, engine = indexed
    r = engine.search('"gaussian process"', mode="hybrid", limit=3)
    assert r.hits[0].paper_id == "2502.00006"
    assert r.hits[0].parts["fusion_lexical_weight"] == DEFAULT.lookup


def test_a_paper_without_a_vector_shows_no_meaning_score(indexed, settings):
    store, _ = indexed
    upsert_papers(store, LATE, source="test")  # not embedded yet
    fresh = SearchEngine(store, settings)
    try:
        r = fresh.search("autonomous vehicles that sense roads with lidar", mode="hybrid", limit=5)
        top = r.hits[0]
        assert top.paper_id == "2502.00101" and top.parts["lexical_rank"] == 1
        # its place among meaning scores is a guess, never shown (the topic floor reads it)
        assert "semantic_score" not in top.parts
        assert all("semantic_score" in h.parts for h in r.hits if h.paper_id not in ("2502.00101", "2502.00102"))
    finally:
        fresh.close()
