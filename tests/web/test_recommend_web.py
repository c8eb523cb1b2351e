"""The "For you" page, private Atom feed, API route and feedback (page, API, signed digest links)."""

from __future__ import annotations

import re

from lxml import etree

from paperwire.web import foryou as web_foryou
from paperwire.store import listings, profiles, users
from web_support import csrf_of, make_user, older_papers, rec_ids, sign_in

ATOM = "{http://www.w3.org/2005/Atom}"


def test_page_requires_sign_in_and_shows_reasons(client, app, shared_hash):
    r = client.get("/foryou")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    u = make_user(app.state.store, "reader", shared_hash)
    sign_in(client, u.email)
    page = client.get("/foryou")
    assert page.status_code == 200 and "Your profile is empty" in page.text
    profiles.add_items(app.state.store, f"user:{u.id}", older_papers(app.state.store, "%segmentation%"), "save")
    page = client.get("/foryou")
    assert "Your profile is empty" not in page.text
    assert "close to your saved" in page.text
    assert len(rec_ids(page.text)) == 30


def test_page_feedback_changes_next_recommendations(client, app, shared_hash):
    store = app.state.store
    u = make_user(store, "fbreader", shared_hash)
    sign_in(client, u.email)
    profiles.add_items(store, f"user:{u.id}", older_papers(store, "%speech%"), "like")
    first = rec_ids(client.get("/foryou").text)
    top = first[0]
    # a post without the CSRF token is refused and changes nothing
    assert client.post("/foryou/feedback", data={"paper_id": top, "action": "dismiss"}).status_code == 403
    assert rec_ids(client.get("/foryou").text)[0] == top
    r = client.post("/foryou/feedback", data={"csrf": csrf_of(client, "/foryou"), "paper_id": top, "action": "dismiss"})
    assert r.status_code == 303
    second = rec_ids(client.get("/foryou").text)
    assert top not in second and second != first
    assert top in profiles.load_profile(store, f"user:{u.id}").negatives


def test_signed_digest_link_without_login(client, app, shared_hash):
    store, settings = app.state.store, app.state.settings
    pid = listings.list_ids(store, listings.latest_day(store), listings.latest_day(store), limit=1)[0][0]
    url = web_foryou.feedback_url(settings, "sub:77", pid, "dismiss")
    path = url[len(settings.base_url):]
    page = client.get(path)  # a GET (mail scanners follow links) only asks
    assert page.status_code == 200 and "Not interested?" in page.text
    assert pid not in profiles.load_profile(store, "sub:77").negatives
    done = client.post(path, data={"csrf": csrf_of(client, path)})
    assert done.status_code == 200 and "Noted" in done.text
    assert pid in profiles.load_profile(store, "sub:77").negatives
    # a tampered link is refused
    bad = client.get(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))
    assert bad.status_code == 400


def test_private_feed(client, app, shared_hash):
    store = app.state.store
    u = make_user(store, "feeder", shared_hash)
    sign_in(client, u.email)
    profiles.follow(store, f"user:{u.id}", "category", "cs.RO")
    r = client.post("/foryou/feed-token", data={"csrf": csrf_of(client, "/foryou")})
    m = re.search(r"(/foryou/feed/[A-Za-z0-9_-]+\.atom)", r.text)
    assert r.status_code == 200 and m
    client.cookies.clear()  # feed readers have no session
    feed = client.get(m.group(1))
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    root = etree.fromstring(feed.content)
    entries = root.findall(f"{ATOM}entry")
    # the window's cs.RO papers come first (there are more than 10 in the demo week)
    assert len(entries) > 10
    assert all(any(c.get("term") == "cs.RO" for c in e.findall(f"{ATOM}category")) for e in entries[:10])
    assert client.get("/foryou/feed/not-a-token.atom").status_code == 404


def test_api_route_and_feedback(client, app, shared_hash):
    store = app.state.store
    u = make_user(store, "apiuser", shared_hash)
    token = users.create_token(store, u.id, "test")
    assert client.get("/api/v1/recommendations").status_code == 401
    profiles.add_items(store, f"user:{u.id}", older_papers(store, "%reinforcement%"), "import")
    h = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/v1/recommendations?limit=5", headers=h)
    assert r.status_code == 200
    data = r.json()
    assert len(data) == 5 and all(d["reasons"] and d["title"] for d in data)
    top = data[0]["id"]
    f = client.post("/api/v1/recommendations/feedback", json={"paper_id": top, "action": "dismiss"}, headers=h)
    assert f.status_code == 200
    assert top not in [d["id"] for d in client.get("/api/v1/recommendations?limit=5", headers=h).json()]
    bad = client.post("/api/v1/recommendations/feedback", json={"paper_id": "9999.99999", "action": "up"}, headers=h)
    assert bad.status_code == 404


def test_library_upload(client, app, shared_hash):
    store = app.state.store
    u = make_user(store, "uploader", shared_hash)
    sign_in(client, u.email)
    ids = older_papers(store, "%language%", 3)
    body = ("\n".join(ids) + "\n").encode()
    r = client.post("/foryou/import", data={"csrf": csrf_of(client, "/foryou")},
                    files={"file": ("mine.txt", body, "text/plain")})
    assert r.status_code == 303
    assert set(profiles.load_profile(store, f"user:{u.id}").positives) == set(ids)
    r = client.post("/foryou/import", data={"csrf": csrf_of(client, "/foryou")},
                    files={"file": ("bad.txt", b"hello world\n", "text/plain")})
    assert r.status_code == 303 and "Nothing imported" in r.cookies.get("pw_flash", "") + r.headers.get("set-cookie", "")
