"""A serving process embeds the papers that arrive while it runs (paperwire.search.indexer.
ArrivalEmbedder), so they are found by meaning at once on every host; the backlog from before
it started, and an arrival larger than its limit (a bulk import), are left to `paperwire index`.
Both engines; the multi-host journey is in tests/multihost/test_multihost_web.py."""

from __future__ import annotations

from paperwire.models import Paper, Version
from paperwire.search.engine import SearchEngine
from paperwire.search.indexer import ArrivalEmbedder
from paperwire.store import search_index as idx
from paperwire.store.papers import upsert_papers

TOPICS = ["graph neural networks for molecules", "speech recognition with transformers", "protein folding",
          "reinforcement learning for robots", "image segmentation in medicine", "quantum error correction"]


def paper(i: int, title: str | None = None, abstract: str | None = None) -> Paper:
    topic = TOPICS[i % len(TOPICS)]
    return Paper(id=f"2501.{i:05d}", title=title or f"{topic.capitalize()} study {i}",
                 abstract=abstract or f"We study {topic}. Experiment {i} shows gains.", authors=[f"Author {i}"],
                 versions=[Version(1, "2025-01-02T00:00:00Z")])


def test_what_arrives_is_embedded_once_and_found_by_meaning_the_rest_is_left_to_index(settings, store):
    upsert_papers(store, [paper(i) for i in range(3)], source="test")  # stored before any server ran
    engine = SearchEngine(store, settings)
    one, other = (ArrivalEmbedder(store, engine.vectors, limit=5) for _ in range(2))  # two serving processes
    assert one.run_once() == 0 and other.run_once() == 0  # nothing arrived since they started

    upsert_papers(store, [paper(10, "Cochlear implants that adapt to the listener",
                                "Hearing aids and cochlear implants tuned to each patient's hearing loss.")],
                  source="test")
    assert one.run_once() + other.run_once() == 1  # embedded by one of them, once
    model = engine.vectors.encoder.name
    assert idx.vector_count(store, model) == 1
    assert idx.count_to_embed(store, model) == 3  # the older backlog is `paperwire index`'s
    res = engine.search("devices that help deaf people hear", mode="semantic", limit=3)
    assert res.mode == "semantic" and not res.fallback
    assert [h.paper_id for h in res.hits] == ["2501.00010"]

    upsert_papers(store, [paper(i) for i in range(20, 26)], source="test")  # six at once: over the limit
    assert one.run_once() == 0 and other.run_once() == 0
    assert idx.count_to_embed(store, model) == 9


def test_a_process_with_the_limit_at_zero_never_embeds(settings, store):
    engine = SearchEngine(store, settings)
    off = ArrivalEmbedder(store, engine.vectors, limit=0)
    upsert_papers(store, [paper(1)], source="test")
    assert off.run_once() == 0
    assert idx.vector_count(store, "minilm") == 0
