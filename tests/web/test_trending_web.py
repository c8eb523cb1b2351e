"""Trending on the site over the demo (real Hugging Face lists of late June 2026): the page's
"why" panel in words with headings, "as of" the demo's newest day, the API's reasons, the
feeds' notes, and a vote on the site moving the ranking at once."""

from __future__ import annotations

import math
import re

import feedparser
import pytest

from paperwire.store import users

RAW_KEYS = ("hf_upvotes", "star_velocity", "age_days", "hf_comments")


@pytest.mark.parametrize("window", ["day", "week", "month"])
def test_trending_page_why_panel_in_words(client, window):
    r = client.get(f"/papers/trending?window={window}")
    assert r.status_code == 200
    assert "As of 2026-07-01" in r.text  # the demo is older than any window
    panels = re.findall(r'<details class="why">(.*?)</details>', r.text, re.S)
    assert len(panels) == 30
    first = panels[0]
    for heading in ("What counts", "Age", "Score"):
        assert f"<h4>{heading}</h4>" in first
    assert re.search(r"<li>[\d,]+ upvotes on Hugging Face <span", first)
    assert "points" in first and "the last day of the window" in first or "days before the end" in first
    for key in RAW_KEYS:
        assert key not in r.text  # parts by name, never by key


def test_api_trending_reasons_sum_to_score(client):
    body = client.get("/api/v1/trending", params={"window": "week", "limit": 20}).json()
    assert body["as_of"] == "2026-07-01"
    papers = body["papers"]
    assert len({round(p["score"], 9) for p in papers}) > 5
    top = papers[0]
    assert math.isclose(sum(r["points"] for r in top["reasons"]), top["score"], rel_tol=1e-9)
    assert any(re.fullmatch(r"[\d,]+ upvotes on Hugging Face", r["text"]) for r in top["reasons"])
    assert top["freshness"]


def test_trending_feed_says_why(client):
    feed = feedparser.parse(client.get("/feeds/trending.atom?window=week").content)
    assert feed.entries and feed.entries[0].summary.startswith("Trending: ")
    assert "upvotes on Hugging Face" in feed.entries[0].summary.split("\n")[0]


def test_an_upvote_here_moves_the_ranking_at_once(client, app, shared_hash):
    store = app.state.store
    before = client.get("/api/v1/trending", params={"window": "day", "limit": 100}).json()["papers"]
    bare = next(p for p in before if [r["text"] for r in p["reasons"]] == ["new in this window"])
    voters = [users.create_user(store, f"v{k}@example.org", f"v{k}", password_hash=shared_hash) for k in range(5)]
    for u in voters:
        users.set_upvote(store, u.id, bare["id"], True)
    app.state.page_cache.bump()  # what the site's upvote route does after a vote
    after = client.get("/api/v1/trending", params={"window": "day", "limit": 100}).json()["papers"]
    moved = next(p for p in after if p["id"] == bare["id"])
    assert "5 upvotes here" in [r["text"] for r in moved["reasons"]]
    assert [p["id"] for p in after].index(bare["id"]) < [p["id"] for p in before].index(bare["id"])


def test_trending_memo_computes_once_and_serves_the_old_list_while_refreshing():
    import threading
    import time

    from paperwire.web.queries import TrendingMemo

    class Cache:
        generation = 0

    memo, calls = TrendingMemo(Cache(), ttl=0.2), []

    def compute():
        calls.append(1)
        time.sleep(0.3)
        return [len(calls)]

    got: list = []
    readers = [threading.Thread(target=lambda: got.append(memo.get(("week",), compute))) for _ in range(5)]
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    assert got == [[1]] * 5 and len(calls) == 1  # five readers missing the same list: one computation
    time.sleep(0.25)
    started = time.perf_counter()
    assert memo.get(("week",), compute) == [1]  # older than ttl: served at once ...
    assert time.perf_counter() - started < 0.1
    deadline = time.monotonic() + 10  # the successor takes 0.3 s, longer on a loaded machine
    while memo._computing and time.monotonic() < deadline:
        time.sleep(0.02)
    assert memo.get(("week",), compute) == [2]  # ... while its successor was computed
    Cache.generation = 1  # a write on the site: the next reader gets a fresh list
    assert memo.get(("week",), compute) == [3]
