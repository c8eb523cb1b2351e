"""The JSON API: Hugging Face-compatible routes (checked with the real huggingface_hub client
against a live server), paperwire's /api/v1 with token auth, JSON errors, OpenAPI fuzzing."""

from __future__ import annotations

import math

import pytest

from paperwire.store import listings, users
from paperwire.web.queries import submission_day
from web_support import make_user


def _store(app):
    return app.state.store


def test_daily_papers_default_is_latest_day_in_hub_shape(client, app):
    store = _store(app)
    day = listings.latest_curated_day(store)
    _, total = listings.curated_ids(store, day, day)
    r = client.get("/api/daily_papers")
    assert r.status_code == 200
    items = r.json()
    assert len(items) == min(50, total)
    item = items[0]
    assert set(item) >= {"paper", "publishedAt", "title", "summary", "numComments", "submittedBy"}
    paper = item["paper"]
    assert set(paper) >= {"id", "title", "summary", "authors", "publishedAt", "upvotes", "submittedOnDailyAt",
                          "submittedOnDailyBy", "githubRepo", "githubStars", "projectPage"}
    assert all(set(a) >= {"name"} for a in paper["authors"])
    assert paper["submittedOnDailyAt"].startswith(day)
    # sort=publishedAt (the default) is newest first
    published = [i["paper"]["publishedAt"] for i in items]
    assert published == sorted(published, reverse=True)


def test_daily_papers_filters_paging_and_sort(client, app):
    store = _store(app)
    r = client.get("/api/daily_papers", params={"month": "2026-06", "limit": 100, "sort": "trending"})
    month = r.json()
    assert month and all(i["paper"]["submittedOnDailyAt"].startswith("2026-06") for i in month)
    votes = [i["paper"]["upvotes"] for i in month]
    assert votes == sorted(votes, reverse=True)
    p0 = client.get("/api/daily_papers", params={"month": "2026-06", "limit": 5, "p": 0}).json()
    p1 = client.get("/api/daily_papers", params={"month": "2026-06", "limit": 5, "p": 1}).json()
    assert len(p0) == len(p1) == 5 and not {i["paper"]["id"] for i in p0} & {i["paper"]["id"] for i in p1}
    start, end = listings.week_range("2026-W26")
    _, wk_total = listings.curated_ids(store, start, end)
    wk = client.get("/api/daily_papers", params={"week": "2026-W26", "limit": 100}).json()
    assert len(wk) == min(100, wk_total)
    assert all(start <= i["paper"]["submittedOnDailyAt"][:10] <= end for i in wk)
    # a malformed key is refused by the document's pattern (422); a well-formed one naming no
    # day or week (30 February, week 53 of a 52-week year) is not found (404)
    for bad in ({"date": "2024-13-01"}, {"week": "2024-W60"}, {"month": "May"}, {"date": "2024-2-01"}):
        e = client.get("/api/daily_papers", params=bad)
        assert e.status_code == 422 and "error" in e.json()
    for missing in ({"date": "2024-02-30"}, {"week": "2025-W53"}, {"month": "0000-01"}):
        e = client.get("/api/daily_papers", params=missing)
        assert e.status_code == 404 and "error" in e.json()
    assert client.get("/api/daily_papers", params={"week": "2026-W53"}).status_code == 200  # 2026 has 53
    # limit is capped at 100 (as on the Hub), the rest is on the next pages
    capped = client.get("/api/daily_papers", params={"month": "2026-06", "limit": 1000})
    assert capped.status_code == 200 and len(capped.json()) == 100 and 'rel="next"' in capped.headers["link"]
    assert client.get("/api/daily_papers", params={"limit": 0}).status_code == 422


def test_daily_papers_submitter_filter(client, app, shared_hash):
    store = _store(app)
    u = make_user(store, "curator", shared_hash)
    day = listings.latest_listing_day(store)
    ids = [i for i in listings.new_ids(store, day, day, limit=50)[0] if not listings.cards(store, [i])[0].curated_on][:2]
    for pid in ids:
        users.submit_paper(store, u.id, pid)
    got = client.get("/api/daily_papers", params={"date": users.today(), "submitter": "curator"}).json()
    assert sorted(i["paper"]["id"] for i in got) == sorted(ids)
    assert all(i["submittedBy"]["user"] == "curator" for i in got)
    assert client.get("/api/daily_papers", params={"date": users.today(), "submitter": "nobody"}).json() == []
    # Hugging Face's submitters are found the same way
    hf = client.get("/api/daily_papers", params={"month": "2026-06", "limit": 1}).json()[0]["submittedBy"]["name"]
    by_hf = client.get("/api/daily_papers", params={"month": "2026-06", "submitter": hf}).json()
    assert by_hf and all(i["paper"]["submittedOnDailyBy"]["name"] == hf for i in by_hf)


def test_paper_info_repos_and_json_errors(client, app):
    store = _store(app)
    # a paper with a code link
    row = store.query_one("SELECT paper_id FROM links WHERE kind='github' ORDER BY paper_id LIMIT 1")
    pid = row[0]
    r = client.get(f"/api/papers/{pid}")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == pid and body["githubRepo"].startswith("https://github.com/")
    repos = client.get(f"/api/arxiv/{pid}/repos").json()
    assert set(repos) == {"models", "datasets", "spaces", "code"} and repos["code"]
    missing = client.get("/api/papers/2601.00000")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/json")
    assert "error" in missing.json()
    assert client.get("/api/papers/not-an-id").status_code == 404


