"""Trending: breakdown sums, determinism, decay, each signal moving the ranking, windows."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from paperwire.config import Settings
from paperwire.models import HFEntry, Paper
from paperwire.ranking import trending as rank
from paperwire.store import signals as sig
from paperwire.store.papers import upsert_papers

NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=timezone.utc)


def day(offset: int) -> str:
    return (NOW - timedelta(days=offset)).date().isoformat()


def ts(offset_days: float) -> str:
    return (NOW - timedelta(days=offset_days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_papers(store, specs):
    """specs: [(id, listed_days_ago)]"""
    upsert_papers(store, [Paper(id=i, title=f"Paper {i}", abstract="about things", categories=["cs.LG"],
                                listed=day(d)) for i, d in specs], source="listing")


def add_upvotes(store, paper_id, n, days_ago=0.5):
    # users and upvotes come from the accounts migration (0030); rows are written the way the
    # web layer writes them
    with store.transaction() as c:
        for k in range(n):
            uid = c.execute("SELECT id FROM users WHERE username=?", (f"u{k}",)).fetchone()
            if uid is None:
                uid = c.execute(
                    "INSERT INTO users(email, username, password_hash, created_at) VALUES (?,?,?,?) RETURNING id",
                    (f"u{k}@example.org", f"u{k}", "x", ts(30))).fetchone()
            c.execute("INSERT INTO upvotes(user_id, paper_id, created_at) VALUES (?,?,?)", (uid[0], paper_id, ts(days_ago)))


@pytest.fixture
def world(store):
    add_papers(store, [("2603.00001", 0), ("2603.00002", 0), ("2603.00003", 2), ("2603.00004", 5),
                       ("2602.00005", 20)])
    return store


def test_parts_sum_to_score_and_order_is_by_score(world, settings):
    add_upvotes(world, "2603.00002", 3)
    sig.add_signals(world, [("2603.00003", "github_stars", "a/b", 10, ts(3)),
                            ("2603.00003", "github_stars", "a/b", 110, ts(1))])
    out = rank.trending(world, "week", NOW, settings=settings)
    assert out, "papers of the window are ranked"
    for t in out:
        assert math.isclose(sum(t.parts.values()), t.score, rel_tol=1e-12)
        assert set(t.parts) == {"hf_upvotes", "stars", "upvotes", "comments", "views", "recency"}
    assert [t.score for t in out] == sorted((t.score for t in out), reverse=True)
    by_id = {t.paper_id: t for t in out}
    assert by_id["2603.00002"].parts["upvotes"] > 0
    # 10 stars when first seen (before the paper's listing day: credited then), +100 two days later
    assert by_id["2603.00003"].inputs["stars"] == pytest.approx(110.0)
    assert [r.text for r in by_id["2603.00003"].reasons][0] == "+110 GitHub stars this week (a/b)"
    assert [r.text for r in by_id["2603.00002"].reasons] == ["3 upvotes here", "new in this window"]
    assert by_id["2603.00001"].parts["upvotes"] == 0
    # the 20-day-old paper is outside a week's window and has no signal in it
    assert "2602.00005" not in by_id


def test_deterministic_for_same_db_and_now(world, settings):
    add_upvotes(world, "2603.00001", 2)
    a = rank.trending(world, "week", NOW, settings=settings)
    b = rank.trending(world, "week", NOW, settings=settings)
    assert [(t.paper_id, t.score, t.parts) for t in a] == [(t.paper_id, t.score, t.parts) for t in b]
    # equal scores are ordered by id, so paging is stable
    ids = [t.paper_id for t in rank.trending(world, "week", NOW, settings=settings, limit=2)]
    ids += [t.paper_id for t in rank.trending(world, "week", NOW, settings=settings, limit=10, offset=2)]
    assert ids == [t.paper_id for t in a]


def test_decay_halves_per_half_life(store):
    s = Settings.load(env={}, db=store.path, trend_half_life_week=2.0)
    add_papers(store, [("2603.00010", 0), ("2603.00011", 2), ("2603.00012", 4)])
    for pid in ("2603.00010", "2603.00011", "2603.00012"):
        add_upvotes(store, pid, 4)
    by_id = {t.paper_id: t for t in rank.trending(store, "week", NOW, settings=s)}
    s0, s2, s4 = (by_id[p].score for p in ("2603.00010", "2603.00011", "2603.00012"))
    # same signals, ages 0 / 2 / 4 days (listed days are whole days: age measured from midnight)
    assert s0 > s2 > s4
    assert by_id["2603.00011"].inputs["decay"] == pytest.approx(0.5 ** ((2 * 86400 + 12 * 3600) / 86400 / 2.0))
    assert s2 / s4 == pytest.approx(2.0)  # exactly one half-life apart


def test_weights_are_settings(world):
    add_upvotes(world, "2603.00001", 1)
    sig.add_signals(world, [("2603.00002", "github_stars", "o/r", 0, ts(5)),
                            ("2603.00002", "github_stars", "o/r", 60, ts(0.1))])
    base = Settings.load(env={}, db=world.path)
    top = rank.trending(world, "week", NOW, settings=base, limit=1)[0].paper_id
    flipped = Settings.load(env={"PAPERWIRE_TREND_WEIGHT_UPVOTES": "5", "PAPERWIRE_TREND_WEIGHT_STARS": "0"},
                            db=world.path)
    top2 = rank.trending(world, "week", NOW, settings=flipped, limit=1)[0].paper_id
    assert (top, top2) == ("2603.00002", "2603.00001")  # stars win by default; upvotes once stars weigh 0
    zero = Settings.load(env={"PAPERWIRE_TREND_WEIGHT_UPVOTES": "0"}, db=world.path)
    t = {x.paper_id: x for x in rank.trending(world, "week", NOW, settings=zero)}["2603.00001"]
    assert t.parts["upvotes"] == 0 and t.inputs["upvotes"] == 1


def test_signals_outside_window_do_not_count(world, settings):
    add_upvotes(world, "2603.00003", 5, days_ago=1.5)  # inside week, outside day
    wk = {t.paper_id: t for t in rank.trending(world, "week", NOW, settings=settings)}
    assert wk["2603.00003"].inputs["upvotes"] == 5
    dy = {t.paper_id: t for t in rank.trending(world, "day", NOW, settings=settings)}
    assert "2603.00003" not in dy  # listed 2 days ago, no signal in the last day
    # an upvote cast after `now` is in the future of that ranking
    add_upvotes(world, "2603.00001", 1, days_ago=-1)
    assert {t.paper_id: t for t in rank.trending(world, "day", NOW, settings=settings)}["2603.00001"].inputs["upvotes"] == 0


def test_hf_upvotes_count_for_papers_featured_in_window(store, settings):
    p = Paper(id="2603.00020", title="HF paper", listed=day(1))
    q = Paper(id="2603.00021", title="Old HF paper", listed=day(40))
    upsert_papers(store, [HFEntry(p, featured_on=day(1), upvotes=40), HFEntry(q, featured_on=day(40), upvotes=99)],
                  source="hf")
    out = {t.paper_id: t for t in rank.trending(store, "week", NOW, settings=settings)}
    assert out["2603.00020"].inputs["hf_upvotes"] == 40
    assert out["2603.00020"].parts["hf_upvotes"] > 0
    assert "2603.00021" not in out


def test_single_star_observation_counts_since_paper_day(world, settings):
    sig.add_signals(world, [("2603.00004", "github_stars", "x/y", 50, ts(0))])
    # one count of 50, the paper listed 5.5 days before it: the 50 are spread over those days
    t = {t.paper_id: t for t in rank.trending(world, "week", NOW, settings=settings)}["2603.00004"]
    assert t.inputs["stars"] == pytest.approx(50.0)
    d = {t.paper_id: t for t in rank.trending(world, "day", NOW, settings=settings)}["2603.00004"]
    assert d.inputs["stars"] == pytest.approx(50 / 5.5)
    assert d.reasons[0].text == "+9 GitHub stars in the last day (x/y)"


def test_empty_page_and_a_page_deep_in_the_recency_tail(world, settings):
    add_upvotes(world, "2603.00003", 2)
    assert rank.trending(world, "week", NOW, settings=settings, limit=0) == []
    full = [t.paper_id for t in rank.trending(world, "week", NOW, settings=settings)]
    assert full[0] == "2603.00003"  # the only paper with a signal, then the rest newest first
    assert [t.paper_id for t in rank.trending(world, "week", NOW, settings=settings, limit=1, offset=2)] == full[2:3]


def test_hidden_papers_and_bad_window(world, settings):
    world.conn.execute("UPDATE papers SET hidden=1 WHERE id='2603.00001'")
    assert "2603.00001" not in {t.paper_id for t in rank.trending(world, "week", NOW, settings=settings)}
    with pytest.raises(ValueError, match="window"):
        rank.trending(world, "year", NOW, settings=settings)


def test_latest_now_uses_newest_listing_day(world):
    assert rank.latest_now(world) == datetime(2026, 3, 10, 23, 59, 59, tzinfo=timezone.utc)
    assert rank.trending(world, "day", "2026-03-10", settings=Settings())[0].paper_id in {"2603.00001", "2603.00002"}
