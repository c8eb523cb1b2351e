"""The HTML site through an in-process client: every page, accounts, CSRF, upvotes, XSS."""

from __future__ import annotations

import asyncio
import html
import logging
import re

import httpx
import pytest

from paperwire.models import Paper
from paperwire.store import listings, users
from paperwire.store.papers import upsert_papers
from web_support import csrf_of, free_port, make_user, sign_in


def _store(app):
    return app.state.store


def _a_listed_paper(store, day=None):
    day = day or listings.latest_day(store)
    ids, _ = listings.list_ids(store, day, day, limit=5)
    return ids[0]


# --- pages ---------------------------------------------------------------------------------------

def test_front_page_shows_latest_curated_day_with_cards(client, app):
    store = _store(app)
    day = listings.latest_curated_day(store)
    expected, total = listings.curated_ids(store, day, day, "upvotes", 30, 0)
    r = client.get("/")
    assert r.status_code == 200
    assert f"{total} papers" in r.text and total > 0
    shown = re.findall(r'<article class="card" id="p-([^"]+)"', r.text)
    assert shown == [i.replace("/", "-") for i in expected]
    # the tab beside it counts every paper listed on arXiv that day
    assert f'All new on arXiv <span class="n">{listings.new_ids(store, day, day, 0)[1]}</span>' in r.text
    assert "Trending papers by e-mail" in r.text  # the subscribe form in the header
    assert 'action="/subscribe"' in r.text


def test_day_week_month_views_and_navigation(client, app):
    store = _store(app)
    day = listings.latest_curated_day(store)
    prev, nxt = listings.curated_neighbours(store, day)
    assert prev is not None and nxt is None
    r = client.get(f"/papers/date/{prev}")
    assert r.status_code == 200
    assert f'href="/papers/date/{day}"' in r.text and 'rel="next"' in r.text
    ids, total = listings.curated_ids(store, prev, prev)
    assert f"{total} paper" in r.text
    week = client.get(f"/papers/week/2026-W26")
    assert week.status_code == 200 and "Week 2026-W26" in week.text
    wk_ids, wk_total = listings.curated_ids(store, *listings.week_range("2026-W26"))
    assert wk_total >= total and f"{wk_total} paper" in week.text
    month = client.get("/papers/month/2026-06")
    assert month.status_code == 200 and "June 2026" in month.text
    # the "All new" tab of the day: every paper listed that day, ranked, each card saying why
    new = client.get(f"/papers/date/{prev}/new")
    new_ids, new_total = listings.new_ids(store, prev, prev)
    assert new.status_code == 200 and f"{new_total} papers" in new.text
    shown = re.findall(r'<article class="card" id="p-([^"]+)"', new.text)
    assert shown == [i.replace("/", "-") for i in new_ids]
    assert "Why here:" in new.text
    assert client.get("/papers/month/2026-06/new").text.count('class="card"') == 30
    assert client.get("/?p=2").status_code == 200


@pytest.mark.parametrize("url", ["/papers/date/2026-13-45", "/papers/date/yesterday", "/papers/week/2026-W99",
                                 "/papers/month/2026-13", "/papers/9999.99999", "/nothing-here"])
def test_bad_urls_get_friendly_404(client, url):
    r = client.get(url)
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"] and "Back to today" in r.text


def test_paper_page_and_version_redirect(client, app):
    pid = _a_listed_paper(_store(app))
    r = client.get(f"/papers/{pid}")
    assert r.status_code == 200
    p = listings.cards(_store(app), [pid])[0].paper
    assert html.escape(p.title_display, quote=False) in r.text
    assert f"https://arxiv.org/pdf/{pid}" in r.text and f"https://arxiv.org/abs/{pid}" in r.text
    r2 = client.get(f"/papers/{pid}v2")
    assert r2.status_code == 301 and r2.headers["location"] == f"/papers/{pid}"
    md = client.get(f"/papers/{pid}.md")
    assert md.status_code == 200 and md.text.startswith("# ") and pid in md.text


