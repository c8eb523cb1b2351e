"""paperwire.store.profiles: reader profiles (items, follows, upvotes), private feed tokens and the
lookups a library import and the recommenders make."""

from __future__ import annotations

import pytest

from paperwire.store import profiles, users

ANN = profiles.user_key(1)
A, B, C = "2501.00501", "2501.00502", "2501.00503"


@pytest.fixture
def three(put):
    put(A, "Graph neural networks for molecules", abstract="Message passing.", authors=["Ann"],
        categories=["cs.LG"], listed="2025-01-06", doi="10.1000/ABC")
    put(B, "Neural networks", abstract="A survey.", categories=["cs.NE"], listed="2025-01-07")
    put(C, "Cooking recipes", version_dates=("2025-01-03T09:00:00Z",))
    return A, B, C


def test_the_latest_opinion_wins_between_liking_and_dismissing(store, three):
    assert profiles.add_items(store, ANN, [A, B, A], "like", at="2025-01-01T00:00:00Z") == 2
    assert profiles.add_items(store, ANN, [A], "like") == 0  # already liked
    assert profiles.add_items(store, ANN, [B], "dismiss", at="2025-01-02T00:00:00Z") == 1
    profile = profiles.load_profile(store, ANN)
    assert profile.positives == {A: ("like", "2025-01-01T00:00:00Z")}
    assert profile.negatives == {B: "2025-01-02T00:00:00Z"}
    profiles.add_items(store, ANN, [B], "save", at="2025-01-03T00:00:00Z")
    profile = profiles.load_profile(store, ANN)
    assert profile.negatives == {} and profile.positives[B] == ("save", "2025-01-03T00:00:00Z")


def test_unknown_papers_bad_keys_and_bad_kinds_are_refused(store, three):
    assert profiles.add_items(store, ANN, ["2501.99999"], "like") == 0
    with pytest.raises(ValueError, match="profile key"):
        profiles.add_items(store, "user 1", [A], "like")
    with pytest.raises(ValueError, match="kind"):
        profiles.add_items(store, ANN, [A], "love")
    assert profiles.load_profile(store, ANN).empty


def test_removing_one_kind_or_every_kind(store, three):
    profiles.add_items(store, ANN, [A], "like")
    profiles.add_items(store, ANN, [A], "save")
    assert profiles.remove_item(store, ANN, A, "save") == 1
    assert profiles.load_profile(store, ANN).positives[A][0] == "like"
    assert profiles.remove_item(store, ANN, A) == 1
    assert profiles.load_profile(store, ANN).empty


def test_a_users_upvotes_count_as_positives_unless_dismissed(store, three, user_factory):
    ann = user_factory("ann")
    key = profiles.user_key(ann.id)
    users.set_upvote(store, ann.id, A, on=True)
    users.set_upvote(store, ann.id, B, on=True)
    profiles.add_items(store, key, [B], "dismiss")
    profiles.add_items(store, key, [C], "import")
    profile = profiles.load_profile(store, key)
    assert {pid: kind for pid, (kind, _) in profile.positives.items()} == {A: "upvote", C: "import"}
    assert set(profile.negatives) == {B}
    # a subscriber's profile never reads the accounts' upvotes
    assert profiles.load_profile(store, profiles.subscriber_key(ann.id)).empty


def test_follows_are_kept_once_sorted_and_can_be_dropped(store):
    profiles.follow(store, ANN, "category", "cs.LG")
    profiles.follow(store, ANN, "category", " cs.AI ")
    profiles.follow(store, ANN, "category", "cs.LG")
    profiles.follow(store, ANN, "author", "Ada Lovelace")
    profile = profiles.load_profile(store, ANN)
    assert (profile.categories, profile.authors) == (["cs.AI", "cs.LG"], ["Ada Lovelace"])
    assert not profile.empty
    profiles.unfollow(store, ANN, "category", "cs.AI")
    assert profiles.load_profile(store, ANN).categories == ["cs.LG"]
    with pytest.raises(ValueError):
        profiles.follow(store, ANN, "venue", "NeurIPS")
    with pytest.raises(ValueError):
        profiles.follow(store, ANN, "author", "   ")


def test_profile_keys_lists_profiles_with_content(store, three):
    profiles.add_items(store, "sub:7", [A], "like")
    profiles.follow(store, ANN, "author", "Ann")
    profiles.follow(store, "sub:7", "category", "cs.LG")
    assert profiles.profile_keys(store) == ["sub:7", ANN]


def test_a_new_feed_token_replaces_the_old_one(store):
    assert not profiles.has_feed_token(store, ANN)
    first = profiles.new_feed_token(store, ANN)
    assert profiles.profile_for_feed_token(store, first) == ANN and profiles.has_feed_token(store, ANN)
    second = profiles.new_feed_token(store, ANN)
    assert second != first
    assert profiles.profile_for_feed_token(store, first) is None
    assert profiles.profile_for_feed_token(store, second) == ANN
    assert store.query_one("SELECT count(*) FROM profile_feed_tokens WHERE token_hash IN (?, ?)",
                           (first, second))[0] == 0  # only hashes are stored
    assert profiles.profile_for_feed_token(store, "") is None


def test_library_lookups_by_id_doi_and_title(store, three):
    assert profiles.existing_ids(store, [A, "2501.99999", C]) == {A, C}
    assert profiles.ids_by_doi(store, ["10.1000/abc", "10.1000/none"]) == {"10.1000/abc": A}
    assert [pid for pid, _ in profiles.title_candidates(store, ["graph", "neural", "molecules"])] == [A, B]
    assert profiles.title_candidates(store, ["cooking"]) == [(C, "Cooking recipes")]
    assert profiles.title_candidates(store, ["not-a-word", "!"]) == []


def test_windows_background_and_texts_for_the_recommenders(store, three):
    # C has no listing day: its publication day 2025-01-03 stands in
    assert profiles.window_paper_ids(store, "2025-01-03", "2025-01-06") == [A, C]
    assert profiles.window_paper_ids(store, "2025-01-07") == [B]
    assert profiles.background_ids(store, "2025-01-07", limit=5) == [A, C]
    assert profiles.background_ids(store, "2025-01-07", limit=1) == [A]
    users.set_paper_hidden(store, A)
    assert profiles.window_paper_ids(store, "2025-01-01", "2025-01-31") == [B, C]
    assert profiles.paper_texts(store, [A, "2501.99999"]) == {A: {
        "title": "Graph neural networks for molecules", "text": "Graph neural networks for molecules. Message passing.",
        "categories": ["cs.LG"], "authors": ["Ann"], "day": "2025-01-06"}}


def test_data_version_changes_when_papers_change(store, put):
    empty = profiles.data_version(store)
    assert empty == (0, None)
    put(A)
    assert profiles.data_version(store)[0] == 1
