"""What an outside security and robustness probe found, kept fixed: rate limits that a made-up
bearer header voided, text no encoder can write (lone surrogates) or XML cannot carry, a comment
that broke its page, sessions and tokens that could not be revoked, account enumeration,
``javascript:`` links, and the smaller 500s."""

from __future__ import annotations

import json
import re
import secrets
import time

import pytest
from fastapi.testclient import TestClient

from paperwire.store import listings, users
from paperwire.web.security import SESSION_COOKIE
from web_support import PASSWORD, csrf_of, make_user, sign_in


def _store(app):
    return app.state.store


def _json(client, method: str, url: str, body, **kw):
    """Send `body` as JSON written with \\u escapes (as any client may: a lone surrogate included)."""
    return client.request(method, url, content=json.dumps(body), headers={"content-type": "application/json",
                                                                          **kw.pop("headers", {})}, **kw)


def _a_paper(store) -> str:
    day = listings.latest_listing_day(store) if hasattr(listings, "latest_listing_day") else listings.latest_day(store)
    return listings.list_ids(store, day, day, limit=1)[0][0]


# --- rate limits ----------------------------------------------------------------------------------

def test_a_made_up_bearer_header_does_not_buy_a_fresh_rate_limit(client, app, shared_hash):
    make_user(_store(app), "target", shared_hash)
    token = csrf_of(client)
    statuses = []
    for i in range(30):
        r = client.post("/signin", data={"csrf": token, "email": "target@example.org", "password": f"wrong {i}"},
                        headers={"Authorization": f"Bearer pw_{secrets.token_urlsafe(16)}"})
        statuses.append(r.status_code)
    # the sign-in limit is 20 per 10 minutes per client: the random bearers changed nothing
    assert statuses[:20] == [400] * 20 and set(statuses[20:]) == {429}, statuses
    r = client.post("/signin", data={"csrf": token, "email": "target@example.org", "password": PASSWORD})
    assert r.status_code == 429


def test_a_verified_token_has_its_own_bucket(client, app, shared_hash):
    u = make_user(_store(app), "apiuser", shared_hash)
    token = users.create_token(_store(app), u.id, "t")
    # exhaust the anonymous search limit of this client address...
    codes = [client.get("/api/v1/search", params={"q": "graph"}).status_code for _ in range(125)]
    assert codes[-1] == 429
    # ...a real token is counted for its owner, a fake one for the address
    assert client.get("/api/v1/search", params={"q": "graph"},
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/api/v1/search", params={"q": "graph"},
                      headers={"Authorization": "Bearer pw_madeup"}).status_code == 429


