"""The shared state of paperwire.store.shared_state seen from two stores over one database (two
connections, as two processes or hosts have): rate-limit counters, the page-cache version,
the daily job's leader lock and per-day record."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from paperwire.store import open_store, shared_state, users


def test_a_rate_limit_is_one_count_for_every_connection(store):
    other = open_store(store.path)
    t0 = 1_000_020.0  # 20 s into a 60 s window
    for s in (store, other, store):
        assert shared_state.rate_hit(s, "search:ip1", 3, 60, now=t0) == 0
    wait = shared_state.rate_hit(other, "search:ip1", 3, 60, now=t0 + 1)
    assert wait > 0
    # a refused hit is not counted; another bucket is not touched
    assert store.query_one("SELECT sum(n) FROM rate_limits WHERE bucket = 'search:ip1'")[0] == 3
    assert shared_state.rate_hit(other, "search:ip2", 3, 60, now=t0 + 1) == 0
    # sliding: early in the next window the previous window's three hits still nearly fill it ...
    assert shared_state.rate_hit(store, "search:ip1", 3, 60, now=1_000_080.0 + 1) > 0
    # ... and once a third of it has passed, its weighted share (3 x 2/3 = 2) leaves room for one
    assert shared_state.rate_hit(store, "search:ip1", 3, 60, now=1_000_080.0 + 21) == 0
    assert shared_state.rate_hit(store, "search:ip1", 3, 60, now=1_000_080.0 + 22) > 0
    other.close()


def test_the_wait_told_is_when_the_next_hit_is_allowed(store):
    t0 = 2_000_040.0  # 40 s into a 60 s window
    for _ in range(4):
        assert shared_state.rate_hit(store, "signin:u7", 4, 60, now=t0) == 0
    wait = shared_state.rate_hit(store, "signin:u7", 4, 60, now=t0)
    assert shared_state.rate_hit(store, "signin:u7", 4, 60, now=t0 + wait - 1) > 0
    assert shared_state.rate_hit(store, "signin:u7", 4, 60, now=t0 + wait + 0.01) == 0


def test_expired_counters_are_pruned(store):
    shared_state._pruned.clear()
    assert shared_state.rate_hit(store, "old:ip", 5, 10, now=3_000_000.0) == 0
    assert store.query_one("SELECT count(*) FROM rate_limits")[0] == 1
    shared_state._pruned.clear()
    assert shared_state.rate_hit(store, "new:ip", 5, 10, now=3_000_100.0) == 0
    assert [r[0] for r in store.query("SELECT bucket FROM rate_limits")] == ["new:ip"]


def test_the_page_cache_version_moves_with_votes_and_new_papers_not_with_rate_limits(store):
    from paperwire.models import Paper
    from paperwire.store.papers import upsert_papers

    upsert_papers(store, [Paper(id="2607.00001", title="A first paper", abstract="Words.", authors=["A. Author"],
                               categories=["cs.CL"])], "test")
    other = open_store(store.path)
    before = shared_state.data_version(store)
    shared_state.rate_hit(other, "search:ip9", 5, 60)
    assert shared_state.data_version(store) == before
    voter = users.create_user(other, "v@example.org", "voter", password_hash="x")
    assert shared_state.data_version(store) == before  # a new account changes no cached page
    users.set_upvote(other, voter.id, "2607.00001", True)
    after_vote = shared_state.data_version(store)
    assert after_vote != before
    upsert_papers(other, [Paper(id="2607.00002", title="A second paper", abstract="More words.",
                                authors=["B. Author"], categories=["cs.CL"])], "test")
    assert shared_state.data_version(store) != after_vote
    other.close()


def test_one_leader_at_a_time_and_a_dead_leaders_lease_is_taken_over(store):
    other = open_store(store.path)
    with shared_state.leader(store, "daily", "h:1:1:a") as first:
        assert first
        with shared_state.leader(other, "daily", shared_state.new_holder()) as second:
            assert not second
    with shared_state.leader(other, "daily", shared_state.new_holder()) as after_release:
        assert after_release
    if store.dialect == "sqlite":
        # a lease left behind by a process that was killed (no release) is taken over at once
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        gone = f"{socket.gethostname()}:{dead.pid}:1:x"
        store.conn.execute("INSERT INTO job_leases(name, holder, acquired_at, expires_at) "
                           "VALUES ('daily', ?, '2026-01-01T00:00:00Z', '2999-01-01T00:00:00Z')", (gone,))
        with shared_state.leader(other, "daily", shared_state.new_holder()) as lead:
            assert lead
    other.close()


def test_a_day_runs_once_unless_asked_again_and_a_failed_day_runs_again(store):
    me = shared_state.new_holder()
    assert shared_state.start_run(store, "daily", "2026-07-01", me) == "started"
    shared_state.finish_run(store, "daily", "2026-07-01", me, False, {"error": "boom"})
    assert shared_state.start_run(store, "daily", "2026-07-01", me) == "started"
    shared_state.finish_run(store, "daily", "2026-07-01", me, True, {"daily": "ok"})
    assert shared_state.start_run(store, "daily", "2026-07-01", shared_state.new_holder()) == "done"
    assert shared_state.start_run(store, "daily", "2026-07-02", me) == "started"
    assert shared_state.start_run(store, "daily", "2026-07-01", me, again=True) == "started"
    assert [r["status"] for r in shared_state.runs(store, "daily")] == ["running", "running"]


@pytest.mark.sqlite_only("SQLite's single write lock; PostgreSQL writers of other rows do not wait for it")
def test_a_hit_is_let_through_uncounted_while_sqlite_is_locked_by_a_long_write(store):
    importer = open_store(store.path)
    with importer.transaction():  # a long write (an import's batch) holds the write lock
        t = time.monotonic()
        assert shared_state.rate_hit(store, "search:ip3", 1, 60, now=4_000_000.0) == 0
        assert time.monotonic() - t < 5
    assert store.query_one("SELECT count(*) FROM rate_limits WHERE bucket = 'search:ip3'")[0] == 0
    # once the lock is free the hits count again: the second one is refused
    assert shared_state.rate_hit(store, "search:ip3", 1, 60, now=4_000_000.0) == 0
    assert shared_state.rate_hit(store, "search:ip3", 1, 60, now=4_000_001.0) > 0
    importer.close()


def test_a_message_held_by_a_sender_on_another_host_is_taken_over_only_after_its_lease(store):
    """A sender on another host cannot be seen to die: its lease running out is what frees its
    message (digest_lease_seconds); one held by a live sender is never claimed twice."""
    from paperwire.store import subscriptions as subs

    with store.transaction() as conn:
        msg = subs.add_message(conn, subscriber_id=None, period="notice:1", kind="notice", to_addr="a@example.org",
                               subject="s", text_body="t", html_body=None, headers={}, message_id="<m1@test>")
    from datetime import datetime, timedelta, timezone

    start = datetime.now(timezone.utc) + timedelta(seconds=1)

    def at(seconds: float) -> str:
        return subs.outbox_time(start + timedelta(seconds=seconds))

    first = shared_state.new_holder()
    assert shared_state.claim_message(store, first, at(0), at(300)) == msg
    assert shared_state.claim_message(store, "me", at(60), at(360)) is None
    store.conn.execute("UPDATE outbox SET claimed_by = 'elsewhere.example:4242:1:x' WHERE id = ?", (msg,))
    assert shared_state.orphaned_messages(store) == []  # another host's sender counts as alive
    assert shared_state.claim_message(store, "me", at(299), at(600)) is None
    assert shared_state.claim_message(store, "me", at(300), at(600)) == msg
    row = subs.get_message(store, msg)
    assert (row.status, row.claimed_by, row.attempts) == ("sending", "me", 2)
    # the first sender finishing late still records the send, and says it had lost the message
    assert shared_state.mark_sent(store, msg, first, at(301)) is False
    assert subs.get_message(store, msg).status == "sent"
