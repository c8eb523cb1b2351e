"""The site's two lists of a day, through an in-process client: the fresh-install fallback, the
refusals of a submission in words, and a paper page whose dates a submission leaves alone."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from paperwire.models import Paper
from paperwire.store import listings, open_store
from paperwire.store.papers import upsert_papers
from paperwire.web.app import create_app
from web_support import csrf_of, make_user, sign_in


def test_a_fresh_install_without_curation_shows_the_newest_listing_day_ranked_and_says_so(settings):
    store = open_store(settings)
    upsert_papers(store, [
        Paper(id="2501.00001", title="Plain paper", abstract="Nothing to see.", listed="2025-01-06"),
        Paper(id="2501.00002", title="Paper with code", abstract="Code: https://github.com/a/b", listed="2025-01-06"),
        Paper(id="2501.00003", title="Older paper", listed="2025-01-03"),
    ], "listing")
    store.close()
    app = create_app(settings)
    app.state.similar_timeout = 0
    with TestClient(app) as client:
        page = client.get("/").text
        assert "No curated list yet" in page and "Monday, 6 January 2025" in page
        shown = re.findall(r'<article class="card" id="p-([^"]+)"', page)
        assert shown == ["2501.00002", "2501.00001"]  # code released ranks first, and says so
        assert "Why here: code released" in page
        assert 'Daily papers <span class="n">0</span>' in page
    app.state.store.close()


def test_submission_refusals_are_explained_and_dates_stay(client, app, shared_hash):
    store = app.state.store
    make_user(store, "judge", shared_hash)
    sign_in(client, "judge@example.org")
    featured = listings.curated_ids(store, "2026-06-30", "2026-06-30", limit=1)[0][0]
    r = client.post("/submit", data={"csrf": csrf_of(client, "/submit"), "arxiv_id": featured})
    assert r.status_code == 400 and "featured on Hugging Face" in r.text
    old_day = store.query_one("SELECT min(listed) FROM papers")[0]
    old = next(c.id for c in listings.cards(store, listings.new_ids(store, old_day, old_day, limit=50)[0])
               if not c.curated_on)
    r = client.post("/submit", data={"csrf": csrf_of(client, "/submit"), "arxiv_id": old})
    assert r.status_code == 400 and "only papers from the last 7 days" in r.text
    day = listings.latest_listing_day(store)
    fresh = next(c for c in listings.cards(store, listings.new_ids(store, day, day, limit=50)[0]) if not c.curated_on)
    r = client.post("/submit", data={"csrf": csrf_of(client, "/submit"), "arxiv_id": fresh.id})
    assert r.status_code == 303
    page = client.get(f"/papers/{fresh.id}").text
    assert f'Listed on arXiv</dt><dd><a href="/papers/date/{fresh.paper.listed}/new">{fresh.paper.listed}</a>' in page
    assert "On the daily list of" in page and "submitted by judge" in page
    again = client.post("/submit", data={"csrf": csrf_of(client, "/submit"), "arxiv_id": fresh.id})
    assert again.status_code == 400 and "already submitted" in again.text