def test_old_style_id_uses_path(client, app):
    upsert_papers(_store(app), [Paper(id="hep-th/9901001", title="An old string paper", abstract="Strings.",
                                      authors=["A. Old"], categories=["hep-th"], published="1999-01-01T00:00:00Z",
                                      listed="1999-01-04")], source="test")
    r = client.get("/papers/hep-th/9901001")
    assert r.status_code == 200 and "An old string paper" in r.text
    assert client.get("/api/papers/hep-th/9901001").json()["id"] == "hep-th/9901001"
    assert client.get("/categories/hep-th").status_code == 200


def test_author_category_user_pages(client, app, shared_hash):
    store = _store(app)
    pid = _a_listed_paper(store)
    p = listings.cards(store, [pid])[0].paper
    author = p.authors[0]
    ids, total = listings.author_ids(store, author)
    r = client.get(f"/authors/{author}")
    assert r.status_code == 200 and pid.replace("/", "-") in r.text and f"{total} paper" in r.text
    cat = p.categories[0]
    r = client.get(f"/categories/{cat}")
    assert r.status_code == 200 and f"Newest in {cat}" in r.text
    assert client.get("/categories/no.such").status_code == 404
    u = make_user(store, "alice", shared_hash)
    users.set_upvote(store, u.id, pid, True)
    r = client.get("/users/alice")
    assert r.status_code == 200 and "Upvoted (1)" in r.text and pid.replace("/", "-") in r.text
    assert client.get("/users/nobody").status_code == 404


def test_trending_page_shows_breakdown(client):
    for window in ("day", "week", "month"):
        r = client.get(f"/papers/trending?window={window}")
        assert r.status_code == 200
    r = client.get("/papers/trending?window=month")
    assert "Why here?" in r.text
    assert client.get("/papers/trending?window=year").status_code == 422


def test_search_page(client, app):
    store = _store(app)
    pid = _a_listed_paper(store)
    title = listings.cards(store, [pid])[0].paper.title_display
    words = " ".join(re.findall(r"[A-Za-z]{5,}", title)[:3])
    r = client.get("/papers", params={"q": words, "mode": "lexical"})
    assert r.status_code == 200
    assert pid.replace("/", "-") in r.text, words
    assert "<mark>" in r.text
    assert client.get("/papers").status_code == 200  # empty form


# --- accounts and CSRF ---------------------------------------------------------------------------

def test_signup_signin_signout(client, app):
    token = csrf_of(client, "/signup")
    r = client.post("/signup", data={"csrf": token, "email": "bob@example.org", "username": "bob",
                                     "password": "long enough pw"})
    # the account exists, but the answer is the one an existing address gets too: sign in
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    assert "pw_session=" not in r.headers.get("set-cookie", "")
    new_answer = (r.status_code, r.headers["location"], r.cookies.get("pw_flash"))
    assert users.get_user_by_email(_store(app), "bob@example.org").username == "bob"
    r = client.post("/signin", data={"csrf": csrf_of(client), "email": "bob@example.org", "password": "long enough pw"})
    set_cookie = r.headers["set-cookie"]
    assert "pw_session=" in set_cookie and "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie.replace("Lax", "lax")
    assert "bob" in client.get("/").text and "Sign out" in client.get("/").text
    # sign out, then sign in again
    r = client.post("/signout", data={"csrf": csrf_of(client, "/")})
    assert r.status_code == 303
    assert "Sign out" not in client.get("/signin").text
    bad = client.post("/signin", data={"csrf": csrf_of(client), "email": "bob@example.org", "password": "wrong!!!!"})
    assert bad.status_code == 400 and "Wrong e-mail or password" in bad.text
    sign_in(client, "bob@example.org", "long enough pw")
    assert "Sign out" in client.get("/").text
    # duplicate and invalid sign-ups are refused with a reason
    client.cookies.clear()
    dup = client.post("/signup", data={"csrf": csrf_of(client, "/signup"), "email": "BOB@example.org",
                                       "username": "bob2", "password": "long enough pw"})
    # an existing address is not revealed: the same answer as a new one (its owner gets a mail)
    assert (dup.status_code, dup.headers["location"], dup.cookies.get("pw_flash")) == new_answer
    assert "exists" not in dup.text and users.get_user_by_name(_store(app), "bob2") is None
    short = client.post("/signup", data={"csrf": csrf_of(client, "/signup"), "email": "c@example.org",
                                         "username": "carol", "password": "short"})
    assert short.status_code == 400 and "8 characters" in short.text


