"""Hugging Face Papers API parity on real data: the demo's Hugging Face days (as the API returned
them) ingested, then read back through paperwire's /api/daily_papers, /api/papers/{id} and
/papers/{id}.md, by the unmodified huggingface_hub client against a running server, and harvested
with `paperwire harvest hf` from a local server replaying the real answers."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from paperwire.cli import cli
from paperwire.store import Store, listings
from repo_paths import DEMO
from ingest_replay import Replay

DAYS = {f.stem: json.loads(f.read_text()) for f in sorted((DEMO / "hf").glob("*.json"))}
DAY = "2026-06-30"


def _same_item(got: dict, want: dict) -> None:
    """Every field Hugging Face sent is answered with the same value (the counts: with none added here)."""
    for key, value in want.items():
        if key != "paper":
            assert got[key] == value, key
    for key, value in want["paper"].items():
        assert got["paper"][key] == value, key


def test_daily_papers_of_a_day_are_its_api_file_with_every_field(client):
    r = client.get("/api/daily_papers", params={"date": DAY, "limit": 100, "sort": "trending"})
    assert r.status_code == 200 and "link" not in r.headers  # one page holds the whole day
    got = r.json()
    want = DAYS[DAY]
    assert sorted(i["paper"]["id"] for i in got) == sorted(i["paper"]["id"] for i in want)
    votes = [i["paper"]["upvotes"] for i in got]
    assert votes == sorted(votes, reverse=True)
    by_id = {i["paper"]["id"]: i for i in got}
    for it in want:
        _same_item(by_id[it["paper"]["id"]], it)


def test_paper_info_answers_the_hugging_face_paper_object(client):
    it = DAYS[DAY][0]
    body = client.get(f"/api/papers/{it['paper']['id']}").json()
    for key, value in it["paper"].items():
        assert body[key] == value, key
    assert body["numComments"] == it["numComments"]


def test_week_month_paging_limit_and_link_header(client, app):
    store = app.state.store
    start, end = listings.week_range("2026-W26")  # Monday 2026-06-22 .. Sunday 2026-06-28
    week_ids = sorted({it["paper"]["id"] for d, items in DAYS.items() if start <= d <= end for it in items})
    wk = [client.get("/api/daily_papers", params={"week": "2026-W26", "limit": 100, "p": p}) for p in (0, 1)]
    assert len(week_ids) > 100 and 'rel="next"' in wk[0].headers["link"] and "link" not in wk[1].headers
    assert sorted(i["paper"]["id"] for r in wk for i in r.json()) == week_ids
    month_ids = {it["paper"]["id"] for d, items in DAYS.items() if d.startswith("2026-06") for it in items}
    seen, url, pages = [], "/api/daily_papers?month=2026-06&limit=40&sort=trending", 0
    while url:  # follow the Link header as a client would
        r = client.get(url)
        assert r.status_code == 200 and len(r.json()) <= 40
        seen += r.json()
        link = r.headers.get("link")
        if link:
            assert link.endswith('>; rel="next"')
            nxt = urlsplit(link[1:link.index(">")])
            q = parse_qs(nxt.query)
            assert q["p"] == [str(pages + 1)] and q["month"] == ["2026-06"] and q["sort"] == ["trending"]
            url = f"{nxt.path}?{nxt.query}"
        else:
            url = None
        pages += 1
    assert pages == -(-len(month_ids) // 40) and sorted(i["paper"]["id"] for i in seen) == sorted(month_ids)
    votes = [i["paper"]["upvotes"] for i in seen]
    assert votes == sorted(votes, reverse=True)  # sort=trending across pages
    newest = client.get("/api/daily_papers", params={"month": "2026-06", "limit": 100}).json()  # sort=publishedAt
    published = [i["paper"]["publishedAt"] for i in newest]
    assert published == sorted(published, reverse=True)
    assert len(client.get("/api/daily_papers", params={"month": "2026-06", "limit": 500}).json()) == 100
    last = client.get("/api/daily_papers", params={"month": "2026-06", "limit": 40, "p": pages - 1})
    assert "link" not in last.headers
    assert client.get("/api/daily_papers", params={"month": "2026-06", "p": 50}).json() == []


def test_an_upvote_count_of_zero_is_zero(client, app, shared_hash):
    from paperwire.store import users
    from web_support import make_user

    store = app.state.store
    u = make_user(store, "zero", shared_hash)
    day = listings.latest_listing_day(store)
    pid = next(c.id for c in listings.cards(store, listings.new_ids(store, day, day, limit=100)[0])
               if not c.curated_on and not c.upvotes)
    users.submit_paper(store, u.id, pid, day=day)
    item = next(i for i in client.get("/api/daily_papers", params={"date": day, "limit": 100}).json()
                if i["paper"]["id"] == pid)
    assert item["paper"]["upvotes"] == 0 and item["numComments"] == 0
    assert item["paper"]["submittedOnDailyAt"].startswith(day) and item["submittedBy"]["user"] == "zero"


@pytest.mark.slow
def test_the_huggingface_hub_client_reads_every_field_back(live_server, monkeypatch):
    import huggingface_hub.constants
    from huggingface_hub import HfApi

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # it talks to paperwire only
    api = HfApi(endpoint=live_server, token=False)
    want = DAYS[DAY]
    got = list(api.list_daily_papers(date=DAY, limit=100))
    assert sorted(p.id for p in got) == sorted(it["paper"]["id"] for it in want)
    ranked = list(api.list_daily_papers(date=DAY, sort="trending", limit=100))
    assert [p.upvotes for p in ranked] == sorted((it["paper"]["upvotes"] for it in want), reverse=True)
    by_id = {p.id: p for p in got}
    for it in want:
        paper, info = it["paper"], by_id[it["paper"]["id"]]
        assert info.title == it["title"] and info.summary == paper["summary"]
        assert [a.name for a in info.authors] == [a["name"] for a in paper["authors"]]
        assert info.upvotes == (paper["upvotes"] or None)  # the client reads 0 as None
        assert info.comments == it["numComments"] and info.discussion_id == paper["discussionId"]
        assert info.ai_summary == paper.get("ai_summary") and info.ai_keywords == paper.get("ai_keywords")
        if paper.get("githubRepo"):
            assert info.github_repo == paper["githubRepo"] and info.github_stars == paper.get("githubStars")
        else:  # paperwire adds the repository an abstract names, where Hugging Face knows none
            assert info.github_repo is None or info.github_repo.startswith(("https://github.com/", "https://gitlab.com/"))
        assert info.project_page == paper.get("projectPage") or not paper.get("projectPage")
        assert (info.organization.name if info.organization else None) == (paper.get("organization") or {}).get("name")
        assert info.submitted_by.name == it["submittedBy"]["name"]
        assert info.submitted_at.isoformat().startswith(it["publishedAt"][:19])
        assert info.published_at.isoformat().startswith(paper["publishedAt"][:19])
    week = list(api.list_daily_papers(week="2026-W26", limit=100)) + list(
        api.list_daily_papers(week="2026-W26", limit=100, p=1))
    assert {p.id for p in week} == {it["paper"]["id"] for d, items in DAYS.items()
                                    if "2026-06-22" <= d <= "2026-06-28" for it in items}
    one = api.paper_info(want[0]["paper"]["id"])
    assert one.ai_keywords == want[0]["paper"].get("ai_keywords") and one.upvotes == want[0]["paper"]["upvotes"]
    md = api.read_paper(one.id)
    assert md.startswith(f"# {one.title}") and one.id in md
    assert one.id in [p.id for p in api.list_papers(query=one.title, limit=5)]


def test_harvest_hf_replays_real_days_and_keeps_every_field(tmp_path):
    """`paperwire harvest hf --date D` against a local server answering D's recorded list page by page."""
    def route(path, q):
        assert path == "/api/daily_papers"
        items = DAYS.get(q.get("date", ""))
        if items is None:
            return 404, {}, "{}"
        p, limit = int(q.get("p", 0)), int(q.get("limit", 50))
        return 200, {"Content-Type": "application/json"}, json.dumps(items[p * limit:(p + 1) * limit])

    db = tmp_path / "hf.db"
    days = ["2026-06-29", "2026-06-30", "2026-07-01"]
    with Replay(route) as srv:
        env = {"PAPERWIRE_HTTP_DELAY": "0", "PAPERWIRE_HF_API_URL": srv.url}
        for d in days:
            r = CliRunner().invoke(cli, ["--db", str(db), "harvest", "hf", "--date", d], env=env)
            assert r.exit_code == 0 and f"read {len(DAYS[d])}" in r.output, r.output
        assert {q["date"] for _, q in srv.requests} == set(days)
    st = Store(db)
    try:
        for d in days:
            ids, total = listings.curated_ids(st, d, d, limit=500)
            assert sorted(ids) == sorted(it["paper"]["id"] for it in DAYS[d]) and total == len(DAYS[d])
            for it in DAYS[d]:
                row = st.query_one("SELECT item, ai_keywords, organization, num_comments, upvotes FROM hf_daily "
                                   "WHERE paper_id = ?", (it["paper"]["id"],))
                assert json.loads(row[0]) == it  # every field, as sent
                assert json.loads(row[1] or "null") == it["paper"].get("ai_keywords")
                assert json.loads(row[2] or "null") == (it["paper"].get("organization") or it.get("organization"))
                assert (row[3], row[4]) == (it["numComments"], it["paper"]["upvotes"])
    finally:
        st.close()


