"""Several interest profiles per reader in the digest: each named profile gets its own "For you"
section, built from its own papers, and its feedback links change that profile only."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from digest_support import active, html_part, local, text_part
from paperwire.digest import outbox, period
from paperwire.store import profiles
from paperwire.store.papers import get_papers
from paperwire.store.signals import window_papers

AS_OF = "2026-07-01"


def _older(store, category: str, n: int = 8) -> list[str]:
    """Papers of the day before the digest's (the demo store holds two days)."""
    return [r[0] for r in store.query(
        "SELECT id FROM papers WHERE listed = '2026-06-30' AND primary_category=? ORDER BY id LIMIT ?", (category, n))]


def _links(text: str) -> list[dict]:
    out = []
    for url in re.findall(r"https?://[^\s<>\"]+", text):
        u = urlsplit(url.replace("&amp;", "&"))
        if u.path == "/foryou/d":
            out.append({k: v[0] for k, v in parse_qs(u.query).items()} | {"url": url.replace("&amp;", "&")})
    return out


def test_each_named_profile_has_its_own_section_and_feedback(mail_env):
    store, settings, smtp = mail_env
    sub = active(store, settings, "two@example.org", categories=["cs.CL"], size=3)
    main = profiles.subscriber_key(sub.id)
    itgroup = profiles.create_named(store, main, "Information theory group")
    assert itgroup == f"{main}/information-theory-group"
    day = get_papers(store, window_papers(store, "2026-06-30", AS_OF))
    liked_cv = sorted(p.id for p in day.values() if p.categories and p.categories[0] == "cs.CV")[:1]
    profiles.add_items(store, main, liked_cv, "like")
    profiles.add_items(store, itgroup, _older(store, "cs.IT"), "import")

    period.build_period(store, settings, "daily", as_of=AS_OF)
    assert outbox.deliver(store, settings).sent == 1
    [msg] = smtp.to("two@example.org")
    text, html = text_part(msg).replace("\r\n", "\n"), html_part(msg)
    assert "FOR YOU: Information theory group" in text and "For you: Information theory group</div>" in html
    named_part = text.split("FOR YOU: Information theory group", 1)[1].split("TRENDING", 1)[0]
    named_ids = re.findall(r"^  (\S+) \| ", named_part, re.M)
    assert named_ids
    papers = get_papers(store, named_ids)
    assert sum("cs.IT" in papers[p].categories for p in named_ids) >= len(named_ids) - 1  # the profile's topic
    main_part = text.split("FOR YOU", 1)[1].split("FOR YOU: Information", 1)[0]
    assert not set(named_ids) & set(re.findall(r"^  (\S+) \| ", main_part, re.M))  # no paper twice

    # the named section's links carry its profile; the main sections' do not
    links = _links(text)
    named_links = [x for x in links if x.get("n")]
    assert {x["p"] for x in named_links} == set(named_ids)
    assert all(x["n"] == "information-theory-group" for x in named_links)
    target = next(x for x in named_links if x["a"] == "dismiss")

    from paperwire.web.app import create_app

    with TestClient(create_app(settings, store), base_url="http://testserver") as client:
        page = client.get(local(target["url"]))
        assert page.status_code == 200
        form = dict(re.findall(r'name="(\w)" value="([^"]*)"', page.text))
        assert form["n"] == "information-theory-group"
        assert client.post("/foryou/d", data=form).status_code == 200
        # a slug that is not this subscriber's profile is refused
        bad = dict(form, n="someone-elses")
        assert client.post("/foryou/d", data=bad).status_code == 404
    assert target["p"] in profiles.load_profile(store, itgroup).negatives
    assert target["p"] not in profiles.load_profile(store, main).negatives

    # the next digest: the dismissed paper is gone from the named section
    with store.transaction() as conn:
        conn.execute("UPDATE subscribers SET last_until=NULL WHERE id=?", (sub.id,))
    rep = period.build_period(store, settings, "daily", as_of=AS_OF, dry_run_dir=str(store.path) + ".dry")
    [txt] = [f for f in rep.written if f.endswith(".txt")]
    again = open(txt, encoding="utf-8").read()
    part = again.split("FOR YOU: Information theory group", 1)[1].split("TRENDING", 1)[0]
    assert target["p"] not in re.findall(r"^  (\S+) \| ", part, re.M)