def test_forged_posts_are_refused(client, app, shared_hash):
    store = _store(app)
    make_user(store, "victim", shared_hash)
    sign_in(client, "victim@example.org")
    pid = _a_listed_paper(store)
    # no token at all (a cross-site form cannot read the cookie or the page)
    r = client.post(f"/papers/{pid}/upvote", data={})
    assert r.status_code == 403
    # a token minted for another visitor (different seed cookie)
    from fastapi.testclient import TestClient

    with TestClient(app) as other:
        foreign = csrf_of(other, "/signin")
    r = client.post(f"/papers/{pid}/upvote", data={"csrf": foreign})
    assert r.status_code == 403
    r = client.post(f"/papers/{pid}/upvote", data={"csrf": "garbage"})
    assert r.status_code == 403
    assert users.count_upvotes(store, pid) == 0
    r = client.post("/signup", data={"email": "x@example.org", "username": "xx", "password": "long enough pw"})
    assert r.status_code == 403 and users.get_user_by_name(store, "xx") is None


def test_upvote_toggle_and_sign_in_required(client, app, shared_hash):
    store = _store(app)
    pid = _a_listed_paper(store)
    before = listings.cards(store, [pid])[0].upvotes
    r = client.post(f"/papers/{pid}/upvote", data={"csrf": csrf_of(client, "/")})
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    assert users.count_upvotes(store, pid) == 0
    make_user(store, "voter", shared_hash)
    sign_in(client, "voter@example.org")
    token = csrf_of(client, "/")
    r = client.post(f"/papers/{pid}/upvote", data={"csrf": token, "next": "/"})
    assert r.status_code == 303 and r.headers["location"].startswith("/#p-")
    assert users.count_upvotes(store, pid) == 1
    page = client.get(f"/papers/{pid}").text
    assert f'<span class="count">{before + 1}</span>' in page and 'aria-pressed="true"' in page
    # the script's JSON answer; a second post withdraws the vote
    r = client.post(f"/papers/{pid}/upvote", data={"csrf": token}, headers={"Accept": "application/json"})
    assert r.json() == {"id": pid, "upvoted": False, "upvotes": before}
    assert users.count_upvotes(store, pid) == 0


def test_fifty_concurrent_upvotes_from_fifty_users(app, shared_hash):
    store = _store(app)
    pid = _a_listed_paper(store)
    accounts = [make_user(store, f"racer{i}", shared_hash) for i in range(50)]

    async def run():
        import secrets

        from paperwire.web.security import serializer

        transport = httpx.ASGITransport(app=app)
        clients = []
        for u in accounts:
            # the cookies a sign-in sets, minted with the app's own signers (50 argon2 checks
            # would only time the password hash); sign-in itself is tested above
            seed = secrets.token_hex(16)
            cookies = {"pw_session": users.create_session(store, u.id), "pw_csrf": seed}
            c = httpx.AsyncClient(transport=transport, base_url="http://testserver", cookies=cookies)
            clients.append((c, serializer(app, "csrf").dumps(seed)))
        assert "Sign out" in (await clients[0][0].get("/signin")).text
        results = await asyncio.gather(*[c.post(f"/papers/{pid}/upvote", data={"csrf": t},
                                                headers={"Accept": "application/json"}) for c, t in clients])
        for c, _ in clients:
            await c.aclose()
        return results

    results = asyncio.run(run())
    assert all(r.status_code == 200 for r in results), [r.text for r in results if r.status_code != 200][:3]
    assert all(r.json()["upvoted"] for r in results)
    assert users.count_upvotes(store, pid) == 50
    assert listings.cards(store, [pid])[0].local_upvotes == 50  # the trigger-kept counter agrees


