"""Subscribing, confirming, preferences and unsubscribing through the web pages and the API,
with a real SMTP server (aiosmtpd on 127.0.0.1) receiving the mail."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from digest_support import (confirm_by_link, csrf_from, demo_db, link_in, local, mail_settings, text_part,
                            token_of)
from paperwire.digest import period, subscriptions
from paperwire.store import open_store
from paperwire.store import subscriptions as subs


@pytest.fixture
def site(tmp_path, smtp):
    from paperwire.web.app import create_app

    settings = mail_settings(demo_db(tmp_path), smtp.port)
    store = open_store(settings)
    app = create_app(settings, store)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        client.store, client.settings, client.smtp = store, settings, smtp.handler
        yield client
    store.close()


def _subscribe(client, address: str, **extra):
    page = client.get("/subscribe")
    assert page.status_code == 200
    return client.post("/subscribe", data={"email": address, "csrf": csrf_from(page.text), **extra})


def _answer(html: str) -> str:
    """The page's visible answer, without the per-visitor CSRF token."""
    import re

    return re.sub(r'name="csrf" value="[^"]*"', "", html)


def test_confirmation_flow_end_to_end(site):
    r = _subscribe(site, "ada@example.org", categories="cs.CL, cs.LG", topics="retrieval")
    assert r.status_code == 200
    assert subscriptions.PUBLIC_ANSWER in r.text
    sub = subs.get_by_email(site.store, "ada@example.org")
    assert sub.status == "pending" and sub.categories == ["cs.CL", "cs.LG"] and sub.topics == ["retrieval"]
    # the confirmation mail arrived at the real SMTP server, text and HTML, with a signed link
    [msg] = site.smtp.to("ada@example.org")
    assert "Confirm" in msg["Subject"] and msg["Message-ID"] and msg["Date"]
    url = link_in(text_part(msg), "/subscribe/confirm")
    assert url.startswith("http://testserver/subscribe/confirm?token=")
    assert link_in(msg.get_body(("html",)).get_content(), "/subscribe/confirm") == url
    # nothing but the confirmation goes to a pending address
    assert subs.list_subscribers(site.store, status="active") == []
    # the link's GET only asks (mail scanners follow links); the button confirms
    assert "Confirm my subscription" in site.get(local(url)).text
    assert subs.get_by_email(site.store, "ada@example.org").status == "pending"
    page = confirm_by_link(site, url)
    assert page.status_code == 200 and "You are subscribed" in page.text
    sub = subs.get_by_email(site.store, "ada@example.org")
    assert sub.status == "active" and sub.confirmed_at
    # the page links to the subscriber's own preferences
    pref = link_in(page.text, "/preferences")
    assert site.get(local(pref)).status_code == 200
    # clicking the link again is harmless
    assert site.get(local(url)).status_code == 200


def test_a_newer_confirmation_replaces_the_older_link(site):
    _subscribe(site, "bob@example.org")
    _subscribe(site, "bob@example.org")
    first, second = site.smtp.to("bob@example.org")
    old, new = link_in(text_part(first), "/subscribe/confirm"), link_in(text_part(second), "/subscribe/confirm")
    r = site.get(local(old))
    assert r.status_code == 400 and "already used or replaced" in r.text
    assert subs.get_by_email(site.store, "bob@example.org").status == "pending"
    assert confirm_by_link(site, new).status_code == 200
    assert subs.get_by_email(site.store, "bob@example.org").status == "active"


def test_forged_and_expired_links_are_refused(site, tmp_path):
    _subscribe(site, "eve@example.org")
    url = link_in(text_part(site.smtp.to("eve@example.org")[0]), "/subscribe/confirm")
    token = token_of(url)
    forged = token[:-3] + ("aaa" if token[-3:] != "aaa" else "bbb")
    r = site.get("/subscribe/confirm", params={"token": forged})
    assert r.status_code == 400 and "not valid" in r.text
    # the same token checked with a 0-hour validity after a second has passed: expired
    short = mail_settings(tmp_path / "x.db", None, confirm_hours=0)
    time.sleep(1.1)
    with pytest.raises(subscriptions.TokenError, match="expired"):
        subscriptions.check_confirm_token(site.store, short, token)
    assert subs.get_by_email(site.store, "eve@example.org").status == "pending"


def test_same_answer_whether_or_not_subscribed(site):
    answers = {}
    for address in ("new@example.org", "known@example.org"):
        if address == "known@example.org":
            out = subscriptions.subscribe(site.store, site.settings, address, send=False)
            subscriptions.check_confirm_token(site.store, site.settings, token_of(out.confirm_url))
        r = _subscribe(site, address)
        assert r.status_code == 200
        answers[address] = _answer(r.text)
    assert answers["new@example.org"] == answers["known@example.org"]
    # the known address got a reminder with its own links, not a confirmation
    [reminder] = site.smtp.to("known@example.org")
    assert "already subscribed" in reminder["Subject"]
    assert "/preferences?token=" in text_part(reminder)


