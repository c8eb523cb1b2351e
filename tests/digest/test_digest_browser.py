"""A digest built from the demo data, rendered in real headless Chromium (Debian's
/usr/bin/chromium through Playwright): at desktop width and at phone width, with a screenshot.

PAPERWIRE_SCREENSHOTS=1 also refreshes docs/digest.png (the README shows it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from digest_support import demo_db, mail_settings, token_of
from paperwire.digest import period, subscriptions
from paperwire.store import open_store
from paperwire.store import subscriptions as subs

from browser_support import ARGS, CHROMIUM, DOCS, MARKS  # noqa: E402

pytestmark = MARKS


@pytest.fixture
def digest_html(tmp_path) -> tuple[Path, subs.OutboxRow]:
    settings = mail_settings(demo_db(tmp_path), None, base_url="https://paperwire.example")
    store = open_store(settings)
    out = subscriptions.subscribe(store, settings, "reader@example.org",
                           {"categories": ["cs.CL"], "topics": ["hallucination", "speech recognition"], "size": 6},
                           send=False)
    subscriptions.check_confirm_token(store, settings, token_of(out.confirm_url))
    # star counts observed for the repositories of a few of the week's papers: the trending signal
    from paperwire.store import signals
    from paperwire.store.papers import get_papers

    with_code = [r[0] for r in store.query(
        "SELECT DISTINCT l.paper_id FROM links l JOIN papers p ON p.id = l.paper_id "
        "WHERE l.kind='github' AND p.listed >= '2026-06-30' ORDER BY l.paper_id LIMIT 4")]
    papers = get_papers(store, with_code)
    rows = []
    for n, pid in enumerate(with_code):
        repo = next(l.url for l in papers[pid].links if l.kind == "github").removeprefix("https://github.com/")
        rows += [(pid, "github_stars", repo, 10.0, "2026-06-30T08:00:00Z"),
                 (pid, "github_stars", repo, 10.0 + 150 / (n + 1), "2026-07-01T20:00:00Z")]
    signals.add_signals(store, rows)
    period.build_period(store, settings, "daily", as_of="latest")
    [row] = subs.outbox_rows(store, period="daily:2026-07-01")
    store.close()
    path = tmp_path / "digest.html"
    path.write_text(row.html_body, encoding="utf-8")
    return path, row


def test_digest_renders_in_chromium(digest_html, tmp_path):
    from playwright.sync_api import sync_playwright

    path, row = digest_html
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            # images off is the default in many mail clients: the digest has none to lose
            page = browser.new_page(viewport={"width": 760, "height": 1000})
            page.goto(path.as_uri())
            assert page.locator("img").count() == 0
            whys = page.locator("text=/^Why: /")
            assert whys.count() == 6
            assert "matches your topic" in " ".join(whys.all_inner_texts())
            titles = page.locator("a[style*='font-size:17px']")
            assert titles.count() >= 6  # the items, plus the trending section
            first = titles.first
            assert first.is_visible() and first.get_attribute("href").startswith("https://paperwire.example/papers/")
            assert page.get_by_text("Trending this week").is_visible()
            assert page.get_by_role("link", name="Code").count() >= 1
            unsub = page.get_by_role("link", name="Unsubscribe")
            assert unsub.get_attribute("href").startswith("https://paperwire.example/unsubscribe?token=")
            # the card is at most 640 px wide, centred
            box = page.locator("table[role=presentation] table").first.bounding_box()
            assert box["width"] <= 641 and box["x"] > 0
            shot = tmp_path / "digest.png"
            page.screenshot(path=str(shot), full_page=False)
            assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
            if os.environ.get("PAPERWIRE_SCREENSHOTS") == "1":
                DOCS.mkdir(exist_ok=True)
                page.screenshot(path=str(DOCS / "digest.png"), full_page=True)
            # on a phone: no sideways scrolling, text still a readable size
            phone = browser.new_page(viewport={"width": 375, "height": 740})
            phone.goto(path.as_uri())
            assert phone.evaluate("document.documentElement.scrollWidth") <= 376
            size = phone.evaluate("parseFloat(getComputedStyle(document.querySelector(\"p\")).fontSize)")
            assert size >= 13
            assert phone.locator("text=/^Why: /").first.is_visible()
        finally:
            browser.close()