def test_submit_by_id_with_daily_limit(client, app, shared_hash):
    store = _store(app)
    make_user(store, "sub", shared_hash)
    assert client.get("/submit").status_code == 303  # sign in first
    sign_in(client, "sub@example.org")
    assert client.get("/submit").status_code == 200
    # papers on no curated list yet: the newest listing day's, less those Hugging Face featured
    day = listings.latest_listing_day(store)
    listed, _ = listings.new_ids(store, day, day, limit=100)
    ids = [i for i in listed if not listings.cards(store, [i])[0].curated_on][:7]
    limit = app.state.settings.submit_daily_limit
    dates = {pid: (p.listed, p.published) for pid, p in ((c.id, c.paper) for c in listings.cards(store, ids))}
    for pid in ids[:limit]:
        r = client.post("/submit", data={"csrf": csrf_of(client, "/submit"), "arxiv_id": f"arXiv:{pid}v1"})
        assert r.status_code == 303 and r.headers["location"] == f"/papers/{pid}"
    # the demo's data ends long before today, so submissions join its newest day's list
    today = max(day, listings.latest_curated_day(store))
    on_today, _ = listings.curated_ids(store, today, today, limit=100)
    assert set(ids[:limit]) <= set(on_today)
    # and never move a paper's own dates
    assert {c.id: (c.paper.listed, c.paper.published) for c in listings.cards(store, ids)} == dates
    r = client.post("/submit", data={"csrf": csrf_of(client, "/submit"), "arxiv_id": ids[limit]})
    assert r.status_code == 400 and "a day" in r.text
    r = client.post("/submit", data={"csrf": csrf_of(client, "/submit"), "arxiv_id": "not an id"})
    assert r.status_code == 400 and "not an arXiv id" in r.text
    page = client.get(f"/papers/date/{today}").text
    assert "submitted by sub" in page


def test_comments_markdown_lite_and_xss_inert(client, app, shared_hash):
    store = _store(app)
    pid = _a_listed_paper(store)
    make_user(store, "talker", shared_hash)
    sign_in(client, "talker@example.org")
    body = ("**Nice** *work*, see https://example.org/x and `a<b`\n\n"
            "<script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))")
    r = client.post(f"/papers/{pid}/comments", data={"csrf": csrf_of(client, f"/papers/{pid}"), "body": body})
    assert r.status_code == 303
    page = client.get(f"/papers/{pid}").text
    assert "<strong>Nice</strong>" in page and "<em>work</em>" in page and "<code>a&lt;b</code>" in page
    assert '<a href="https://example.org/x" rel="nofollow noopener ugc">' in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and 'href="javascript:' not in page
    empty = client.post(f"/papers/{pid}/comments", data={"csrf": csrf_of(client, f"/papers/{pid}"), "body": "  "})
    assert empty.status_code == 303 and len(users.list_comments(store, pid)) == 1


def test_xss_in_titles_abstracts_and_search_terms_is_inert(client, app):
    store = _store(app)
    evil = Paper(id="2606.99999", title='<script>alert("t")</script> Evil title', authors=['<b onmouseover="x">Mal</b>'],
                 abstract='<img src=x onerror="alert(1)"> and "quotes" & more', categories=["cs.CR"],
                 published="2026-06-30T00:00:00Z", listed=listings.latest_day(store))
    upsert_papers(store, [evil], source="test")
    app.state.page_cache.bump()
    for url in ["/", "/papers/2606.99999", "/categories/cs.CR", "/papers?q=Evil+title&mode=lexical"]:
        page = client.get(url).text
        assert '<script>alert("t")' not in page, url
        assert "<img src=x" not in page and '<b onmouseover' not in page, url
    assert "&lt;script&gt;" in client.get("/papers/2606.99999").text
    r = client.get("/papers", params={"q": '"><script>alert(9)</script>', "mode": "lexical"})
    assert r.status_code == 200 and "<script>alert(9)" not in r.text


