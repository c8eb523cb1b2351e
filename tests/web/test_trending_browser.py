"""The trending page in real headless Chromium over the demo: the first paper's "Why here?"
panel opens and names the parts of its score in words. With PAPERWIRE_SCREENSHOTS=1 the run
also refreshes docs/trending.png (the README shows it)."""

from __future__ import annotations

import re

import pytest

from browser_support import MARKS, chromium_page, shot

pytestmark = MARKS


@pytest.fixture
def page(live_server):
    with chromium_page(live_server) as pg:  # no script errors and no CSP violations
        yield pg


def test_first_why_panel_names_its_parts(page):
    page.goto("/papers/trending?window=week")
    assert page.locator("p.asof").inner_text().startswith("As of 2026-07-01")
    why = page.locator("details.why").first
    summary = why.locator("summary")
    assert re.search(r"Why here\? [\d,]+ upvotes on Hugging Face", summary.inner_text())
    summary.click()
    assert why.get_attribute("open") is not None
    items = why.locator("ul.why-parts li").all_inner_texts()
    assert any(re.match(r"[\d,]+ upvotes on Hugging Face \d+\.\d\d points$", t) for t in items), items
    assert any(re.match(r"\+[\d,]+ GitHub stars this week \(.+\) \d+\.\d\d points$", t) for t in items), items
    assert [h.strip().lower() for h in why.locator("h4").all_inner_texts()] == ["what counts", "age", "score"]
    text = why.inner_text()
    assert "hf_upvotes" not in text and "star_velocity" not in text
    shot(page, "trending.png")
