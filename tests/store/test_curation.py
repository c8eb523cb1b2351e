"""The curated daily lists on real data (demo/: the arXiv listings and the Hugging Face daily
lists of 2026-06-16 .. 2026-07-01, as the API returned them), the "All new" ranking, and the
submission rules: a curated day is added to a paper, its own dates never move."""

from __future__ import annotations

import json

import pytest

from paperwire.store import listings, users
from paperwire.store.sqlite import open_store
from repo_paths import DEMO

DAYS = sorted((DEMO / "hf").glob("*.json"))


def _api_days() -> dict[str, list[dict]]:
    return {f.stem: json.loads(f.read_text()) for f in DAYS}


@pytest.fixture
def demo_store(site_settings):
    s = open_store(site_settings)
    yield s
    s.close()


def _user(store, name):
    return users.create_user(store, f"{name}@example.org", name, password_hash="not-a-hash")


def test_the_demo_holds_real_hugging_face_days():
    assert len(DAYS) >= 10
    assert all(len(items) > 0 and "submittedOnDailyAt" in items[0]["paper"] for items in _api_days().values())


def test_a_days_curated_list_is_its_api_file_ordered_by_upvotes(demo_store):
    days = _api_days()
    best: dict[str, int] = {}  # a paper featured on two days keeps the larger count
    for items in days.values():
        for it in items:
            best[it["paper"]["id"]] = max(best.get(it["paper"]["id"], 0), it["paper"]["upvotes"])
    for day, items in days.items():
        ids, total = listings.curated_ids(demo_store, day, day, limit=500)
        assert total == len(items) and sorted(ids) == sorted(it["paper"]["id"] for it in items), day
        votes = [best[i] for i in ids]
        assert votes == sorted(votes, reverse=True), day
        cards = {c.id: c for c in listings.cards(demo_store, ids)}
        assert [cards[i].upvotes for i in ids] == votes  # the site shows Hugging Face's counts
        # ties: code released first
        for a, b in zip(ids, ids[1:]):
            if best[a] == best[b]:
                assert bool(cards[a].code_url) >= bool(cards[b].code_url), (day, a, b)


def test_cards_carry_every_hugging_face_field(demo_store):
    items = _api_days()["2026-06-30"]
    cards = {c.id: c for c in listings.cards(demo_store, [it["paper"]["id"] for it in items])}
    for it in items:
        paper, c = it["paper"], cards[it["paper"]["id"]]
        assert c.curated_on == "2026-06-30"
        assert c.ai_keywords == paper.get("ai_keywords", [])
        assert c.ai_summary == paper.get("ai_summary")
        assert c.github_stars == paper.get("githubStars")
        assert (c.organization or {}).get("name") == (paper.get("organization") or {}).get("name")
        assert c.submitter == paper["submittedOnDailyBy"]["name"]
        assert c.hf_comments == it["numComments"]
        assert c.hf_item == it  # the whole item, as received


def test_all_new_ranks_a_listing_day_by_signals_then_evidence(demo_store):
    day = listings.latest_listing_day(demo_store)
    ids, total = listings.new_ids(demo_store, day, day, limit=1000)
    listed = demo_store.query_one("SELECT count(*) FROM papers WHERE listed = ? AND hidden = 0", (day,))[0]
    assert total == listed == len(ids) and ids != sorted(ids, reverse=True)  # not id order
    cards = listings.cards(demo_store, ids)
    votes = [c.upvotes for c in cards]
    assert votes == sorted(votes, reverse=True)
    unvoted = [c for c in cards if not c.upvotes]
    evidence = [bool(listings.interest_reasons(c)) for c in unvoted]
    assert evidence == sorted(evidence, reverse=True)  # papers showing interest before those that show none
    first = listings.interest_reasons(cards[0])
    assert first and "upvote" in first[0]
    coded = next(c for c in unvoted if c.code_url)
    assert any(r.startswith("code released") for r in listings.interest_reasons(coded))


