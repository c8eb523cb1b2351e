"""paperwire.store.users: accounts, passwords, upvotes, submissions, comments, moderation and API tokens."""

from __future__ import annotations

import pytest

from paperwire.store import users
from paperwire.store.users import AccountError

PAPER = "2501.00401"


# -- accounts ------------------------------------------------------------------------------------

def test_an_account_is_created_once_per_email_and_per_name(store):
    ann = users.create_user(store, "  ann@example.org ", "ann", password_hash="h")
    assert (ann.email, ann.username, ann.is_admin, ann.session_epoch) == ("ann@example.org", "ann", False, 0)
    assert users.get_user_by_email(store, "ann@example.org") == ann == users.get_user_by_name(store, "ann")
    with pytest.raises(AccountError, match="e-mail"):
        users.create_user(store, "ann@example.org", "ann2", password_hash="h")
    with pytest.raises(AccountError, match="taken"):
        users.create_user(store, "other@example.org", "ann", password_hash="h")
    admin = users.create_user(store, "root@example.org", "root", password_hash="h", is_admin=True)
    assert admin.is_admin and admin.id != ann.id
    assert store.query_one("SELECT count(*) FROM users")[0] == 2


@pytest.mark.parametrize("email, name, password, complaint", [
    ("not-an-email", "ann", "long enough", "e-mail"),
    ("ann@example.org", "a", "long enough", "User names"),
    ("ann@example.org", "-ann", "long enough", "User names"),
    ("ann@example.org", "ann", "short", "at least 8"),
    ("ann@example.org", "ann", "x" * 1025, "too long"),
])
def test_bad_account_details_are_refused_with_a_message(store, email, name, password, complaint):
    with pytest.raises(AccountError, match=complaint):
        users.create_user(store, email, name, password)
    assert store.query_one("SELECT count(*) FROM users")[0] == 0


def test_passwords_are_hashed_and_checked(store):
    ann = users.create_user(store, "ann@example.org", "ann", "correct horse")
    assert ann.password_hash.startswith("$argon2") and "correct horse" not in ann.password_hash
    assert users.authenticate(store, "ann@example.org", "correct horse") == ann
    assert users.authenticate(store, "ann@example.org", "wrong horse") is None
    assert users.authenticate(store, "nobody@example.org", "correct horse") is None


def test_a_new_password_replaces_the_old_one_and_ends_sessions(store):
    ann = users.create_user(store, "ann@example.org", "ann", "first password")
    changed = users.set_password(store, ann.id, "second password")
    assert changed.session_epoch == ann.session_epoch + 1
    assert users.authenticate(store, "ann@example.org", "first password") is None
    assert users.authenticate(store, "ann@example.org", "second password").id == ann.id
    with pytest.raises(AccountError):
        users.set_password(store, ann.id, "short")
    users.bump_session_epoch(store, ann.id)
    assert users.get_user(store, ann.id).session_epoch == ann.session_epoch + 2


def test_admin_flag_and_user_names(store, user_factory):
    ann, bob = user_factory("ann"), user_factory("bob")
    users.set_admin(store, bob.id)
    assert users.get_user(store, bob.id).is_admin and not users.get_user(store, ann.id).is_admin
    users.set_admin(store, bob.id, False)
    assert not users.get_user(store, bob.id).is_admin
    assert users.usernames(store, [ann.id, str(bob.id), ann.id]) == {ann.id: "ann", bob.id: "bob"}
    assert users.usernames(store, []) == {}
    assert users.get_user(store, 999) is None


# -- upvotes -------------------------------------------------------------------------------------

def test_one_upvote_per_user_and_paper_with_a_counter_that_agrees(store, put, user_factory):
    put(PAPER)
    ann, bob = user_factory("ann"), user_factory("bob")
    assert users.set_upvote(store, ann.id, PAPER) == (True, 1)  # toggle on
    assert users.set_upvote(store, ann.id, PAPER, on=True) == (True, 1)  # again: still one
    assert users.set_upvote(store, bob.id, PAPER, on=True) == (True, 2)
    assert users.set_upvote(store, ann.id, PAPER) == (False, 1)  # toggle off
    assert users.set_upvote(store, ann.id, PAPER, on=False) == (False, 1)
    assert users.count_upvotes(store, PAPER) == 1
    assert users.upvoted_by(store, bob.id, [PAPER, "2501.99999"]) == {PAPER}
    assert users.upvoted_by(store, ann.id, [PAPER]) == set()
    assert users.user_upvote_ids(store, bob.id) == [PAPER]


