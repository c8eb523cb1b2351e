"""Several named interest profiles on the "For you" page: each its own tab, papers, feedback,
follows and private feed; another reader's profile is out of reach."""

from __future__ import annotations

import re

from lxml import etree

from paperwire.store import profiles, users
from web_support import csrf_of, make_user, older_papers, rec_ids, sign_in

ATOM = "{http://www.w3.org/2005/Atom}"


def test_named_profiles_have_their_own_tab_feedback_follows_and_feed(client, app, shared_hash):
    store = app.state.store
    u = make_user(store, "twohats", shared_hash)
    sign_in(client, u.email)
    main = f"user:{u.id}"
    profiles.add_items(store, main, older_papers(store, "%segmentation%"), "save")
    r = client.post("/foryou/profiles", data={"csrf": csrf_of(client, "/foryou"), "name": "Reading group"})
    assert r.status_code == 303 and r.headers["location"] == "/foryou?profile=reading-group"
    named = f"{main}/reading-group"
    assert profiles.named_profiles(store, main) == [(named, "Reading group")]
    # a second profile of the same name is refused, nothing created
    client.post("/foryou/profiles", data={"csrf": csrf_of(client, "/foryou"), "name": "reading  GROUP"})
    assert len(profiles.named_profiles(store, main)) == 1

    profiles.add_items(store, named, older_papers(store, "%speech%"), "import")
    page_main = client.get("/foryou").text
    page_named = client.get("/foryou?profile=reading-group").text
    assert 'href="/foryou?profile=reading-group">Reading group</a>' in page_main
    assert "Profile “Reading group”" in page_named
    main_ids, named_ids = rec_ids(page_main), rec_ids(page_named)
    assert main_ids[:10] != named_ids[:10]
    titles = {r[0]: r[1].lower() for r in store.query("SELECT id, title_display FROM papers")}
    assert sum("speech" in titles[p] or "audio" in titles[p] for p in named_ids[:10]) >= 3
    assert sum("segment" in titles[p] for p in main_ids[:10]) >= 3

    # feedback on the named tab changes that profile only
    top = named_ids[0]
    r = client.post("/foryou/feedback", data={"csrf": csrf_of(client, "/foryou?profile=reading-group"),
                                              "paper_id": top, "action": "dismiss", "profile": "reading-group"})
    assert r.status_code == 303 and r.headers["location"] == "/foryou?profile=reading-group"
    assert top in profiles.load_profile(store, named).negatives
    assert top not in profiles.load_profile(store, main).negatives
    assert top not in rec_ids(client.get("/foryou?profile=reading-group").text)
    # follows too
    client.post("/foryou/follow", data={"csrf": csrf_of(client, "/foryou"), "kind": "category", "value": "cs.SD",
                                        "profile": "reading-group"})
    assert profiles.load_profile(store, named).categories == ["cs.SD"]
    assert profiles.load_profile(store, main).categories == []

    # each profile its own private feed
    r = client.post("/foryou/feed-token", data={"csrf": csrf_of(client, "/foryou"), "profile": "reading-group"})
    feed_url = re.search(r"(/foryou/feed/[A-Za-z0-9_-]+\.atom)", r.text).group(1)
    assert profiles.has_feed_token(store, named) and not profiles.has_feed_token(store, main)
    # and the API
    token = users.create_token(store, u.id, "test")
    named_ids = rec_ids(client.get("/foryou?profile=reading-group").text)
    api = client.get("/api/v1/recommendations?limit=5&profile=reading-group",
                     headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and [d["id"] for d in api.json()] == named_ids[:5]
    client.cookies.clear()
    feed = etree.fromstring(client.get(feed_url).content)
    assert feed.findtext(f"{ATOM}title").endswith("Reading group")


def test_unknown_or_foreign_profile_is_404_and_delete_removes_its_papers(client, app, shared_hash):
    store = app.state.store
    owner = make_user(store, "owner", shared_hash)
    other = make_user(store, "other", shared_hash)
    key = profiles.create_named(store, f"user:{owner.id}", "My thesis")
    profiles.add_items(store, key, older_papers(store, "%graph%", 3), "import")
    sign_in(client, other.email)
    assert client.get("/foryou?profile=my-thesis").status_code == 404
    r = client.post("/foryou/feedback", data={"csrf": csrf_of(client, "/foryou"), "paper_id": "x",
                                              "action": "up", "profile": "my-thesis"})
    assert r.status_code == 404
    client.post("/signout", data={"csrf": csrf_of(client, "/foryou")})
    client.cookies.clear()
    sign_in(client, owner.email)
    assert client.get("/foryou?profile=my-thesis").status_code == 200
    r = client.post("/foryou/profiles/delete", data={"csrf": csrf_of(client, "/foryou"), "profile": "my-thesis"})
    assert r.status_code == 303
    assert profiles.named_profiles(store, f"user:{owner.id}") == []
    assert profiles.load_profile(store, key).positives == {}
    assert client.get("/foryou?profile=my-thesis").status_code == 404
