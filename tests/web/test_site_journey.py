"""A newcomer's visit in real Chromium, at desktop and phone (390 px) widths, over the demo data:
every page the first-hour review fixed, checked for what a reader sees.

Asserted on every page: no request leaves 127.0.0.1 (the browser's own request log), no script
error or CSP violation. Then per page: TeX shown as math, not `$...$`; the For-you link for a
signed-in reader; `after:` narrowing a search; the API docs drawn from local assets; form
controls, chips and messages laid out as intended.

With PAPERWIRE_SCREENSHOTS=1 the run also writes docs/search.png and docs/phone.png (the README
shows them).
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import pytest

from paperwire.config import Settings
from paperwire.digest import subscriptions as digest
from paperwire.store import open_store

from browser_support import ARGS, CHROMIUM, DOCS, MARKS
from web_support import PASSWORD, make_user

pytestmark = MARKS

RAW_TEX = re.compile(r"\$[^$\s][^$]*\$|\\[A-Za-z]{2,}")
WIDTHS = {"desktop": {"width": 1200, "height": 900}, "phone": {"width": 390, "height": 844}}
CUTOFF = "2026-06-30"


def _tex_paper(store) -> str:
    # an abstract with a TeX command inside $...$ ("$\\" then a later "$"); ESCAPE names a
    # character the pattern does not hold, since PostgreSQL's LIKE reads a backslash as its escape
    # and SQLite's has none
    math = "abstract_display LIKE '%$\\%$%' ESCAPE '!'"
    row = store.query_one(f"SELECT id FROM papers WHERE hidden=0 AND {math} AND title_display LIKE '%$%' "
                          "ORDER BY id LIMIT 1") or \
        store.query_one(f"SELECT id FROM papers WHERE hidden=0 AND {math} ORDER BY id LIMIT 1")
    assert row, "the demo has papers with TeX"
    return row[0]


def _card_dates(page) -> list[str]:
    """The date each result card shows (first version, or the listing day)."""
    return [re.search(r"\d{4}-\d{2}-\d{2}", t).group(0) for t in page.locator("article.card .date").all_inner_texts()]


def _shot(page, name: str):
    if os.environ.get("PAPERWIRE_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / name), full_page=False)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_first_visit(browser, live_server, site_settings, shared_hash, width):
    store = open_store(site_settings)
    reader = make_user(store, "reader", shared_hash)
    from paperwire.store import users  # the reader likes three papers of the week: For you has reasons to give
    for (pid,) in store.query("SELECT id FROM papers WHERE hidden=0 AND listed IS NOT NULL ORDER BY listed DESC, id LIMIT 3"):
        users.set_upvote(store, reader.id, pid, True)
    settings = Settings.load(env={}, db=site_settings.db, secret_key="s" * 40, base_url=live_server)
    sub = digest.subscribe(store, settings, "digest-reader@example.org", {"topics": ["retrieval"]}, send=False)
    prefs_url = digest.links_for(settings, sub.subscriber).preferences
    tex_id = _tex_paper(store)

    context = browser.new_context(viewport=WIDTHS[width], base_url=live_server)
    requests: list[str] = []
    errors: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    phone = width == "phone"

    # the front page; at phone width the header stays short and the search box whole
    page.goto("/")
    assert page.locator("article.card").count() > 0
    header = page.locator("header.top").bounding_box()
    search = page.locator("nav form.search input").bounding_box()
    if phone:
        assert header["height"] <= 150, header
        assert search["width"] >= 300, search
    metas = page.locator("article.card .meta:has(.badge.code)")
    if metas.count():  # the code chip is the same box as the category chips in its row
        meta = metas.first
        code, cat = meta.locator(".badge.code").bounding_box(), meta.locator(".cat").first.bounding_box()
        assert abs(code["height"] - cat["height"]) <= 1.5, (code, cat)
        # centred on the line it sits on (the row may wrap at phone width)
        mid = code["y"] + code["height"] / 2
        line = [b for b in (el.bounding_box() for el in meta.locator(":scope > *").all())
                if b and b != code and b["y"] < mid < b["y"] + b["height"]]
        assert all(abs(b["y"] + b["height"] / 2 - mid) <= 1.5 for b in line), (code, line)
        assert line or phone, "at desktop width the chips share a line"

    # the trending page
    page.goto("/papers/trending")
    assert page.locator("article.card").count() > 0

    # a paper whose title/abstract has TeX: math drawn as MathML, no raw TeX in what a reader sees
    page.goto(f"/papers/{tex_id}")
    visible = page.locator("article.paper").inner_text()
    assert not RAW_TEX.search(visible), RAW_TEX.search(visible).group(0)
    assert page.locator("article.paper math").count() > 0
    assert page.locator("dl.facts dt", has_text="Comments").count() == 0  # arXiv's field is not the discussion
    assert page.locator("section.comments h2").inner_text().startswith("Discussion")

    # search: after: narrows the results to papers after the day, also as the only filter
    page.goto("/papers?q=" + "diffusion")
    plain = _card_dates(page)
    assert plain and min(plain) <= CUTOFF
    page.fill(".bigsearch input[name=q]", f"diffusion after:{CUTOFF}")
    page.press(".bigsearch input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"after"))
    narrowed = _card_dates(page)
    assert narrowed and min(narrowed) > CUTOFF
    assert "after:" in page.locator(".hint").inner_text()
    if not phone:
        _shot(page, "search.png")
    page.goto(f"/papers?q=after:{CUTOFF}")
    only = _card_dates(page)
    assert only and min(only) > CUTOFF

    # the API docs: Swagger UI from paperwire's own files
    page.goto("/api/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() > 10

    # a 404: the error is red, the way back is not
    page.goto("/papers/9999.99999")
    assert page.locator(".error", has_text="or search above").count() == 0
    assert page.locator("text=or search above").count() == 1

    # subscribing while e-mail is off says so
    page.goto("/")
    page.fill("#sub-email", f"{width}@example.org")
    page.click("form.subscribe button")
    page.wait_for_load_state()
    assert "E-mail is not set up" in page.locator("main").inner_text()

    # the digest preferences: labelled full-width controls, Save and Unsubscribe apart
    page.goto(prefs_url.replace(settings.base_url.rstrip("/"), ""))
    form = page.locator("section.form form").first.bounding_box()
    for ta in page.locator("section.form textarea").all():
        assert ta.bounding_box()["width"] >= 0.9 * form["width"]
    save = page.locator("section.form button", has_text="Save").bounding_box()
    unsubscribe = page.locator("section.form button", has_text="Unsubscribe").bounding_box()
    assert unsubscribe["y"] - (save["y"] + save["height"]) >= 16

    # signed out, For you asks to sign in, as a notice (not a success)
    page.goto("/foryou")
    page.wait_for_url(re.compile(r"/signin"))
    assert "notice" in page.locator(".flash").get_attribute("class")
    page.fill("input[name=email]", "reader@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("main form[action='/signin'] button")
    page.wait_for_url(re.compile(r"/foryou"))

    # signed in: For you is in the navigation and on the user's page; its profile tools are findable
    page.goto("/")
    link = page.locator('header nav a[href="/foryou"]')
    assert link.count() == 1 and link.is_visible()
    page.goto("/users/reader")
    assert page.locator('main a[href="/foryou"]').count() == 1
    link = page.locator('header nav a[href="/foryou"]')
    link.click()
    page.wait_for_url(re.compile(r"/foryou"))
    for anchor in ("#follow", "#import", "#feed"):
        assert page.locator(f'.tools a[href="{anchor}"]').count() == 1
        assert page.locator(anchor).count() == 1
    assert not re.search(r"[\U0001F000-\U0001FAFF]", page.locator("main").inner_text())  # no emoji-font glyphs
    reasons = " ".join(page.locator("main .why").all_inner_texts())
    assert reasons and not re.search(r"\b\d{4}\.\d{4,5}\b", reasons), reasons  # papers cited by title, not id
    file_input = page.locator('input[type=file]').bounding_box()
    assert file_input and file_input["height"] >= 24
    if phone:
        _shot(page, "phone.png")

    context.close()
    store.close()
    # no script errors and no CSP violations (the 404 page's own status is the one expected error)
    errors = [e for e in errors if not ("/papers/9999.99999" in e and "status of 404" in e)]
    assert not errors, errors
    outside = sorted({u for u in requests if urlsplit(u).hostname != "127.0.0.1" and not u.startswith("data:")})
    assert not outside, outside