def test_papers_search_hub_route(client, app):
    store = _store(app)
    pid = store.query_one("SELECT id FROM papers ORDER BY id LIMIT 1")[0]
    title = listings.cards(store, [pid])[0].paper.title_display
    r = client.get("/api/papers/search", params={"q": title, "limit": 5})
    assert r.status_code == 200
    hits = r.json()
    assert 0 < len(hits) <= 5 and pid in [h["paper"]["id"] for h in hits]
    assert client.get("/api/papers/search", params={"q": ""}).json() == []


def test_v1_token_auth_upvote_submit(client, app, shared_hash):
    store = _store(app)
    u = make_user(store, "bot", shared_hash)
    token = users.create_token(store, u.id, "test")
    day = listings.latest_listing_day(store)
    pid = next(i for i in listings.new_ids(store, day, day, limit=50)[0] if not listings.cards(store, [i])[0].curated_on)
    r = client.post(f"/api/v1/papers/{pid}/upvote")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and "error" in r.json()
    r = client.post(f"/api/v1/papers/{pid}/upvote", headers={"Authorization": "Bearer pw_wrong"})
    assert r.status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post(f"/api/v1/papers/{pid}/upvote", headers=auth).json() == {"id": pid, "upvoted": True, "upvotes": 1}
    assert client.post(f"/api/v1/papers/{pid}/upvote", headers=auth).json()["upvotes"] == 1  # idempotent
    assert client.delete(f"/api/v1/papers/{pid}/upvote", headers=auth).json() == {"id": pid, "upvoted": False, "upvotes": 0}
    assert client.post("/api/v1/papers/2601.00000/upvote", headers=auth).status_code == 404
    assert client.get("/api/v1/me", headers=auth).json() == {"user": "bot", "isAdmin": False}
    r = client.post("/api/v1/submissions", json={"id": pid}, headers=auth)
    # the demo's data ends long before today: a submission joins its newest day's list
    assert r.status_code == 201 and r.json()["day"] == submission_day(store)
    again = client.post("/api/v1/submissions", json={"id": pid}, headers=auth)
    assert again.status_code == 409 and "already" in again.json()["error"]
    assert client.post("/api/v1/submissions", json={"nope": 1}, headers=auth).status_code == 422


def test_v1_trending_parts_sum_to_score(client):
    r = client.get("/api/v1/trending", params={"window": "month", "limit": 10})
    assert r.status_code == 200
    papers = r.json()["papers"]
    assert papers
    scores = [p["score"] for p in papers]
    assert scores == sorted(scores, reverse=True)
    for p in papers:
        assert math.isclose(sum(p["parts"].values()), p["score"], rel_tol=1e-6, abs_tol=1e-9)
    assert client.get("/api/v1/trending", params={"window": "year"}).status_code == 422


def test_v1_search(client, app):
    store = _store(app)
    pid = store.query_one("SELECT id FROM papers ORDER BY id DESC LIMIT 1")[0]
    title = listings.cards(store, [pid])[0].paper.title_display
    r = client.get("/api/v1/search", params={"q": title, "mode": "lexical", "limit": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] >= 1 and pid in [h["id"] for h in body["hits"]] and len(body["hits"]) <= 3


def test_openapi_schema_served(client):
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    for p in ("/api/daily_papers", "/api/papers/search", "/api/papers/{paper_id}", "/api/v1/trending",
              "/api/v1/papers/{paper_id}/upvote", "/api/v1/submissions"):
        assert p in paths, p
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert client.get("/api/docs").status_code == 200


@pytest.mark.slow
def test_huggingface_hub_client_works_against_paperwire(live_server, monkeypatch):
    """The real huggingface_hub client, pointed at a live `paperwire serve`."""
    import huggingface_hub.constants
    from huggingface_hub import HfApi

    # the embedding code sets the Hub offline (models are bundled); this client talks to paperwire only
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)

    api = HfApi(endpoint=live_server, token=False)
    daily = list(api.list_daily_papers(month="2026-06", sort="trending", limit=10))
    assert 0 < len(daily) <= 10
    first = daily[0]
    assert first.id and first.title and first.authors and first.authors[0].name
    assert first.upvotes == max(d.upvotes or 0 for d in daily)
    # submitted_at is the item's publishedAt, as the Hub sends it (arXiv's time, days before the list's)
    assert first.submitted_at is not None and first.submitted_at.strftime("%Y") == "2026"
    info = api.paper_info(first.id)
    assert info.id == first.id and info.title == first.title and info.published_at is not None
    md = api.read_paper(first.id)
    assert md.startswith("# ") and first.id in md
    found = list(api.list_papers(query=first.title, limit=5))
    assert first.id in [p.id for p in found]
    from huggingface_hub.errors import HfHubHTTPError

    with pytest.raises(HfHubHTTPError):
        api.paper_info("2601.00000")
