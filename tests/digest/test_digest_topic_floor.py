"""The floor under "matches your topic": a paper that shares a word with a topic, or sits
somewhere near it in meaning, is not labelled as matching it. Real SQLite, the real search
engine (words only, and with the static encoder's vectors), the real digest builder."""

from __future__ import annotations

import pytest

from paperwire.config import Settings
from paperwire.digest import period
from paperwire.digest.builder import DigestBuilder
from paperwire.models import Paper, Version
from paperwire.store.subscriptions import Subscriber
from paperwire.search import indexer
from paperwire.search.engine import SearchEngine
from paperwire.search.topics import floor_for, holds_words, is_about
from paperwire.store import open_store
from paperwire.store.papers import upsert_papers

DAY = "2026-07-01"


def P(pid, title, abstract) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, authors=["Ada Lovelace"], categories=["cs.CL"],
                 published=f"{DAY}T00:00:00Z", listed=DAY, versions=[Version(1, f"{DAY}T00:00:00Z")])


RAG = P("2607.00001", "Grounding answers in retrieved passages",
        "We study retrieval-augmented generation: a retriever finds passages and the generator conditions on them.")
OFF = [
    P("2607.00002", "Image generation with latent diffusion", "A diffusion model for high-resolution image generation."),
    P("2607.00003", "Code generation benchmarks", "We evaluate the generation of programs by language models."),
    P("2607.00004", "Dense retrieval for legal search", "Dual encoders retrieve statutes for lawyers."),
    P("2607.00005", "Data augmentation for speech", "Augmented audio improves speech recognition."),
    P("2607.00006", "Protein folding with attention", "Predicting structure from amino-acid sequences."),
]
PAPERS = [RAG, *OFF]
TOPIC = "retrieval augmented generation"


@pytest.fixture
def store(tmp_path, model_cache):
    settings = Settings.load(env={}, db=str(tmp_path / "t.db"), embed_model="static", model_cache=model_cache,
                             encode_timeout=60.0)
    s = open_store(settings)
    upsert_papers(s, PAPERS, source="test")
    yield s, settings
    s.close()


def labelled(topic_rows) -> list[str]:
    """Ids of the papers a subscriber to TOPIC sees labelled 'matches your topic'."""
    b = DigestBuilder(PAPERS, period=f"daily:{DAY}", site_name="pw", base_url="https://pw.test",
                      topic_rows=topic_rows, list_id="pw <digest.pw.test>")

    return [it.paper_id for it in b.score(Subscriber(id=1, email="a@b.c", status="active", size=10, topics=[TOPIC])) if any("matches your topic" in w for w in it.why)]


def test_words_alone_decide_only_when_every_word_is_there():
    assert holds_words(TOPIC, RAG.abstract)
    assert not holds_words(TOPIC, OFF[0].abstract)  # "generation" only
    assert not is_about(TOPIC, {"lexical_rank": 1, "semantic_score": 0.2}, OFF[1].abstract)
    assert is_about(TOPIC, {"semantic_score": 0.9}, "nothing in common")
    # the floor is MiniLM's; another encoder's cosines are not read against it
    assert floor_for("minilm") == 0.55 and floor_for("static") is None
    assert not is_about(TOPIC, {"semantic_score": 0.9}, "nothing in common", floor_for("static"))


@pytest.mark.parametrize("how", ["no engine", "engine without vectors", "engine with vectors"])
def test_off_topic_papers_are_not_labelled(store, how):
    s, settings = store
    engine = None
    if how != "no engine":
        engine = SearchEngine(s, settings)
        if how == "engine with vectors":
            indexer.refresh(s, settings, engine=engine)
        else:
            settings.embed_model = "/nonexistent/model"
    try:
        topic_rows, _, method = period._interest_rows(s, PAPERS, [TOPIC], [], DAY, DAY, engine=engine)
    finally:
        if engine is not None:
            engine.close()
    if how != "no engine":
        assert method.startswith("saved searches")
    assert labelled(topic_rows) == [RAG.id], topic_rows
