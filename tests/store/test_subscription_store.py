"""paperwire.store.subscriptions on the engine of the pass: subscribers' life cycle and the outbox's
writes (a second message for one period is a no-op, a claim is taken by one run only)."""

from __future__ import annotations

from paperwire.store import subscriptions as subs


def new_pending(store, email="Reader@Example.org", nonce="n1", **prefs):
    with store.transaction() as conn:
        return subs.upsert_pending(store, email, {"categories": ["cs.CL"], **prefs}, nonce, conn)


def queue(store, sub, period="daily:2026-07-01", message_id="<m1@x>", **kw):
    with store.transaction() as conn:
        return subs.add_message(conn, subscriber_id=sub.id if sub else None, period=period, kind=kw.pop("kind", "digest"),
                                to_addr=sub.email if sub else "x@example.org", subject="s", text_body="t",
                                html_body=None, headers={"List-Unsubscribe": "<u>"}, message_id=message_id, **kw)


def test_a_subscriber_is_confirmed_once_with_the_current_nonce_and_found_without_case(store):
    sub = new_pending(store)
    assert (sub.status, sub.categories, sub.confirm_nonce) == ("pending", ["cs.CL"], "n1")
    again = new_pending(store, "reader@example.org", nonce="n2", frequency="weekly")
    assert again.id == sub.id and again.confirm_nonce == "n2" and again.frequency == "weekly"
    assert not subs.confirm(store, sub.id, "n1")  # the older link stopped working
    assert subs.confirm(store, sub.id, "n2")
    assert not subs.confirm(store, sub.id, "n2")  # used up
    active = subs.get_by_email(store, "READER@example.org")
    assert active.status == "active" and active.confirm_nonce is None and active.confirmed_at
    assert new_pending(store, nonce="n3").status == "active"  # an active subscriber stays as it is
    assert [s.id for s in subs.list_subscribers(store, status="active", frequency="weekly")] == [sub.id]


def test_preferences_links_and_status_changes(store):
    sub = new_pending(store)
    subs.update_preferences(store, sub.id, {"size": 5, "authors": ["Ann Lee"], "not_a_field": 1})
    subs.rotate_links(store, sub.id)
    got = subs.get_subscriber(store, sub.id)
    assert (got.size, got.authors, got.link_epoch) == (5, ["Ann Lee"], 1)
    subs.confirm(store, sub.id, "n1")
    msg = queue(store, got)
    subs.set_status(store, sub.id, "unsubscribed")
    assert subs.get_subscriber(store, sub.id).status == "unsubscribed"
    assert subs.get_message(store, msg).status == "cancelled"  # leaving cancels unsent digests
    subs.set_status(store, sub.id, "active")
    assert subs.subscriber_status(store, sub.id) == "active"
    assert subs.counts(store)["subscribers"]["active"] == 1


def test_unconfirmed_addresses_expire(store):
    sub = new_pending(store)
    assert subs.expire_pending(store, "2000-01-01T00:00:00Z") == 0
    assert subs.expire_pending(store, "9999-01-01T00:00:00Z") == 1
    assert subs.get_subscriber(store, sub.id) is None


def test_one_message_per_subscriber_and_period_and_the_new_since_mark(store):
    sub = new_pending(store)
    first = queue(store, sub, last_until="2026-07-01")
    assert isinstance(first, int)
    assert queue(store, sub, message_id="<m2@x>", last_until="2026-07-02") is None  # built twice: a no-op
    assert subs.get_subscriber(store, sub.id).last_until == "2026-07-01"
    with store.transaction() as conn:
        subs.mark_period_done(conn, sub.id, "2026-06-01")  # never moves backwards
        assert subs.recent_messages(conn, sub.id, ("digest",), "2000-01-01") == 1
    assert subs.get_subscriber(store, sub.id).last_until == "2026-07-01"
    row = subs.get_message(store, first)
    assert (row.period, row.headers, row.status, row.attempts) == ("daily:2026-07-01", {"List-Unsubscribe": "<u>"},
                                                                    "pending", 0)
    assert [r.id for r in subs.outbox_rows(store, period="daily:2026-07-01")] == [first]


def test_a_message_is_claimed_by_one_run_then_sent_retried_or_bounced(store):
    sub = new_pending(store)
    subs.confirm(store, sub.id, "n1")
    msg = queue(store, sub)
    row = subs.get_message(store, msg)
    assert [r.id for r in subs.due_messages(store, "9999-01-01")] == [msg]
    assert subs.next_due(store) == row.next_attempt_at
    assert subs.claim(store, row, "host:1", "9999-01-01T00:00:00.000000Z")
    assert not subs.claim(store, row, "host:2", "9999-01-01T00:00:00.000000Z")  # read the same row: loses
    assert subs.get_message(store, msg).claimed_by == "host:1"
    subs.mark_retry(store, msg, "2026-07-01T00:00:00.000000Z", "421 try later")
    retried = subs.get_message(store, msg)
    assert (retried.status, retried.attempts, retried.last_error) == ("pending", 1, "421 try later")
    subs.mark_sent(store, msg)
    assert subs.get_message(store, msg).status == "sent"
    other = queue(store, sub, period="daily:2026-07-02", message_id="<m3@x>")
    subs.bounce(store, other, sub.id, "550 no such user")
    assert subs.get_message(store, other).status == "failed"
    assert subs.get_subscriber(store, sub.id).status == "bounced"
    subs.mark_failed(store, msg, "gave up")
    assert subs.get_message(store, msg).status == "failed"