def test_invalid_address_gets_a_clear_error_and_keeps_the_input(site):
    r = _subscribe(site, "not-an-address", topics="graph neural networks")
    assert r.status_code == 400
    assert "not a valid e-mail address" in r.text and "graph neural networks" in r.text
    assert site.smtp.messages == []


def test_forged_form_without_csrf_is_refused(site):
    r = site.post("/subscribe", data={"email": "x@example.org"})
    assert r.status_code == 403
    assert subs.get_by_email(site.store, "x@example.org") is None


def test_rate_limits_per_address_and_per_client(site):
    for _ in range(5):
        r = _subscribe(site, "flood@example.org")
        assert subscriptions.PUBLIC_ANSWER in r.text
    # at most confirm_per_address_day mails to one address, whatever the requests
    assert len(site.smtp.to("flood@example.org")) == site.settings.confirm_per_address_day
    statuses = [_subscribe(site, f"c{i}@example.org").status_code for i in range(6)]
    # 10 per client per hour: the 11th request from this client is refused
    assert statuses[:5] == [200] * 5 and statuses[5] == 429


def test_unconfirmed_addresses_expire(site):
    from datetime import datetime, timedelta, timezone

    subscriptions.subscribe(site.store, site.settings, "late@example.org", send=False)
    assert subscriptions.expire_unconfirmed(site.store, site.settings) == 0
    later = datetime.now(timezone.utc) + timedelta(days=site.settings.pending_expire_days, seconds=5)
    assert subscriptions.expire_unconfirmed(site.store, site.settings, now=later) == 1
    assert subs.get_by_email(site.store, "late@example.org") is None


def _active(site, address="pref@example.org", **prefs):
    out = subscriptions.subscribe(site.store, site.settings, address, prefs, send=False)
    subscriptions.check_confirm_token(site.store, site.settings, token_of(out.confirm_url))
    sub = subs.get_by_email(site.store, address)
    return sub, subscriptions.links_for(site.settings, sub)


def test_preferences_change_by_signed_link(site):
    sub, links = _active(site, categories=["cs.CV"])
    page = site.get(local(links.preferences))
    assert page.status_code == 200 and "cs.CV" in page.text
    r = site.post(local(links.preferences), data={
        "csrf": csrf_from(page.text), "frequency": "weekly", "size": "5", "categories": "cs.CL, stat.ML",
        "authors": "Ada Lovelace\nAlan Turing", "topics": "diffusion models\nspeech recognition",
        "seeds": "2606.31033v2, arXiv:2606.30775"})
    assert r.status_code == 303
    after = subs.get_subscriber(site.store, sub.id)
    assert after.preferences() == {"frequency": "weekly", "size": 5, "categories": ["cs.CL", "stat.ML"],
                                   "authors": ["Ada Lovelace", "Alan Turing"],
                                   "topics": ["diffusion models", "speech recognition"],
                                   "seeds": ["2606.31033", "2606.30775"]}
    assert "Saved" in site.get(r.headers["location"]).text
    # bad input: a clear error, the typed values shown again, nothing stored
    page = site.get(local(links.preferences))
    r = site.post(local(links.preferences), data={"csrf": csrf_from(page.text), "frequency": "daily", "size": "500",
                                                  "categories": "cs.AI", "topics": "kept topic"})
    assert r.status_code == 400 and "size must be" in r.text and "kept topic" in r.text
    assert subs.get_subscriber(site.store, sub.id).preferences() == after.preferences()


def test_preferences_link_reaches_only_its_own_subscription(site):
    _, links = _active(site, "one@example.org")
    other, _ = _active(site, "two@example.org")
    tampered = links.preferences.replace("token=", "token=x")
    assert site.get(local(tampered)).status_code == 403
    assert site.get("/preferences", params={"token": ""}).status_code == 403
    page = site.get(local(links.preferences))
    assert "one@example.org" in page.text and "two@example.org" not in page.text
    # without the CSRF field the change is refused
    r = site.post(local(links.preferences), data={"frequency": "weekly"})
    assert r.status_code == 403
    assert subs.get_subscriber(site.store, other.id).frequency == "daily"