# --- text at the door -----------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["\ud800 retrieval", "a\x00b", "x\uffff", "\ufffe"])
def test_json_bodies_with_unencodable_text_are_refused_with_400(client, bad):
    r = _json(client, "POST", "/api/v1/subscriptions", {"email": "s@example.org", "topics": [bad]})
    assert r.status_code == 400 and "topics" in r.json()["error"], r.text
    r = client.post("/api/v1/subscriptions", content=('{"email": "s@example.org", "topics": ["\\ud800"]}').encode(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 400


@pytest.mark.parametrize("body", [{"size": "1e999"}, {"categories": 5}, {"authors": True}, {"topics": {"a": 1}},
                                  {"seeds": [1, 2]}, {"size": 2.5}])
def test_wrongly_typed_preferences_get_422_not_500(client, body):
    r = _json(client, "POST", "/api/v1/subscriptions", {"email": "t@example.org", **body})
    assert r.status_code == 422, r.text
    for raw in ('{"email": "t@example.org", "size": 1e999}', '{"email": "t@example.org", "size": Infinity}'):
        r = client.post("/api/v1/subscriptions", content=raw, headers={"content-type": "application/json"})
        assert r.status_code in (400, 422), r.text


def test_query_strings_and_forms_are_checked_too(client, app, shared_hash):
    for fmt in ("atom", "rss"):
        for q in ("\uffff", "\ufffe", "a\x01"):
            r = client.get(f"/feeds/search.{fmt}", params={"q": q})
            assert r.status_code == 400, (fmt, q, r.status_code)
    make_user(_store(app), "writer", shared_hash)
    sign_in(client, "writer@example.org")
    pid = _a_paper(_store(app))
    r = client.post(f"/papers/{pid}/comments", data={"csrf": csrf_of(client, "/"), "body": "hi \x000\x00 there"})
    assert r.status_code == 400 and "NUL" in r.text
    assert client.get(f"/papers/{pid}").status_code == 200


def test_feedback_with_a_surrogate_id_is_a_400(client, app, shared_hash):
    u = make_user(_store(app), "fb", shared_hash)
    token = users.create_token(_store(app), u.id)
    r = client.post("/api/v1/recommendations/feedback", content='{"paper_id": "\\ud800", "action": "up"}',
                    headers={"content-type": "application/json", "Authorization": f"Bearer {token}"})
    assert r.status_code == 400


# --- stored data from before the checks: pages, feeds and digests survive it ----------------------

@pytest.mark.sqlite_only("stores a comment holding NUL characters straight into the store (the site "
                         "refuses them at input); PostgreSQL text cannot hold NUL")
def test_a_comment_holding_placeholder_bytes_does_not_break_the_page(client, app, shared_hash):
    store = _store(app)
    author = make_user(store, "cmt", shared_hash)
    pid = _a_paper(store)
    users.add_comment(store, author.id, pid, "look: \x000\x00 and `\x001\x00` **bold**")
    r = client.get(f"/papers/{pid}")
    assert r.status_code == 200 and "<strong>bold</strong>" in r.text
    admin = make_user(store, "adm", shared_hash, admin=True)
    assert admin.is_admin
    sign_in(client, "adm@example.org")
    assert client.get(f"/papers/{pid}").status_code == 200


def test_comment_markdown_is_safe(client, app, shared_hash):
    from paperwire.web.render import mdlite

    html = str(mdlite('[x](javascript:alert(1)) <script>alert(1)</script> <img src=x onerror=alert(1)> '
                      '[ok](https://example.org/a) ![i](https://example.org/i.png)'))
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert '<a href="https://example.org/a" rel="nofollow noopener ugc">ok</a>' in html


def test_xml_forbidden_characters_in_stored_titles_do_not_break_feeds(client, app):
    store = _store(app)
    pid = _a_paper(store)
    with store.transaction() as conn:
        conn.execute("UPDATE papers SET title=title || ' \uffff\x01', title_display=title_display || ' \uffff\x01' "
                     "WHERE id=?", (pid,))
    app.state.page_cache.bump()
    for url in ("/feeds/daily.atom", "/feeds/daily.rss"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert "\uffff" not in r.text


def test_only_http_links_are_rendered(client, app):
    store = _store(app)
    pid = _a_paper(store)
    evil = "javascript:alert(document.domain)//"
    with store.transaction() as conn:
        conn.execute("INSERT INTO hf_daily(paper_id, featured_on, upvotes, github_repo, project_page, seen_at) "
                     "VALUES (?, '2024-01-01', 1, ?, ?, '2024-01-01T00:00:00Z') ON CONFLICT(paper_id) DO UPDATE SET "
                     "github_repo=excluded.github_repo, project_page=excluded.project_page", (pid, evil, evil))
    app.state.page_cache.bump()
    page = client.get(f"/papers/{pid}")
    assert page.status_code == 200 and "javascript:" not in page.text
    api = client.get(f"/api/papers/{pid}").json()
    assert "javascript:" not in json.dumps(api)


# --- sessions, tokens, accounts -------------------------------------------------------------------

def test_sign_out_voids_the_session_on_the_server(client, app, shared_hash):
    make_user(_store(app), "leaver", shared_hash)
    sign_in(client, "leaver@example.org")
    stolen = client.cookies.get(SESSION_COOKIE)
    assert "Sign out" in client.get("/").text
    client.post("/signout", data={"csrf": csrf_of(client, "/")})
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as thief:
        thief.cookies.set(SESSION_COOKIE, stolen)
        assert "Sign out" not in thief.get("/signin").text
        assert thief.post("/settings/tokens", data={"csrf": csrf_of(thief, "/signin"), "name": "x"}).status_code == 303


def test_sign_out_everywhere_and_token_revocation(client, app, shared_hash):
    store = _store(app)
    u = make_user(store, "many", shared_hash)
    other = users.create_session(store, u.id)
    sign_in(client, "many@example.org")
    r = client.post("/settings/tokens", data={"csrf": csrf_of(client, "/settings/tokens"), "name": "script"})
    assert r.status_code == 200 and "script" in r.text and "Revoke" in r.text
    [t] = users.list_tokens(store, u.id)
    r = client.post(f"/settings/tokens/{t.id}/revoke", data={"csrf": csrf_of(client, "/settings/tokens")})
    assert r.status_code == 303 and users.list_tokens(store, u.id) == []
    assert client.post("/settings/tokens/999999/revoke", data={"csrf": csrf_of(client, "/")}).status_code == 404
    assert users.session_user(store, other) is not None
    client.post("/signout/everywhere", data={"csrf": csrf_of(client, "/")})
    assert users.session_user(store, other) is None and users.count_sessions(store, u.id) == 0


def test_password_reset_revokes_sessions_and_tokens(app, shared_hash):
    store = _store(app)
    u = make_user(store, "reset", shared_hash)
    sid = users.create_session(store, u.id)
    token = users.create_token(store, u.id)
    users.set_password(store, u.id, "a brand new password")
    assert users.session_user(store, sid) is None and users.user_for_token(store, token) is None


def test_expired_tokens_stop_working(app, shared_hash):
    store = _store(app)
    u = make_user(store, "exp", shared_hash)
    token = users.create_token(store, u.id, days=1)
    assert users.user_for_token(store, token).id == u.id
    with store.transaction() as conn:
        conn.execute("UPDATE api_tokens SET expires_at='2000-01-01T00:00:00Z'")
    assert users.user_for_token(store, token) is None


def test_sign_up_answers_alike_for_new_and_taken_addresses(client, app, shared_hash):
    make_user(_store(app), "owner", shared_hash)
    answers = []
    for email, name in (("owner@example.org", "someone"), ("fresh@example.org", "fresh")):
        client.cookies.clear()
        r = client.post("/signup", data={"csrf": csrf_of(client, "/signup"), "email": email, "username": name,
                                         "password": "long enough pw"})
        answers.append((r.status_code, r.headers.get("location"), r.cookies.get("pw_flash"),
                        SESSION_COOKIE in r.headers.get("set-cookie", "")))
    assert answers[0] == answers[1] and answers[0][0] == 303


def test_password_reset_answers_at_once_even_with_a_dead_mail_server(app, shared_hash):
    import socket
    import threading

    # a "mail server" that accepts connections and never answers
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(50)
    accepted = []
    def accept():
        try:
            for _ in range(5):
                accepted.append(srv.accept())
        except OSError:  # the test closed the socket
            pass

    threading.Thread(target=accept, daemon=True).start()
    s = app.state.settings
    s.smtp_host, s.smtp_port, s.smtp_security = "127.0.0.1", srv.getsockname()[1], "plain"
    make_user(_store(app), "slowmail", shared_hash)
    # not in a `with` block: the client must not wait for the mail task before we time the answer
    client = TestClient(app, base_url="http://testserver", follow_redirects=False)
    times = {}
    for email in ("slowmail@example.org", "nobody@example.org"):
        token = csrf_of(client, "/reset")
        t0 = time.perf_counter()
        r = client.post("/reset", data={"csrf": token, "email": email})
        times[email] = time.perf_counter() - t0
        assert r.status_code == 303
    srv.close()
    for conn, _ in accepted:  # the mail thread's wait ends now
        conn.close()
    assert times["slowmail@example.org"] < 2.5, times


# --- smaller ones ---------------------------------------------------------------------------------

def test_settings_refuse_unknown_environments_and_write_the_dev_key_privately(tmp_path):
    import os
    import stat
    from concurrent.futures import ThreadPoolExecutor

    from paperwire.config import Settings

    for bad in ("prod", "staging", "dev"):
        with pytest.raises(ValueError, match="PAPERWIRE_ENV"):
            Settings.load(env={"PAPERWIRE_ENV": bad}, db=str(tmp_path / "x.db"))
    assert Settings.load(env={"PAPERWIRE_ENV": "Development"}, db=str(tmp_path / "x.db")).env == "development"
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings.load(env={"PAPERWIRE_ENV": "Production"}, db=str(tmp_path / "x.db"))
    # many processes' worth of first reads at once: one key, 0600
    settings = [Settings.load(env={}, db=str(tmp_path / "k.db")) for _ in range(16)]
    with ThreadPoolExecutor(16) as pool:
        keys = set(pool.map(lambda s: s.signing_key, settings))
    assert len(keys) == 1
    mode = stat.S_IMODE(os.stat(tmp_path / "k.db.d" / "dev-secret").st_mode)
    assert mode == 0o600


def test_https_sites_send_hsts_and_secure_cookies(site_settings):
    import dataclasses

    from paperwire.web.app import create_app

    app = create_app(dataclasses.replace(site_settings, base_url="https://papers.example.org"))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        r = c.get("/signin")
        assert r.headers["strict-transport-security"].startswith("max-age=")
        r = c.post("/reset", data={"csrf": csrf_of(c, "/reset"), "email": "x@example.org"})
        cookies = r.headers.get_list("set-cookie")
        assert cookies and all("secure" in v.lower() for v in cookies), cookies
    app.state.store.close()


def test_library_uploads_up_to_the_documented_5_mb(client, app, shared_hash):
    make_user(_store(app), "lib", shared_hash)
    sign_in(client, "lib@example.org")
    big = b"\n".join(b"2401.%05d" % i for i in range(20000))  # ~220 KB, over the 64 KB form limit
    r = client.post("/foryou/import", data={"csrf": csrf_of(client, "/foryou")},
                    files={"file": ("library.txt", big, "text/plain")})
    assert r.status_code == 303
    r = client.post("/foryou/import", data={"csrf": csrf_of(client, "/foryou")},
                    files={"file": ("..", b"2401.00001\n", "text/plain")})
    assert r.status_code == 303


def test_feedback_on_a_hidden_paper_is_refused(client, app, shared_hash):
    store = _store(app)
    u = make_user(store, "thumbs", shared_hash)
    token = users.create_token(store, u.id)
    pid = _a_paper(store)
    users.set_paper_hidden(store, pid, True)
    r = client.post("/api/v1/recommendations/feedback", json={"paper_id": pid, "action": "up"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404


def test_far_future_periods_are_not_found(client):
    assert client.get("/papers/week/9999-W52").status_code == 404
    assert client.get("/papers/month/9999-12").status_code in (200, 404)
    assert client.get("/api/daily_papers", params={"week": "9999-W52"}).status_code == 404


def test_page_views_survive_a_graceful_stop(site_settings):
    from paperwire.web.app import create_app

    app = create_app(site_settings)
    app.state.similar_timeout = 0
    store = app.state.store
    pid = _a_paper(store)
    before = store.query_one("SELECT count(*), COALESCE(sum(value), 0) FROM signals WHERE kind='view'")
    with TestClient(app) as c:
        for _ in range(7):
            assert c.get(f"/papers/{pid}").status_code == 200
    after = store.query_one("SELECT count(*), COALESCE(sum(value), 0) FROM signals WHERE kind='view'")
    assert after[1] - before[1] == 7
    store.close()


def test_a_vote_elsewhere_is_seen_at_once_despite_the_page_cache(client, app, shared_hash):
    from paperwire.store import open_store

    store = _store(app)
    pid = _a_paper(store)
    def count() -> int:
        return int(re.search(r'<span class="count">(\d+)</span>', client.get(f"/papers/{pid}").text).group(1))

    first = count()
    # another worker process: its own connection to the same database file
    other = open_store(app.state.settings.db)
    voter = make_user(other, "elsewhere", shared_hash)
    users.set_upvote(other, voter.id, pid, True)
    other.close()
    assert count() == first + 1
