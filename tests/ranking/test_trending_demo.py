"""Trending over real data: the demo's arXiv listings and Hugging Face daily lists of late June
2026 (upvotes, GitHub stars as Hugging Face reported them). A real ranking with parts that sum
and are named in words; the "as of" rule for a store older than the window."""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timezone

import pytest

from paperwire.ingest import import_file
from paperwire.models import HFEntry, Paper
from paperwire.ranking import trending as rank
from paperwire.store import open_store
from paperwire.store.papers import upsert_papers
from repo_paths import DEMO

NEWEST = date(2026, 7, 1)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    st = open_store(str(tmp_path_factory.mktemp("trend") / "demo.db"))
    import_file(st, DEMO / "records.jsonl.gz")
    for day in sorted((DEMO / "hf").glob("*.json")):
        import_file(st, day)
    yield st
    st.close()


def hf_lists() -> dict[str, dict]:
    """{paper id: {"upvotes", "stars", "day"}} as the demo's daily lists give them (the highest
    count of a paper listed twice, its first day)."""
    out: dict[str, dict] = {}
    for f in sorted((DEMO / "hf").glob("*.json")):
        for item in json.loads(f.read_text()):
            p = item["paper"]
            seen = out.setdefault(p["id"], {"upvotes": 0, "stars": 0, "day": f.stem})
            seen["upvotes"] = max(seen["upvotes"], p.get("upvotes") or 0)
            seen["stars"] = max(seen["stars"], p.get("githubStars") or 0)
    return out


@pytest.mark.parametrize("window", list(rank.WINDOWS))
def test_trending_over_the_demo_window_is_a_real_ranking(demo_store, window):
    end = rank.window_end(demo_store, window)
    assert end.as_of == NEWEST  # the demo is older than any window: scored as of its newest day
    out = rank.trending(demo_store, window, end.now, limit=10**6, local_now=end.local_now)
    assert len({round(t.score, 9) for t in out}) > 20, "more than a handful of distinct scores"
    assert [t.score for t in out] == sorted((t.score for t in out), reverse=True)
    for t in out:
        assert math.isclose(math.fsum(t.parts.values()), t.score, rel_tol=1e-12)
        assert all(v >= 0 for v in t.parts.values())
        # the reasons are the non-zero parts, each once, and add up to the score too
        assert len({r.part for r in t.reasons}) == len(t.reasons)
        assert math.isclose(math.fsum(r.points for r in t.reasons), t.score, rel_tol=1e-9)
    lists = hf_lists()
    for t in out[:10]:  # the top papers carry Hugging Face upvotes or star growth
        assert t.inputs["hf_upvotes"] > 0 or t.inputs["stars"] > 0
        assert t.paper_id in lists
        assert t.inputs["stars"] <= lists[t.paper_id]["stars"] + 1e-6
    # the first paper's parts in words, with the numbers of the real list
    top = out[0]
    words = [r.text for r in top.reasons]
    hf_text = next(w for w in words if "on Hugging Face" in w)
    assert int(re.match(r"\+?([\d,]+) upvotes? on Hugging Face", hf_text).group(1).replace(",", "")) \
        == lists[top.paper_id]["upvotes"]
    assert not any("_" in w for w in words)  # words, not the parts' keys


def test_day_window_ranks_the_newest_list_by_its_signals(demo_store):
    end = rank.window_end(demo_store, "day")
    out = rank.trending(demo_store, "day", end.now, limit=10**6, local_now=end.local_now)
    lists = hf_lists()
    featured = {pid for pid, v in lists.items() if v["day"] == NEWEST.isoformat() and v["upvotes"] > 0}
    ranked = [t.paper_id for t in out if t.inputs["hf_upvotes"] > 0]
    # every paper with upvotes on the newest day's list is ranked with them, ahead of papers that
    # have nothing but their recency
    assert featured <= set(ranked)
    first_bare = next(i for i, t in enumerate(out) if t.score == t.parts["recency"])
    assert all(i < first_bare for i, t in enumerate(out) if t.paper_id in featured)
    # among papers without stars, more upvotes rank higher (same day, same decay)
    plain = [t for t in out if t.paper_id in featured and t.inputs["stars"] == 0 and t.inputs["age_days"] == 0]
    assert len(plain) >= 3
    assert [t.inputs["hf_upvotes"] for t in plain] == sorted((t.inputs["hf_upvotes"] for t in plain), reverse=True)


