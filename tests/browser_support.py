"""Headless Debian Chromium for browser tests (installed by scripts/setup.sh --test).

No skip when it is missing: a browser test that cannot run must fail, not pass quietly.
"""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# without the background-networking flags Chromium keeps dialling out on a closed network
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
DOCS = Path(__file__).parent.parent / "docs"
MARKS = [pytest.mark.browser, pytest.mark.slow]


@contextmanager
def chromium_page(base_url: str, *, console_errors: bool = True):
    """A page in headless Chromium at base_url; on leaving, asserts the page raised no script
    errors (and, with console_errors, logged none: a CSP violation is logged as one)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, base_url=base_url)
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        if console_errors:
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        yield pg
        assert not errors, errors
        browser.close()


def shot(page, name: str):
    """With PAPERWIRE_SCREENSHOTS=1, refresh docs/<name> from the page."""
    if os.environ.get("PAPERWIRE_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / name), full_page=False)


def sign_up_and_in(page, email: str, username: str, password: str):
    """Sign up through the form, then sign in: sign-up answers alike for new and taken addresses,
    so the new account signs in next. Returns once the sign-in's redirect has landed."""
    page.fill("input[name=email]", email)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action='/signup'] button")
    page.wait_for_url("**/signin**")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("section.form form[action='/signin'] button")
    page.wait_for_url(lambda url: "/signin" not in url)  # the post's redirect, not the page before it
