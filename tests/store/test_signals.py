"""paperwire.store.signals: observations over time windows (start exclusive, end inclusive), local
and Hugging Face upvotes, the papers of a window, and the GitHub repositories' poll state."""

from __future__ import annotations

import pytest

from paperwire.models import HFEntry, Paper
from paperwire.store import signals, users
from paperwire.store.papers import upsert_papers

A, B, C = "2501.00601", "2501.00602", "2501.00603"
T0, T1, T2, T3 = "2025-01-06T00:00:00Z", "2025-01-07T00:00:00Z", "2025-01-08T00:00:00Z", "2025-01-09T00:00:00Z"


@pytest.fixture
def papers(put):
    put(A, listed="2025-01-06", abstract="https://github.com/Org/Alpha")
    put(B, listed="2025-01-08", abstract="https://github.com/org/beta and https://github.com/org/alpha")
    put(C, version_dates=("2025-01-07T12:00:00Z",), abstract="https://github.com/org/aardvark")
    return A, B, C


def test_observations_of_unknown_papers_are_skipped(store, papers):
    added = signals.add_signals(store, [(A, "view", "", 1, T1), ("2501.99999", "view", "", 1, T1),
                                        (B, "view", None, 2.5, T2)])
    assert added == 2
    assert store.query_one("SELECT count(*) FROM signals")[0] == 2


def test_sums_cover_the_window_start_exclusive_end_inclusive(store, papers):
    signals.add_signals(store, [(A, "view", "", 1, T0), (A, "view", "", 1, T1), (A, "view", "", 2, T2),
                                (B, "view", "", 5, T3), (B, "download", "", 7, T2)])
    signals.record_view(store, B, at=T2)
    assert signals.signal_sums(store, "view", T0, T2) == {A: 3.0, B: 1.0}
    assert signals.signal_sums(store, "view", T0, T3) == {A: 3.0, B: 6.0}
    assert signals.signal_sums(store, "download", T0, T1) == {}


def test_star_history_starts_from_the_last_observation_before_the_window(store, papers):
    signals.add_signals(store, [(A, "github_stars", "org/alpha", 10, T0), (A, "github_stars", "org/alpha", 15, T2),
                                (A, "github_stars", "org/alpha", 30, T3), (B, "github_stars", "org/beta", 4, T0)])
    assert signals.star_history(store, T1, T3) == {A: {"org/alpha": [(T0, 10.0), (T2, 15.0), (T3, 30.0)]}}
    assert signals.star_history(store, T2, T3) == {A: {"org/alpha": [(T2, 15.0), (T3, 30.0)]}}
    assert signals.star_history(store, T3, "2025-02-01T00:00:00Z") == {}


def test_local_and_hugging_face_upvotes_by_window(store, papers, user_factory):
    ann = user_factory("ann")
    users.set_upvote(store, ann.id, A, on=True)
    store.conn.execute("UPDATE upvotes SET created_at=? WHERE paper_id=?", (T1, A))
    assert signals.local_upvotes(store, T0, T1) == {A: 1}
    assert signals.local_upvotes(store, T1, T2) == {}
    upsert_papers(store, [HFEntry(Paper(id=B, title="B"), "2025-01-08", 9)], "hf")
    assert signals.hf_upvotes(store, "2025-01-07", "2025-01-08") == {B: 9}
    assert signals.hf_upvotes(store, "2025-01-08", "2025-01-09") == {}


def test_the_papers_of_a_window_and_their_days(store, papers):
    assert sorted(signals.window_papers(store, "2025-01-05", "2025-01-07")) == [A, C]
    assert signals.window_papers(store, "2025-01-07", "2025-01-08") == [B]
    users.set_paper_hidden(store, A)
    assert signals.window_papers(store, "2025-01-05", "2025-01-06") == []
    assert signals.paper_dates(store, [A, B, C]) == {B: "2025-01-08", C: "2025-01-07"}
    assert signals.latest_day(store) == "2025-01-08"


def test_latest_day_falls_back_to_publication(store, put):
    assert signals.latest_day(store) is None
    put(C, version_dates=("2025-01-07T12:00:00Z",))
    assert signals.latest_day(store) == "2025-01-07"


