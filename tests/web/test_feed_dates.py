"""Dates of listing-only papers (arXiv listings know the day a paper was listed, not its first
version): every feed and the Markdown export show that day, never an empty value or 1970."""

from __future__ import annotations

import feedparser
import pytest

from paperwire.store import listings


def _listing_only(app):
    row = app.state.store.query_one(
        "SELECT id, listed FROM papers WHERE published IS NULL AND listed IS NOT NULL AND hidden=0 "
        "ORDER BY listed DESC LIMIT 1")
    assert row, "the demo has listing-only papers"
    return row[0], row[1]


def _feed_urls(app, pid):
    store = app.state.store
    paper = listings.cards(store, [pid])[0].paper
    author = paper.authors[0]
    return [f"/feeds/daily.{{fmt}}?date={paper.listed}", f"/feeds/category/{paper.categories[0]}.{{fmt}}",
            f"/feeds/author/{author}.{{fmt}}", "/feeds/trending.{fmt}?window=month",
            f"/feeds/search.{{fmt}}?q={paper.title_display[:60]}"]


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feeds_date_listing_papers_by_their_listing_day(client, app, fmt):
    pid, listed = _listing_only(app)
    seen = False
    for url in _feed_urls(app, pid):
        r = client.get(url.format(fmt=fmt))
        assert r.status_code == 200, url
        assert b"1970" not in r.content, url
        feed = feedparser.parse(r.content)
        assert not feed.bozo and feed.entries, url
        assert feed.feed.get("updated_parsed") or fmt == "rss"
        for e in feed.entries:
            assert e.published_parsed and e.published_parsed.tm_year > 1990, (url, e.link)
            if e.link.endswith("/papers/" + pid):
                seen = True
                assert "%04d-%02d-%02d" % tuple(e.published_parsed[:3]) == listed
    assert seen


def test_markdown_export_gives_a_published_value(client, app):
    pid, listed = _listing_only(app)
    text = client.get(f"/papers/{pid}.md").text
    line = next(ln for ln in text.splitlines() if ln.startswith("**Published:**"))
    assert listed in line
    dated = app.state.store.query_one("SELECT id, published FROM papers WHERE published IS NOT NULL LIMIT 1")
    assert f"**Published:** {dated[1][:10]}" in client.get(f"/papers/{dated[0]}.md").text