def test_admin_hides_paper_and_comment(client, app, shared_hash):
    store = _store(app)
    pid = _a_listed_paper(store)
    poster = make_user(store, "poster", shared_hash)
    cid = users.add_comment(store, poster.id, pid, "spam spam")
    make_user(store, "plain", shared_hash)
    sign_in(client, "plain@example.org")
    r = client.post(f"/admin/papers/{pid}/hide", data={"csrf": csrf_of(client, "/")})
    assert r.status_code == 403 and not listings.cards(store, [pid]) == []
    client.cookies.clear()
    make_user(store, "boss", shared_hash, admin=True)
    sign_in(client, "boss@example.org")
    r = client.post(f"/admin/comments/{cid}/hide", data={"csrf": csrf_of(client, "/")})
    assert r.status_code == 303 and users.list_comments(store, pid) == []
    r = client.post(f"/admin/papers/{pid}/hide", data={"csrf": csrf_of(client, "/")})
    assert r.status_code == 303
    assert client.get(f"/papers/{pid}").status_code == 200  # admins still see it, marked hidden
    client.cookies.clear()
    assert client.get(f"/papers/{pid}").status_code == 404
    assert pid.replace("/", "-") not in client.get("/").text
    assert client.get(f"/api/papers/{pid}").status_code == 404


def test_password_reset_by_link(client, app, shared_hash, caplog):
    store = _store(app)
    make_user(store, "forget", shared_hash)
    old = sign_in(client, "forget@example.org").cookies.get("pw_session") or client.cookies.get("pw_session")
    client.cookies.clear()
    with caplog.at_level(logging.WARNING, logger="paperwire.web.auth"):
        r = client.post("/reset", data={"csrf": csrf_of(client, "/reset"), "email": "forget@example.org"})
    assert r.status_code == 303
    links = re.findall(r"http://127\.0\.0\.1:8000(/reset/\S+)", caplog.text)
    assert len(links) == 1
    link = links[0]
    assert client.get(link).status_code == 200
    r = client.post(link, data={"csrf": csrf_of(client, link), "password": "a brand new pw"})
    assert r.status_code == 303
    assert users.authenticate(store, "forget@example.org", "a brand new pw") is not None
    # the link is single-use and the old session cookie is void
    assert client.get(link).status_code == 400
    client.cookies.clear()
    client.cookies.set("pw_session", old)
    assert "Sign out" not in client.get("/signin").text
    # unknown addresses get the same answer and no e-mail
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="paperwire.web.auth"):
        r = client.post("/reset", data={"csrf": csrf_of(client, "/reset"), "email": "nobody@example.org"})
    assert r.status_code == 303 and "/reset/" not in caplog.text


