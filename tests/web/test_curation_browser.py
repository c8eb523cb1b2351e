"""Headless Chromium over the demo (real Hugging Face days of June 2026): the front page is the
newest curated day, most upvoted first; the "All new" tab beside it ranks the rest of arXiv and
says why; a paper page shows its GitHub stars, organisation and keyword chips.

With PAPERWIRE_SCREENSHOTS=1 the run also refreshes docs/front.png and docs/paper.png.
"""

from __future__ import annotations

import json
import re

import pytest

from browser_support import MARKS, chromium_page, shot
from paperwire.store import listings, open_store
from repo_paths import DEMO

pytestmark = MARKS


@pytest.fixture
def browser_page(live_server):
    with chromium_page(live_server, console_errors=False) as pg:
        yield pg


def test_front_page_is_the_curated_day_most_upvoted_first(browser_page, site_settings):
    page = browser_page
    store = open_store(site_settings.db)
    day = listings.latest_curated_day(store)
    items = json.loads((DEMO / "hf" / f"{day}.json").read_text())  # that day's real list
    most = max(it["paper"]["upvotes"] for it in items)
    new_total = listings.new_ids(store, day, day, 0)[1]

    page.goto("/")
    cards = page.locator("article.card")
    assert cards.count() == min(30, len(items))
    assert int(cards.first.locator(".upvote .count").inner_text()) == most
    top = next(it for it in items if it["paper"]["upvotes"] == most and
               cards.first.get_attribute("id") == "p-" + it["paper"]["id"])
    assert cards.first.locator("h2 a").inner_text().strip()
    counts = [int(x) for x in cards.locator(".upvote .count").all_inner_texts()]
    assert counts == sorted(counts, reverse=True)
    assert page.locator(".tabs a.on").inner_text().startswith("Daily papers")
    assert page.locator(".tabs a", has_text="All new on arXiv").inner_text().endswith(str(new_total))
    shot(page, "front.png")

    # the tab beside it: every paper listed that day, each card saying why it ranks there
    page.click(".tabs a:has-text('All new on arXiv')")
    page.wait_for_url(re.compile(rf"/papers/date/{day}/new$"))
    assert page.locator("article.card").count() == min(30, new_total)
    assert "Why here:" in page.locator("article.card").first.inner_text()

    # the paper page of the day's top paper: stars, organisation, keywords as chips linking to a search
    page.goto(f"/papers/{top['paper']['id']}")
    assert page.locator("h1").inner_text().strip()
    keywords = top["paper"].get("ai_keywords") or []
    chips = page.locator(".keywords .chip")
    assert chips.count() == min(12, len(keywords)) and chips.first.inner_text() == keywords[0]
    assert "AI keywords (Hugging Face)" in page.locator(".keywords").inner_text()
    assert chips.first.get_attribute("href").startswith("/papers?q=")
    stars = top["paper"].get("githubStars")
    if stars:
        assert f"★ {stars:,}" in page.locator("dl.facts").inner_text()
    org = top["paper"].get("organization") or top.get("organization")
    if org:
        assert (org.get("fullname") or org["name"]) in page.locator("dl.facts").inner_text()
    store.close()


def test_paper_page_with_stars_and_keywords(browser_page, site_settings):
    """The screenshot's paper: one of the demo's with GitHub stars, an organisation and AI keywords."""
    page = browser_page
    items = [it for f in sorted((DEMO / "hf").glob("*.json")) for it in json.loads(f.read_text())]
    pick = max((it for it in items if it["paper"].get("githubStars") and it["paper"].get("ai_keywords")
                and (it["paper"].get("organization") or it.get("organization"))),
               key=lambda it: it["paper"]["upvotes"])
    page.goto(f"/papers/{pick['paper']['id']}")
    facts = page.locator("dl.facts").inner_text()
    assert f"★ {pick['paper']['githubStars']:,}" in facts and "On the daily list of" in facts
    assert page.locator(".keywords .chip").count() >= 3
    assert pick["paper"]["ai_summary"] in page.locator(".ai-summary").inner_text()
    shot(page, "paper.png")
    # a paper Hugging Face never featured gets keywords derived from its abstract, labelled so
    store = open_store(site_settings.db)
    day = listings.latest_listing_day(store)
    plain = next(c for c in listings.cards(store, listings.new_ids(store, day, day, limit=200)[0]) if not c.ai_keywords)
    store.close()
    page.goto(f"/papers/{plain.id}")
    assert "Keywords (from the abstract)" in page.locator(".keywords").inner_text()
    assert page.locator(".keywords .chip").count() >= 1