@pytest.mark.parametrize("url, repo", [
    ("https://github.com/Owner/Name", "owner/name"),
    ("github.com/owner/name.git", "owner/name"),
    ("https://www.github.com/owner/name/tree/main/src", "owner/name"),
    ("http://github.com/o-1/n.a_me?tab=readme", "o-1/n.a_me"),
    ("https://gitlab.com/owner/name", None),
    ("https://github.com/owner", None),
    ("https://github.com/owner/..", None),
])
def test_repo_from_url(url, repo):
    assert signals.repo_from_url(url) == repo


def test_repos_to_poll_unchecked_first_then_newest_and_never_missing_ones(store, papers):
    now = "2025-01-10T12:00:00Z"
    # alpha: linked from A and B (newest day 2025-01-08); beta: from B only; aardvark: an older paper
    assert signals.repos_to_refresh(store, 10, now=now) == [("org/alpha", [A, B]), ("org/beta", [B]),
                                                            ("org/aardvark", [C])]
    signals.save_repo_state(store, "org/alpha", status="ok", http_status=200, stars=3, papers=[A, B],
                            at="2025-01-10T06:00:00Z")
    # alpha was checked six hours ago: beta, never checked, goes first
    assert signals.repos_to_refresh(store, 10, now=now) == [("org/beta", [B]), ("org/aardvark", [C]),
                                                            ("org/alpha", [A, B])]
    assert signals.repos_to_refresh(store, 1, now=now) == [("org/beta", [B])]
    signals.save_repo_state(store, "org/beta", status="missing", http_status=404, at="2025-01-10T07:00:00Z")
    assert signals.repos_to_refresh(store, 10, now="2025-01-12T00:00:00Z") == [("org/aardvark", [C]),
                                                                              ("org/alpha", [A, B])]
    assert signals.repos_to_refresh(store, 10, since_day="2025-01-09", now=now) == []


def test_a_poll_records_stars_per_paper_and_keeps_what_a_304_does_not_say(store, papers):
    signals.save_repo_state(store, "org/alpha", status="ok", http_status=200, etag='"e1"', stars=3,
                            full_name="Org/Alpha", papers=[A, B], at=T1)
    signals.save_repo_state(store, "org/alpha", status="ok", http_status=304, stars=3, papers=[A], at=T2)
    state = signals.get_repo_state(store, "org/alpha")
    assert (state["etag"], state["full_name"], state["stars"], state["http_status"]) == ('"e1"', "Org/Alpha", 3, 304)
    assert (state["checked_at"], state["changed_at"]) == (T2, T1)  # same count: not a change
    signals.save_repo_state(store, "org/alpha", status="ok", http_status=200, stars=8, papers=[A], at=T3)
    assert signals.get_repo_state(store, "org/alpha")["changed_at"] == T3
    assert [tuple(r) for r in store.query("SELECT paper_id, value, observed_at FROM signals "
                                          "WHERE kind='github_stars' ORDER BY id")] == [
        (A, 3.0, T1), (B, 3.0, T1), (A, 3.0, T2), (A, 8.0, T3)]
    assert signals.get_repo_state(store, "org/unknown") is None


def _credits(store) -> list[tuple]:
    return [tuple(r) for r in store.query("SELECT paper_id, kind, ref, t0, t1, amount FROM trend_credits "
                                          "ORDER BY paper_id, kind, ref, t1, t0")]


def test_credits_rebuilt_from_observations_match_those_written_in_time_order(store, papers):
    """Observations written out of time order are credited against the wrong predecessor until
    rebuild_credits replays them oldest first (on either engine); the replay can run again at
    once on the same connection (its temporary table is gone with it) and changes nothing."""
    in_order = [(A, "github_stars", "org/alpha", 10, T0), (A, "github_stars", "org/alpha", 25, T1),
                (A, "github_stars", "org/alpha", 40, T3), (B, "hf_upvotes", "", 3, T1), (B, "hf_upvotes", "", 9, T2)]
    signals.add_signals(store, in_order)
    expected = _credits(store)
    assert expected and signals.rebuild_credits(store) == len(expected)
    assert _credits(store) == expected
    with store.transaction() as conn:  # the same observations, newest first
        conn.execute("DELETE FROM signals")
        conn.execute("DELETE FROM trend_credits")
    signals.add_signals(store, list(reversed(in_order)))
    assert _credits(store) != expected
    signals.rebuild_credits(store)
    assert _credits(store) == expected
    assert signals.rebuild_credits(store) == len(expected) and _credits(store) == expected
