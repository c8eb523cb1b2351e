"""The search page says how much of the store meaning search covers while indexing is under way
(6 of 8 papers embedded here), and says nothing of it once every paper has a vector."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paperwire.config import Settings
from paperwire.models import Paper, Version
from paperwire.search import indexer
from paperwire.search.engine import SearchEngine
from paperwire.store import open_store
from paperwire.store.papers import upsert_papers


def _paper(n: int, title: str) -> Paper:
    return Paper(id=f"2502.{n:05d}", title=title, abstract=f"{title}. A study of {title.lower()}.",
                 authors=["Ada Lovelace"], categories=["cs.LG"], published="2025-01-10T00:00:00Z",
                 versions=[Version(1, "2025-01-10T00:00:00Z")])


FIRST = [_paper(i + 1, t) for i, t in enumerate([
    "Protein structure prediction with attention", "Equivariant graph networks for point clouds",
    "Learning rate schedules for large models", "Sampling molecules with diffusion models",
    "Tensor decomposition with Gaussian process priors", "Pairwise ranking losses for search"])]
LATER = [_paper(101, "Protein folding from sequences alone"), _paper(102, "Speech recognition for rare languages")]


@pytest.fixture
def site(tmp_path, model_cache):
    # serve_embed_max=0: the running site must not embed the later papers by itself (what a
    # backlog larger than that limit looks like, e.g. after a bulk import)
    settings = Settings.load(env={}, db=str(tmp_path / "c.db"), embed_model="static", model_cache=model_cache,
                             encode_timeout=60.0, secret_key="t" * 40, serve_embed_max=0)
    store = open_store(settings)
    upsert_papers(store, FIRST, source="test")
    engine = SearchEngine(store, settings)
    indexer.refresh(store, settings, engine=engine)
    engine.close()
    from paperwire.web.app import create_app

    with TestClient(create_app(settings, store)) as client:
        yield client, store, settings
    store.close()


def test_search_page_tells_the_coverage(site):
    client, store, settings = site
    page = client.get("/papers", params={"q": "protein folding"}).text
    assert "meaning search covers" not in page  # every paper has a vector
    upsert_papers(store, LATER, source="test")  # listed, not yet embedded
    from paperwire.web.app import create_app

    # the engine keeps its count for a minute; a newly started app counts again
    with TestClient(create_app(settings, store)) as fresh:
        page = fresh.get("/papers", params={"q": "protein folding"}).text
    assert "meaning search covers 6 of 8 papers" in page
    assert "2502.00101" in page  # the new paper is still found by its words