def test_security_headers_size_limit_and_rate_limit(client, app):
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    big = client.post("/signin", content=b"x" * (app.state.settings.max_body_bytes + 1),
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413
    codes = [client.post("/signin", data={"csrf": "x", "email": "a@b.cd", "password": "p"}).status_code
             for _ in range(25)]
    assert codes[0] == 403 and 429 in codes
    last = client.post("/signin", data={"csrf": "x"})
    assert last.status_code == 429 and int(last.headers["retry-after"]) > 0


def test_subscribe_form_is_wired(client, app):
    r = client.post("/subscribe", data={"csrf": csrf_of(client, "/"), "email": "reader@example.org"})
    assert r.status_code in (200, 303)
    assert client.post("/subscribe", data={"email": "reader2@example.org"}).status_code == 403


def test_api_token_page(client, app, shared_hash):
    store = _store(app)
    make_user(store, "scripter", shared_hash)
    sign_in(client, "scripter@example.org")
    r = client.post("/settings/tokens", data={"csrf": csrf_of(client, "/settings/tokens"), "name": "ci"})
    token = re.search(r'<code class="token">(pw_[^<]+)</code>', r.text).group(1)
    assert users.user_for_token(store, token).username == "scripter"


def test_password_reset_mail_goes_through_real_smtp(site_settings, shared_hash):
    """With SMTP configured the link is e-mailed (aiosmtpd on 127.0.0.1), not logged."""
    import dataclasses

    from aiosmtpd.controller import Controller
    from fastapi.testclient import TestClient

    from paperwire.web.app import create_app

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    inbox = Inbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        settings = dataclasses.replace(site_settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security="plain",
                                       mail_from="paperwire <noreply@example.org>")
        app = create_app(settings)
        make_user(app.state.store, "mailme", shared_hash)
        with TestClient(app, follow_redirects=False) as c:
            r = c.post("/reset", data={"csrf": csrf_of(c, "/reset"), "email": "mailme@example.org"})
            assert r.status_code == 303
        # the mail goes out after the answer, from the app's mail pool
        app.state.mail_pool.shutdown(wait=True)
        app.state.store.close()
    finally:
        smtp.stop()
    assert len(inbox.messages) == 1
    rcpt, content = inbox.messages[0]
    assert rcpt == ["mailme@example.org"]
    assert re.search(r"http://127\.0\.0\.1:8000/reset/[\w.-]+", content.replace("=\r\n", "").replace("=\n", ""))


def test_paper_views_feed_trending_signals(client, app):
    from paperwire.web.pages import ViewCounter

    store = _store(app)
    pid = _a_listed_paper(store)
    app.state.view_counter = ViewCounter(every=3600)
    for _ in range(3):
        assert client.get(f"/papers/{pid}").status_code == 200
    client.get("/papers/2601.00000")  # a 404 is not a view
    counter = app.state.view_counter
    assert counter.counts == {pid: 3}
    ViewCounter.flush(store, counter.counts)
    row = store.query_one("SELECT sum(value) FROM signals WHERE kind='view' AND paper_id=?", (pid,))
    assert row[0] == 3


def test_page_cache_serves_stale_copy_while_one_request_rebuilds():
    from paperwire.web.render import PageCache

    cache = PageCache(stale_grace=30)
    cache.put("/", "v1")
    assert cache.get("/", ttl=60) == "v1"
    assert cache.get("/", ttl=0) is None       # expired: this caller rebuilds
    assert cache.get("/", ttl=0) == "v1"       # the others get the previous copy meanwhile
    cache.put("/", "v2")
    assert cache.get("/", ttl=60) == "v2"
    cache.bump()                               # a write drops everything, stale copies included
    assert cache.get("/", ttl=60) is None


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_redirects_off_site(client, app, shared_hash, target):
    make_user(_store(app), "nav", shared_hash)
    r = client.post("/signin", data={"csrf": csrf_of(client), "email": "nav@example.org",
                                     "password": "correct horse battery", "next": target})
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_submit_fetches_unknown_paper_from_arxiv_api(site_settings, shared_hash, data_dir):
    """A paper not in the store is fetched from the arXiv API (a recorded answer served by a
    local HTTP server) and then submitted."""
    import dataclasses
    import http.server
    import threading

    from fastapi.testclient import TestClient

    from paperwire.web.app import create_app

    recorded = next((data_dir / "arxiv-api-responses/atom_arxiv_py/xml").glob("id_1605.08386_s0_*.xml")).read_bytes()
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.send_header("Content-Length", str(len(recorded)))
            self.end_headers()
            self.wfile.write(recorded)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # a 2016 paper: the submission window (a setting, 7 days by default) opened wide for it
        settings = dataclasses.replace(site_settings, arxiv_api_url=f"http://127.0.0.1:{server.server_port}/api/query",
                                       submit_max_age_days=100_000)
        app = create_app(settings)
        store = app.state.store
        assert not users.paper_exists(store, "1605.08386")
        make_user(store, "fetcher", shared_hash)
        with TestClient(app, follow_redirects=False) as c:
            sign_in(c, "fetcher@example.org")
            r = c.post("/submit", data={"csrf": csrf_of(c, "/submit"), "arxiv_id": "1605.08386"})
            assert r.status_code == 303 and r.headers["location"] == "/papers/1605.08386"
            page = c.get("/papers/1605.08386").text
        assert "Heat-bath random walks with Markov bases" in page and "submitted by fetcher" in page
        assert len(seen) == 1 and "id_list=1605.08386" in seen[0]
        app.state.store.close()
    finally:
        server.shutdown()


def test_head_requests_answer_like_get_without_body(client):
    get = client.get("/papers/trending")
    head = client.head("/papers/trending")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert client.head("/no-such-page").status_code == 404


# --- what pages, the JSON API and feeds compute once (web/queries.py) ----------------------------

@pytest.mark.parametrize("kind, key, span", [("day", "2026-06-15", ("2026-06-15", "2026-06-15")),
                                             ("week", "2026-W25", ("2026-06-15", "2026-06-21")),
                                             ("month", "2026-02", ("2026-02-01", "2026-02-28"))])
def test_period_keys_name_their_first_and_last_day(kind, key, span):
    from paperwire.web.queries import parse_period

    period = parse_period(kind, key)
    assert (period.kind, period.key, period.start, period.end) == (kind, key, *span)


@pytest.mark.parametrize("kind, key, url", [("day", "2026-02-30", "date"), ("day", "26-01-01", "date"),
                                            ("week", "2026-W54", "week"), ("week", "2026-25", "week"),
                                            ("month", "2026-13", "month"), ("month", "2026-1", "month")])
def test_a_malformed_period_is_refused_alike_by_page_and_api(client, kind, key, url):
    from paperwire.web.queries import parse_period

    with pytest.raises(ValueError):
        parse_period(kind, key)
    assert client.get(f"/papers/{url}/{key}").status_code == 404
    param = {"day": "date"}.get(kind, kind)
    r = client.get(f"/api/daily_papers?{param}={key}")
    # the API: a key its document's pattern refuses is a 422; 30 February is well formed but no day (404)
    if key == "2026-02-30":
        assert r.status_code == 404 and key in r.json()["error"]
    else:
        assert r.status_code == 422 and param in r.json()["error"]


def test_every_search_route_asks_the_apps_one_engine(app, client):
    """The page, both JSON routes and the feed go through app.state.engine (made in create_app)."""
    from paperwire.models import Hit
    from paperwire.search.engine import SearchEngine, SearchResult

    assert isinstance(app.state.engine, SearchEngine)
    pid = _a_listed_paper(_store(app))
    asked = []

    class RecordingEngine:
        def search(self, text, filters=None, mode="hybrid", limit=20, offset=0):
            asked.append((text, filters.categories if filters else None, mode))
            return SearchResult(hits=[Hit(pid, 1.0, title="t")], total=1, mode=mode, fallback=None, query=text)

    app.state.engine = RecordingEngine()
    for url in ["/papers?q=graphs+cat:cs.LG&mode=lexical", "/api/v1/search?q=graphs+cat:cs.LG&mode=lexical",
                "/api/papers/search?q=graphs+cat:cs.LG", "/feeds/search.atom?q=graphs+cat:cs.LG"]:
        r = client.get(url)
        assert r.status_code == 200 and pid in r.text, url
    assert [a[0] for a in asked] == ["graphs"] * 4
    assert [a[1] for a in asked] == [["cs.LG"]] * 4  # the filter parsed out of the query
    assert [a[2] for a in asked] == ["lexical", "lexical", "hybrid", "hybrid"]