def test_hub_submit_and_comment_with_a_token(client, app, shared_hash):
    from paperwire.store import users
    from web_support import make_user

    store = app.state.store
    u = make_user(store, "poster", shared_hash)
    auth = {"Authorization": f"Bearer {users.create_token(store, u.id, 'hub')}"}
    day = listings.latest_listing_day(store)
    fresh = next(c for c in listings.cards(store, listings.new_ids(store, day, day, limit=100)[0]) if not c.curated_on)
    assert client.post("/api/papers/submit", json={"paperId": fresh.id}).status_code == 401
    r = client.post("/api/papers/submit", json={"paperId": fresh.id}, headers=auth)
    assert r.status_code == 201
    item = r.json()
    assert item["paper"]["id"] == fresh.id and item["submittedBy"]["user"] == "poster"
    assert item["paper"]["publishedAt"].startswith((fresh.paper.published or fresh.paper.listed)[:10])
    again = client.post("/api/papers/submit", json={"paperId": fresh.id}, headers=auth)
    assert again.status_code == 409 and "already submitted" in again.json()["error"]
    featured = DAYS[DAY][0]["paper"]["id"]
    r = client.post("/api/papers/submit", json={"paperId": featured}, headers=auth)
    assert r.status_code == 409 and "featured on Hugging Face" in r.json()["error"]

    before = client.get(f"/api/papers/{featured}").json()["numComments"]
    r = client.post(f"/api/papers/{featured}/comment", json={"comment": "Nice **work**"}, headers=auth)
    assert r.status_code == 201 and r.json()["comment"] == "Nice **work**" and r.json()["author"]["user"] == "poster"
    assert r.json()["numComments"] == before + 1 == client.get(f"/api/papers/{featured}").json()["numComments"]
    assert client.post(f"/api/papers/{featured}/comment", json={"comment": "x"}).status_code == 401
    assert client.post("/api/papers/2601.00000/comment", json={"comment": "x"}, headers=auth).status_code == 404
    assert client.post(f"/api/papers/{featured}/comment", json={"comment": ""}, headers=auth).status_code == 422


def test_paper_markdown_carries_the_hugging_face_fields(client):
    it = DAYS[DAY][0]
    paper = it["paper"]
    md = client.get(f"/papers/{paper['id']}.md").text
    assert md.startswith("# ") and f"**On the daily list of:** {DAY}, submitted by {paper['submittedOnDailyBy']['name']}" in md
    if paper.get("ai_keywords"):
        assert "**AI keywords (Hugging Face):** " + ", ".join(paper["ai_keywords"][:12]) in md
    if paper.get("ai_summary"):
        assert "## AI summary (Hugging Face)\n\n" + paper["ai_summary"] in md
    if paper.get("githubStars"):
        assert f"★ {paper['githubStars']:,} on GitHub" in md