def test_as_of_rule_for_old_stores(tmp_path):
    st = open_store(str(tmp_path / "old.db"))
    upsert_papers(st, [Paper(id="2606.00001", title="Listed last", listed="2026-07-01"),
                       Paper(id="2606.00002", title="Listed before", listed="2026-06-30")], source="listing")
    upsert_papers(st, [HFEntry(Paper(id="2606.00001", title="Listed last", listed="2026-07-01"),
                               featured_on="2026-07-01", upvotes=30)], source="hf")
    # the clock is far past the newest day: every window is scored as of that day
    clock = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    for window in rank.WINDOWS:
        end = rank.window_end(st, window, clock)
        assert end.as_of == NEWEST and end.now == datetime(2026, 7, 1, 23, 59, 59, tzinfo=timezone.utc)
        assert end.local_now == clock
    # eight days after the newest day: the month window still reaches it, so it ends at the clock
    later = datetime(2026, 7, 9, 12, 0, tzinfo=timezone.utc)
    assert rank.window_end(st, "day", later).as_of == NEWEST
    assert rank.window_end(st, "week", later).as_of == NEWEST
    live = rank.window_end(st, "month", later)
    assert (live.as_of, live.now) == (None, later)
    # a live install: newest data today, the window ends now
    assert rank.window_end(st, "day", datetime(2026, 7, 1, 18, 0, tzinfo=timezone.utc)).as_of is None
    # scored as of the newest day, the HF upvotes of that day count ...
    end = rank.window_end(st, "week", clock)
    out = rank.trending(st, "week", end.now, local_now=end.local_now)
    assert [t.paper_id for t in out] == ["2606.00001", "2606.00002"]
    assert out[0].reasons[0].text == "30 upvotes on Hugging Face"
    # ... and so do votes cast on this site now (the demo answers its visitors' votes)
    with st.transaction() as c:
        uid = c.execute("INSERT INTO users(email, username, password_hash, created_at) VALUES (?,?,?,?) RETURNING id",
                        ("a@example.org", "a", "x", "2026-11-01T00:00:00Z")).fetchone()[0]
        c.execute("INSERT INTO upvotes(user_id, paper_id, created_at) VALUES (?,?,?)",
                  (uid, "2606.00002", "2026-11-30T11:00:00Z"))
    out = {t.paper_id: t for t in rank.trending(st, "week", end.now, local_now=end.local_now)}
    assert [r.text for r in out["2606.00002"].reasons] == ["1 upvote here", "new in this window"]
    # a vote from long ago, outside both windows, does not
    assert rank.trending(st, "week", end.now, local_now=datetime(2027, 3, 1, tzinfo=timezone.utc))[1].inputs["upvotes"] == 0
    st.close()


def test_hf_upvotes_are_observed_on_every_import_and_growth_is_credited_when_seen(tmp_path):
    st = open_store(str(tmp_path / "grow.db"))
    p = Paper(id="2606.00010", title="Growing", listed="2026-06-29")
    upsert_papers(st, [HFEntry(p, featured_on="2026-06-30", upvotes=10, github_repo="https://github.com/Org/Tool",
                               github_stars=100)], source="hf")
    upsert_papers(st, [HFEntry(p, featured_on="2026-06-30", upvotes=25, github_repo="https://github.com/Org/Tool",
                               github_stars=160)], source="hf")
    obs = st.query("SELECT kind, ref, value FROM signals WHERE paper_id='2606.00010' ORDER BY id")
    assert [tuple(r) for r in obs] == [("hf_upvotes", "", 10.0), ("github_stars", "org/tool", 100.0),
                                       ("hf_upvotes", "", 25.0), ("github_stars", "org/tool", 160.0)]
    # the first counts are credited to the featured day, the growth to when it was seen (now)
    old = rank.trending(st, "week", "2026-07-01")[0]
    assert (old.inputs["hf_upvotes"], old.inputs["stars"]) == (10.0, 100.0)
    live = rank.trending(st, "day", None)[0]
    assert (live.inputs["hf_upvotes"], live.inputs["stars"]) == (15.0, 60.0)
    assert [r.text for r in live.reasons][:2] == ["+60 GitHub stars in the last day (org/tool)",
                                                  "+15 upvotes on Hugging Face in the last day"]
    st.close()


def test_reimporting_a_day_with_grown_counts_records_the_growth(tmp_path):
    st = open_store(str(tmp_path / "again.db"))
    day = DEMO / "hf" / "2026-07-01.json"
    import_file(st, day)
    items = json.loads(day.read_text())
    for it in items:  # the same list harvested later: every paper 5 upvotes more
        it["paper"]["upvotes"] += 5
    later = tmp_path / "2026-07-01.json"
    later.write_text(json.dumps(items))
    import_file(st, later)  # a day already on the curated list must not make the harvest fail
    assert st.query_one("SELECT count(*) FROM signals WHERE kind='hf_upvotes'")[0] == 2 * len(items)
    assert st.query_one("SELECT count(*) FROM hf_featured WHERE day='2026-07-01'")[0] == len(items)
    # the growth was seen now: it is what the live day window counts
    live = rank.trending(st, "day", None, limit=len(items))
    assert {t.inputs["hf_upvotes"] for t in live} == {5.0}
    assert "+5 upvotes on Hugging Face in the last day" in [r.text for r in live[0].reasons]
    st.close()
