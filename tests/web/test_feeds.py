"""Atom and RSS feeds, parsed by feedparser: well-formed, complete, escaped."""

from __future__ import annotations

import feedparser
import pytest

from paperwire.models import Paper
from paperwire.store import listings
from paperwire.store.papers import upsert_papers


def _parse(client, url):
    r = client.get(url)
    assert r.status_code == 200, (url, r.text[:300])
    feed = feedparser.parse(r.content)
    assert not feed.bozo, (url, feed.get("bozo_exception"))
    return r, feed


@pytest.mark.parametrize("fmt,version", [("atom", "atom10"), ("rss", "rss20")])
def test_daily_feed(client, app, fmt, version):
    store = app.state.store
    day = listings.latest_curated_day(store)
    ids, total = listings.curated_ids(store, day, day, "upvotes", 50, 0)
    r, feed = _parse(client, f"/feeds/daily.{fmt}")
    assert feed.version == version
    assert r.headers["content-type"].startswith(f"application/{fmt}+xml")
    assert len(feed.entries) == min(50, total)
    first = listings.cards(store, ids[:1])[0]
    e = feed.entries[0]
    assert e.title == first.paper.title_display
    assert e.link.endswith(f"/papers/{first.id}")
    if fmt == "atom":
        assert [a.name for a in e.authors] == first.paper.authors[:50]
        assert e.summary == first.paper.abstract_display.strip() or e.summary.strip() == first.paper.abstract_display.strip()
    # another day by parameter
    prev, _ = listings.curated_neighbours(store, day)
    _, feed2 = _parse(client, f"/feeds/daily.{fmt}?date={prev}")
    assert {x.link for x in feed2.entries}.isdisjoint({x.link for x in feed.entries})


def test_trending_search_category_author_feeds(client, app):
    store = app.state.store
    _, tr = _parse(client, "/feeds/trending.atom?window=month")
    assert tr.entries and tr.feed.title == "Trending this month"
    pid = listings.list_ids(store, listings.latest_day(store), listings.latest_day(store))[0][0]
    card = listings.cards(store, [pid])[0]
    _, se = _parse(client, "/feeds/search.atom?q=" + card.paper.title_display)
    assert any(e.link.endswith(f"/papers/{pid}") for e in se.entries)
    cat = card.paper.categories[0]
    _, ca = _parse(client, f"/feeds/category/{cat}.rss")
    assert ca.entries and all(cat in [t.term for t in e.tags] for e in ca.entries)
    author = card.paper.authors[0]
    _, au = _parse(client, f"/feeds/author/{author}.atom")
    assert any(e.link.endswith(f"/papers/{pid}") for e in au.entries)
    assert client.get("/feeds/author/Nobody Atall.atom").status_code == 404
    assert client.get("/feeds/daily.json").status_code == 404


def test_feed_escapes_markup_and_control_characters(client, app):
    store = app.state.store
    day = listings.latest_day(store)
    upsert_papers(store, [Paper(id="2606.99998", title="<b>Bold</b> & \x0bcontrol", abstract="x < y & <script>z</script>",
                                authors=["A & B"], categories=["cs.XX"], listed=day,
                                published=f"{day}T00:00:00Z")], source="test")
    r, feed = _parse(client, "/feeds/category/cs.XX.atom")
    assert b"<script>" not in r.content and b"<b>Bold" not in r.content
    e = feed.entries[0]
    assert "Bold" in e.title and e.authors[0].name == "A & B"