def test_one_click_unsubscribe_rfc8058_and_resubscribe(site):
    sub, links = _active(site, "leave@example.org")
    # a GET (what link scanners do) changes nothing: it shows a button
    r = site.get(local(links.unsubscribe))
    assert r.status_code == 200 and "Unsubscribe" in r.text
    assert subs.get_subscriber(site.store, sub.id).status == "active"
    # the mail client's one-click POST: no cookies, no CSRF field, just the RFC 8058 body
    fresh = TestClient(site.app, base_url="http://testserver")
    r = fresh.post(local(links.unsubscribe), content=b"List-Unsubscribe=One-Click",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and "You are unsubscribed" in r.text
    assert subs.get_subscriber(site.store, sub.id).status == "unsubscribed"
    # nothing is built for an unsubscribed address
    assert period.build_period(site.store, site.settings, "daily", as_of="2026-07-01").subscribers == 0
    # the page offers to resubscribe (a form of the visitor's own browser session)
    page = site.get(local(links.unsubscribe))
    assert "Resubscribe" in page.text
    r = site.post(f"/unsubscribe/undo?token={token_of(links.unsubscribe)}", data={"csrf": csrf_from(page.text)})
    assert r.status_code == 200 and "subscribed again" in r.text
    assert subs.get_subscriber(site.store, sub.id).status == "active"


def test_api_subscribe_read_update_delete(site):
    r = site.post("/api/v1/subscriptions", json={"email": "api@example.org", "categories": ["cs.CL"],
                                                  "frequency": "weekly"})
    assert r.status_code == 202 and r.json()["message"] == subscriptions.PUBLIC_ANSWER
    r2 = site.post("/api/v1/subscriptions", json={"email": "nope"})
    assert r2.status_code == 422 and "valid e-mail" in r2.json()["error"]
    [msg] = site.smtp.to("api@example.org")
    confirm_by_link(site, link_in(text_part(msg), "/subscribe/confirm"))
    sub = subs.get_by_email(site.store, "api@example.org")
    token = token_of(subscriptions.links_for(site.settings, sub).preferences)
    me = site.get("/api/v1/subscriptions/me", params={"token": token}).json()
    assert me["status"] == "active" and me["frequency"] == "weekly" and me["categories"] == ["cs.CL"]
    r = site.patch("/api/v1/subscriptions/me", params={"token": token}, json={"topics": ["speech"], "size": 3})
    assert r.status_code == 200 and r.json()["topics"] == ["speech"] and r.json()["size"] == 3
    assert r.json()["categories"] == ["cs.CL"]  # untouched fields stay
    bad = site.patch("/api/v1/subscriptions/me", params={"token": token}, json={"frequency": "hourly"})
    assert bad.status_code == 422 and "frequency" in bad.json()["error"]
    assert site.get("/api/v1/subscriptions/me", params={"token": "junk"}).status_code == 403
    r = site.delete("/api/v1/subscriptions/me", params={"token": token})
    assert r.status_code == 200 and r.json()["status"] == "unsubscribed"


def test_parse_preferences_rejects_bad_values():
    assert subscriptions.parse_preferences({"categories": "cs.CL,  math.AG ; cs"})["categories"] == ["cs.CL", "math.AG", "cs"]
    for bad, msg in (({"frequency": "hourly"}, "frequency"), ({"size": "0"}, "size"), ({"size": "x"}, "size"),
                     ({"categories": "cs.CL; DROP TABLE"}, "not an arXiv category"),
                     ({"seeds": "not-an-id"}, "not an arXiv id"), ({"topics": ["t" * 201]}, "too long"),
                     ({"authors": [f"a{i}" for i in range(31)]}, "at most 30")):
        with pytest.raises(ValueError, match=msg):
            subscriptions.parse_preferences(bad)


def test_addresses_left_in_the_old_pending_table_become_unconfirmed_subscribers(tmp_path):
    from paperwire.store.sqlite import Store

    store = Store(tmp_path / "old.db", migrate=False)
    store.migrate(upto="0051_profiles")
    with store.transaction() as conn:
        conn.execute("INSERT INTO subscribers(email, status, created_at, updated_at) "
                     "VALUES ('reader@example.org', 'active', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')")
        conn.executemany("INSERT INTO pending_subscribers(email, created_at) VALUES (?, ?)",
                         [("Reader@example.org", "2026-02-01T00:00:00Z"), ("new@example.org", "2026-02-02T00:00:00Z")])
    assert "0052_drop_pending_subscribers" in store.migrate()
    assert store.query_one("SELECT 1 FROM sqlite_master WHERE name='pending_subscribers'") is None
    assert subs.get_by_email(store, "reader@example.org").status == "active"  # left as it was
    new = subs.get_by_email(store, "new@example.org")
    assert (new.status, new.created_at, new.confirm_nonce) == ("pending", "2026-02-02T00:00:00Z", None)
    # no mail for it until the address subscribes again
    assert subs.outbox_rows(store) == []
    store.close()