def test_unknown_and_hidden_papers_cannot_be_upvoted(store, put, user_factory):
    put(PAPER)
    ann = user_factory("ann")
    with pytest.raises(KeyError):
        users.set_upvote(store, ann.id, "2501.99999")
    assert users.set_paper_hidden(store, PAPER)
    assert not users.paper_exists(store, PAPER) and users.paper_exists(store, PAPER, include_hidden=True)
    with pytest.raises(KeyError):
        users.set_upvote(store, ann.id, PAPER)
    assert not users.set_paper_hidden(store, "2501.99999")  # nothing to hide


# -- submissions ---------------------------------------------------------------------------------

def test_a_paper_is_submitted_to_one_day_only(store, put, user_factory):
    put(PAPER)
    put("2501.00402")
    ann, bob = user_factory("ann"), user_factory("bob")
    assert users.submit_paper(store, ann.id, PAPER, day="2025-01-06") == "2025-01-06"
    with pytest.raises(AccountError, match="2025-01-06"):
        users.submit_paper(store, bob.id, PAPER, day="2025-01-07")
    assert users.submit_paper(store, bob.id, "2501.00402") == users.today()
    assert users.submissions_for(store, [PAPER, "2501.00402", "2501.99999"]) == {
        PAPER: ("ann", "2025-01-06"), "2501.00402": ("bob", users.today())}
    assert users.user_submission_ids(store, ann.id) == [PAPER]
    with pytest.raises(KeyError):
        users.submit_paper(store, ann.id, "2501.99999")


def test_the_daily_submission_limit_holds(store, put, user_factory):
    ann = user_factory("ann")
    for n in range(3):
        put(f"2501.0041{n}")
    users.submit_paper(store, ann.id, "2501.00410", daily_limit=2)
    users.submit_paper(store, ann.id, "2501.00411", daily_limit=2)
    with pytest.raises(AccountError, match="2 papers a day"):
        users.submit_paper(store, ann.id, "2501.00412", daily_limit=2)
    assert store.query_one("SELECT count(*) FROM submissions")[0] == 2


# -- comments ------------------------------------------------------------------------------------

def test_comments_are_trimmed_listed_in_order_and_hidden_by_moderators(store, put, user_factory):
    put(PAPER)
    ann, bob = user_factory("ann"), user_factory("bob")
    first = users.add_comment(store, ann.id, PAPER, "  first line\r\nsecond line  ")
    second = users.add_comment(store, bob.id, PAPER, "a reply")
    assert [(c.username, c.body) for c in users.list_comments(store, PAPER)] == [
        ("ann", "first line\nsecond line"), ("bob", "a reply")]
    assert store.query_one("SELECT comments FROM paper_counts WHERE paper_id=?", (PAPER,))[0] == 2
    assert users.set_comment_hidden(store, first)
    assert [c.id for c in users.list_comments(store, PAPER)] == [second]
    assert [c.id for c in users.list_comments(store, PAPER, include_hidden=True)] == [first, second]
    assert users.get_comment(store, first).hidden
    assert store.query_one("SELECT comments FROM paper_counts WHERE paper_id=?", (PAPER,))[0] == 1
    assert users.get_comment(store, 999) is None


@pytest.mark.parametrize("body, complaint", [("   ", "empty"), ("x" * 5001, "5000")])
def test_empty_and_overlong_comments_are_refused(store, put, user_factory, body, complaint):
    put(PAPER)
    with pytest.raises(AccountError, match=complaint):
        users.add_comment(store, user_factory("ann").id, PAPER, body)
    assert users.list_comments(store, PAPER, include_hidden=True) == []


# -- API tokens ----------------------------------------------------------------------------------

def test_api_tokens_are_stored_as_hashes_and_revoked_together(store, user_factory):
    ann, bob = user_factory("ann"), user_factory("bob")
    first, second = users.create_token(store, ann.id, "laptop"), users.create_token(store, ann.id, "server")
    bobs = users.create_token(store, bob.id)
    assert first.startswith("pw_") and first != second
    stored = [r[0] for r in store.query("SELECT token_hash FROM api_tokens")]
    assert len(stored) == 3 and not {first, second, bobs} & set(stored)
    assert users.user_for_token(store, first).id == ann.id
    assert users.user_for_token(store, bobs).id == bob.id
    assert users.revoke_tokens(store, ann.id) == 2
    assert users.user_for_token(store, first) is None and users.user_for_token(store, second) is None
    assert users.user_for_token(store, bobs).id == bob.id


@pytest.mark.parametrize("token", ["", "no-prefix", "pw_" + "x" * 300, "pw_unknown"])
def test_malformed_or_unknown_tokens_find_nobody(store, token):
    assert users.user_for_token(store, token) is None
