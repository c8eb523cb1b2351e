"""Real headless Chromium (Debian's /usr/bin/chromium via Playwright) against a live
`paperwire serve`: front page, search, paper, sign up, upvote, submit, subscribe.

With PAPERWIRE_SCREENSHOTS=1 the run also refreshes docs/front.png, docs/search.png and
docs/paper.png (the README shows them).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from paperwire.store import listings, open_store

from browser_support import ARGS, CHROMIUM, MARKS, chromium_page, shot, sign_up_and_in

pytestmark = MARKS


@pytest.fixture
def page(live_server):
    with chromium_page(live_server) as pg:  # no script errors and no CSP violations
        yield pg


def card_sel(pid: str) -> str:
    return f'[id="p-{pid.replace("/", "-")}"]'


def test_visitor_journey(page, site_settings):
    store = open_store(site_settings.db)
    day = listings.latest_curated_day(store)
    top_ids, total = listings.curated_ids(store, day, day, limit=3)
    top = listings.cards(store, top_ids[:1])[0]
    listed = listings.latest_listing_day(store)
    to_submit = next(c.id for c in listings.cards(store, listings.new_ids(store, listed, listed, limit=100)[0])
                     if not c.curated_on)  # a recent paper on no curated list yet

    # front page: the latest curated day's list, best first
    page.goto("/")
    assert page.locator("article.card").count() == min(30, total)
    assert page.locator("article.card h2 a").first.inner_text() == top.paper.title_display
    shot(page, "front.png")

    # search from the header box
    words = " ".join(re.findall(r"[A-Za-z]{5,}", top.paper.title_display)[:3])
    page.fill("nav form.search input[name=q]", words)
    page.press("nav form.search input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"/papers\?q="))
    assert page.locator("article.card").count() > 0
    assert page.locator(card_sel(top.id)).count() == 1
    assert page.locator("mark").count() > 0
    shot(page, "search.png")

    # open the paper
    page.click(card_sel(top.id) + " h2 a")
    page.wait_for_url(re.compile(rf"/papers/{re.escape(top.id)}$"))
    assert page.locator("h1").inner_text() == top.paper.title_display
    assert page.locator(f'a[href="https://arxiv.org/pdf/{top.id}"]').count() == 1
    shot(page, "paper.png")

    # sign up
    page.click("text=Sign up")
    sign_up_and_in(page, "browser@example.org", "browser", "a long password")
    assert page.locator("nav >> text=browser").count() == 1

    # upvote on the paper page (the script posts it without reloading)
    page.goto(f"/papers/{top.id}")
    count = page.locator(".paperhead .upvote .count")
    before = int(count.inner_text())
    page.click(".paperhead .upvote")
    # expect() polls from Playwright's own isolated script, so the page's strict CSP (no eval) holds
    from playwright.sync_api import expect

    expect(count).to_have_text(str(before + 1))
    expect(page.locator(".paperhead .upvote")).to_have_attribute("aria-pressed", "true")
    page.reload()
    assert int(page.locator(".paperhead .upvote .count").inner_text()) == before + 1

    # submit a paper to today's list
    page.goto("/submit")
    page.fill("input[name=arxiv_id]", to_submit)
    page.click("form[action='/submit'] button")
    page.wait_for_url(re.compile(rf"/papers/{re.escape(to_submit)}$"))
    assert "Submitted to the list of" in page.content()
    assert "submitted by browser" in page.content()

    # subscribe from the front-page header form
    page.goto("/")
    page.fill("#sub-email", "reader@example.org")
    page.click("form.subscribe button")
    page.wait_for_load_state()
    text = page.content().lower()
    assert "inbox" in text or "saved" in text
    assert store.query_one("SELECT 1 FROM upvotes u JOIN users s ON s.id = u.user_id WHERE s.username='browser' "
                           "AND u.paper_id=?", (top.id,)) is not None
    store.close()


def test_works_without_javascript(live_server, site_settings):
    """Forms post and redirect back with scripts off (progressive enhancement)."""
    from playwright.sync_api import sync_playwright

    store = open_store(site_settings.db)
    day = listings.latest_curated_day(store)
    pid = listings.curated_ids(store, day, day, limit=1)[0][0]  # the front page's first card
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        ctx = browser.new_context(java_script_enabled=False, base_url=live_server)
        pg = ctx.new_page()
        pg.goto("/signup")
        sign_up_and_in(pg, "nojs@example.org", "nojs", "a long password")
        pg.goto("/")
        pg.click(card_sel(pid) + " button.upvote")
        pg.wait_for_load_state()
        assert pg.locator(card_sel(pid) + " button.upvote").get_attribute("aria-pressed") == "true"
        browser.close()
    assert store.query_one("SELECT count(*) FROM upvotes WHERE paper_id=?", (pid,))[0] == 1
    store.close()
