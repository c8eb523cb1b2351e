"""The digest's "For you" section and its feedback links, end to end: a real SQLite store, a
real aiosmtpd server on 127.0.0.1, the site in-process. A subscriber's like brings
recommendations (with their reasons) into the digest; a "not interested" link from the received
e-mail asks on GET, applies on POST without a login, and the next build drops that paper."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from digest_support import SMTPServer, active, demo_db, html_part, local, mail_settings, text_part
from paperwire import schedule
from paperwire.digest import outbox, period, subscriptions
from paperwire.ranking import recommend
from paperwire.store import open_store, profiles
from paperwire.store import subscriptions as subs
from paperwire.store.papers import get_papers
from paperwire.store.signals import window_papers

AS_OF = "2026-07-01"


def section(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def items_of(text: str) -> list[tuple[str, str]]:
    """(paper id, why line) of each item in a text digest section."""
    ids = re.findall(r"^  (\S+) \| ", text, re.M)
    whys = re.findall(r"^  Why: (.*)$", text, re.M)
    assert len(ids) == len(whys)
    return list(zip(ids, whys))


def feedback_links(text: str, action: str) -> dict[str, str]:
    out = {}
    for url in re.findall(r"https?://[^\s<>\"]+", text):
        u = urlsplit(url.replace("&amp;", "&"))
        q = parse_qs(u.query)
        if u.path == "/foryou/d" and q.get("a") == [action]:
            out[q["p"][0]] = url.replace("&amp;", "&")
    return out


def test_for_you_section_and_feedback_link_from_the_email(mail_env, tmp_path):
    store, settings, smtp = mail_env
    sub = active(store, settings, "fy@example.org", categories=["cs.CL"], size=3)
    key = profiles.subscriber_key(sub.id)
    # the reader liked a computer-vision paper of the day: outside their categories
    day = get_papers(store, window_papers(store, "2026-06-30", AS_OF))
    liked = sorted(p.id for p in day.values() if p.categories and p.categories[0] == "cs.CV")[0]
    assert profiles.add_items(store, key, [liked], "like", source="test") == 1

    period.build_period(store, settings, "daily", as_of=AS_OF)
    assert outbox.deliver(store, settings).sent == 1
    [msg] = smtp.to("fy@example.org")
    text, html = text_part(msg).replace("\r\n", "\n"), html_part(msg)
    assert "FOR YOU" in text and ">For you</div>" in html
    main = items_of(text.split("FOR YOU", 1)[0])
    fy = items_of(section(text, "FOR YOU", "\n--\n"))
    assert fy and len(main) == 3
    # no paper twice; each recommendation carries the recommender's own reason
    ids, _scores, reasons = recommend.recommend_for(store, settings, key, AS_OF, limit=20, window_end=AS_OF)
    assert not {p for p, _ in fy} & {p for p, _ in main}
    for pid, why in fy:
        assert pid in ids and why == (reasons[ids.index(pid)] or "recommended from your feedback")
    assert any(why for _, why in fy)

    # every item has its links; the token is one per digest, not one per link
    dismiss = feedback_links(text, "dismiss")
    assert set(dismiss) >= {p for p, _ in main + fy}
    assert len({parse_qs(urlsplit(u).query)["t"][0] for u in dismiss.values()}) == 1
    assert set(feedback_links(html, "up")) == set(dismiss)
    target = fy[0][0]

    from paperwire.web.app import create_app

    with TestClient(create_app(settings, store), base_url="http://testserver") as client:
        page = client.get(local(dismiss[target]))
        assert page.status_code == 200 and "Not interested?" in page.text
        # a GET (a mail scanner prefetching the link) changes nothing
        assert target not in profiles.load_profile(store, key).negatives
        form = dict(re.findall(r'name="(\w)" value="([^"]*)"', page.text))
        assert form["p"] == target and form["a"] == "dismiss"
        done = client.post("/foryou/d", data=form)  # no login, no CSRF cookie
        assert done.status_code == 200 and "Thanks" in done.text
    assert target in profiles.load_profile(store, key).negatives

    # the next build over the same papers no longer recommends it (the mark is moved back so
    # the same day's papers are new again; a dry run leaves the outbox alone)
    with store.transaction() as conn:
        conn.execute("UPDATE subscribers SET last_until=NULL WHERE id=?", (sub.id,))
    out = tmp_path / "dry"
    rep = period.build_period(store, settings, "daily", as_of=AS_OF, dry_run_dir=out)
    [txt] = [f for f in rep.written if f.endswith(".txt")]
    again = open(txt, encoding="utf-8").read()
    fy2 = [p for p, _ in items_of(section(again, "FOR YOU", "\n--\n"))] if "FOR YOU" in again else []
    assert fy2 and target not in fy2 and target not in [p for p, _ in items_of(again)]


def test_forged_or_garbled_feedback_token_is_refused(mail_env):
    store, settings, _ = mail_env
    sub = active(store, settings, "f2@example.org", categories=["cs.CL"])
    key = profiles.subscriber_key(sub.id)
    pid = window_papers(store, "2026-06-30", AS_OF)[0]
    good = subscriptions.feedback_token(settings, sub)
    forged = subscriptions.feedback_token(mail_settings(store.path, None, secret_key="another-key-" + "x" * 32), sub)
    manage = subscriptions.manage_token(settings, sub)  # a preferences token is not a feedback token
    from paperwire.web.app import create_app

    with TestClient(create_app(settings, store), base_url="http://testserver") as client:
        for bad in (forged, good[:-3] + "abc", "garbled", "", manage):
            assert client.get("/foryou/d", params={"t": bad, "p": pid, "a": "dismiss"}).status_code == 403
            assert client.post("/foryou/d", data={"t": bad, "p": pid, "a": "dismiss"}).status_code == 403
        assert client.post("/foryou/d", data={"t": good, "p": pid, "a": "delete"}).status_code == 400
        assert profiles.load_profile(store, key).negatives == {}
        assert client.post("/foryou/d", data={"t": good, "p": pid, "a": "dismiss"}).status_code == 200
    assert pid in profiles.load_profile(store, key).negatives


def test_daily_run_refreshes_stars_only_with_a_token_and_survives_a_failure(tmp_path):
    """run_daily polls GitHub (a local replay server) before building when a token is set; a
    refresh that GitHub cuts short (rate limit exhausted for an hour) costs nobody their digest."""
    from datetime import date

    from github_replay import Replay, ok, rate_limited

    from paperwire.store import signals as sig

    gh = Replay()
    try:
        with SMTPServer() as server:
            db = demo_db(tmp_path)
            for token, url, who in (("", gh.url, "a"), ("t0ken", gh.url, "b"), ("t0ken", gh.url, "c")):
                settings = mail_settings(db, server.port, github_token=token, github_api_url=url,
                                         github_refresh_limit=3, github_max_wait=0.1, http_timeout=2.0)
                store = open_store(settings)
                try:
                    repos = [r for r, _ in sig.repos_to_refresh(store, 3)]
                    assert repos
                    gh.script[f"/repos/{repos[0]}"] = [ok(repos[0], 123) if who != "c" else rate_limited(3600)]
                    before = len(gh.requests)
                    active(store, settings, f"{who}@example.org", categories=["cs.CL"], size=2)
                    result = schedule.run_daily(store, settings, day=date(2026, 7, 1), harvest=False, refresh=False,
                                              echo=lambda s: None)
                    assert "queued 1" in result["daily"] and result["deliver"].startswith("sent 1,")
                    assert len(server.handler.to(f"{who}@example.org")) == 1
                    if who == "a":  # no token: GitHub is not asked
                        assert "stars" not in result and len(gh.requests) == before
                    elif who == "b":
                        assert "updated 1" in result["stars"] and len(gh.requests) > before
                        assert (sig.get_repo_state(store, repos[0]) or {})["stars"] == 123
                    else:  # GitHub stopped the refresh at the first repository it asked about
                        assert "stopped: GitHub rate limit" in result["stars"] and len(gh.requests) == before + 1
                finally:
                    store.close()
    finally:
        gh.close()