def test_a_submission_adds_a_curated_day_and_never_moves_the_papers_dates(demo_store):
    u = _user(demo_store, "curator")
    day = listings.latest_listing_day(demo_store)
    pid = next(c.id for c in listings.cards(demo_store, listings.new_ids(demo_store, day, day, limit=100)[0])
               if not c.curated_on)
    before = listings.cards(demo_store, [pid])[0].paper
    to = max(day, listings.latest_curated_day(demo_store))  # the newest list (the demo ends long before today)
    assert users.submit_paper(demo_store, u.id, pid, day=to, max_age_days=7) == to
    after = listings.cards(demo_store, [pid])[0]
    assert (after.paper.listed, after.paper.published, after.paper.updated) == (before.listed, before.published,
                                                                               before.updated)
    assert after.curated_on == to and after.submitter == "curator"
    assert pid in listings.curated_ids(demo_store, to, to, limit=500)[0]
    assert pid in listings.new_ids(demo_store, day, day, limit=1000)[0]  # still on its listing day
    # the front page's day stays a full list, not the one submission
    assert listings.curated_ids(demo_store, to, to)[1] > 1


def test_submission_rules_refuse_with_a_reason(demo_store):
    u, v = _user(demo_store, "ann"), _user(demo_store, "bob")
    day = listings.latest_listing_day(demo_store)
    fresh = [c.id for c in listings.cards(demo_store, listings.new_ids(demo_store, day, day, limit=100)[0])
             if not c.curated_on]
    users.submit_paper(demo_store, u.id, fresh[0], day=day, max_age_days=7)
    with pytest.raises(users.AccountError, match=f"{fresh[0]} was already submitted to the list of {day}"):
        users.submit_paper(demo_store, v.id, fresh[0], day=day, max_age_days=7)
    featured = _api_days()["2026-06-30"][0]["paper"]["id"]
    with pytest.raises(users.AccountError, match="already on the list of 2026-06-30 .featured on Hugging Face"):
        users.submit_paper(demo_store, v.id, featured, day=day, max_age_days=7)
    old = demo_store.query_one("SELECT min(listed) FROM papers")[0]
    old_id = next(c.id for c in listings.cards(demo_store, listings.new_ids(demo_store, old, old, limit=100)[0])
                  if not c.curated_on)
    with pytest.raises(users.AccountError, match=r"only papers from the last 7 days"):
        users.submit_paper(demo_store, v.id, old_id, day=day, max_age_days=7)
    assert listings.cards(demo_store, [old_id])[0].curated_on is None  # nothing written
    for pid in fresh[1:4]:
        users.submit_paper(demo_store, v.id, pid, day=day, max_age_days=7, daily_limit=3)
    with pytest.raises(users.AccountError, match="3 papers a day"):
        users.submit_paper(demo_store, v.id, fresh[4], day=day, max_age_days=7, daily_limit=3)


def test_a_store_without_curation_has_no_curated_day(store, put):
    put("2501.00001", listed="2025-01-06")
    assert listings.latest_curated_day(store) is None and listings.latest_listing_day(store) == "2025-01-06"
    assert listings.curated_ids(store, "2025-01-06", "2025-01-06") == ([], 0)
    assert listings.new_ids(store, "2025-01-06", "2025-01-06") == (["2501.00001"], 1)


def test_rows_written_to_hf_daily_by_any_writer_are_on_the_curated_list(store, put):
    """hf_featured follows hf_daily by trigger (a bulk load or a script writes hf_daily directly)."""
    put("2501.00002", listed="2025-01-06")
    store.conn.execute("INSERT INTO hf_daily(paper_id, featured_on, upvotes, seen_at) "
                       "VALUES ('2501.00002', '2025-01-07', 4, '2025-01-07T09:00:00Z')")
    assert listings.curated_ids(store, "2025-01-07", "2025-01-07") == (["2501.00002"], 1)
    assert listings.latest_curated_day(store) == "2025-01-07"
