"""paperwire.store.listings: a day's list (listed, featured on Hugging Face or submitted), its
sort orders and counts, cards, neighbouring days, author and category lists."""

from __future__ import annotations

import pytest

from paperwire.models import HFEntry, Paper
from paperwire.store import listings, users
from paperwire.store.papers import upsert_papers

DAY = "2025-01-06"
QUIET, LISTED, FEATURED, VOTED, HIDDEN, SUBMITTED, NEXT_DAY = (
    "2501.00101", "2501.00102", "2501.00103", "2501.00104", "2501.00105", "2501.00106", "2501.00107")


@pytest.fixture
def day_store(store, put, user_factory):
    """Papers around 2025-01-06, each on that day's list for a different reason (or not on it)."""
    put(QUIET, listed=DAY, abstract="Code: https://github.com/quiet/repo")
    put(LISTED, listed="2025-01-05")  # the day before: not on DAY's list
    featured = Paper(id=FEATURED, title="Featured", listed="2025-01-05")
    upsert_papers(store, [HFEntry(featured, DAY, 5, "alice", "https://github.com/hf/tool", 12)], "hf")
    put(VOTED, listed=DAY)
    put(HIDDEN, listed=DAY)
    users.set_paper_hidden(store, HIDDEN)
    put(SUBMITTED, version_dates=("2024-12-30T00:00:00Z",))  # an older paper a user put on DAY's list
    put(NEXT_DAY, listed="2025-01-07")
    ann, bob = user_factory("ann"), user_factory("bob")
    users.set_upvote(store, ann.id, VOTED, on=True)
    users.set_upvote(store, bob.id, VOTED, on=True)
    users.submit_paper(store, bob.id, SUBMITTED, day=DAY)
    return store


def test_a_day_lists_papers_listed_featured_or_submitted_that_day(day_store):
    ids, total = listings.list_ids(day_store, DAY, DAY)
    # by upvotes (5 from Hugging Face, 2 local), then newest id first
    assert ids == [FEATURED, VOTED, SUBMITTED, QUIET]
    assert total == 4


def test_a_day_sorted_by_publication_falls_back_to_the_listing_day(day_store):
    ids, _ = listings.list_ids(day_store, DAY, DAY, sort="published")
    # VOTED and QUIET stand in with their listing day DAY, FEATURED with 2025-01-05
    assert ids == [VOTED, QUIET, FEATURED, SUBMITTED]


def test_a_week_pages_through_its_lists_and_counts_them_all(day_store):
    start, end = listings.week_range("2025-W02")
    assert (start, end) == ("2025-01-06", "2025-01-12")
    assert listings.list_ids(day_store, start, end, limit=2) == ([FEATURED, VOTED], 5)
    assert listings.list_ids(day_store, start, end, limit=2, offset=4) == ([QUIET], 5)
    assert listings.list_ids(day_store, start, end, limit=2, offset=10) == ([], 5)
    assert listings.list_ids(day_store, "2030-01-01", "2030-01-07") == ([], 0)


def test_a_submitter_filter_keeps_site_and_hugging_face_submissions(day_store):
    assert listings.list_ids(day_store, DAY, DAY, submitter="bob") == ([SUBMITTED], 1)
    assert listings.list_ids(day_store, DAY, DAY, submitter="alice") == ([FEATURED], 1)
    assert listings.list_ids(day_store, DAY, DAY, submitter="nobody") == ([], 0)


def test_latest_and_neighbour_days(day_store):
    assert listings.latest_day(day_store) == "2025-01-07"
    assert listings.neighbour_days(day_store, DAY) == ("2025-01-05", "2025-01-07")
    assert listings.neighbour_days(day_store, "2025-01-07") == (DAY, None)


def test_latest_day_of_an_empty_store_is_none(store):
    assert listings.latest_day(store) is None


def test_cards_carry_counts_submitters_and_code_in_the_order_asked(day_store):
    cards = listings.cards(day_store, [VOTED, HIDDEN, FEATURED, "9999.99999", QUIET, SUBMITTED])
    assert [c.id for c in cards] == [VOTED, FEATURED, QUIET, SUBMITTED]
    voted, featured, quiet, submitted = cards
    assert (voted.upvotes, voted.local_upvotes, voted.code_url) == (2, 2, None)
    assert (featured.upvotes, featured.submitter, featured.submitted_on) == (5, "alice", DAY)
    assert (featured.code_url, featured.github_stars) == ("https://github.com/hf/tool", 12)
    assert (quiet.code_url, quiet.submitted_on, quiet.submitter) == ("https://github.com/quiet/repo", DAY, None)
    assert (submitted.submitter, submitted.submitted_on) == ("bob", DAY)


def test_hf_extra_is_the_hugging_face_row(day_store):
    assert listings.hf_extra(day_store, FEATURED) == {
        "featured_on": DAY, "upvotes": 5, "submitted_by": "alice", "github_repo": "https://github.com/hf/tool",
        "github_stars": 12, "project_page": None}
    assert listings.hf_extra(day_store, QUIET) is None


def test_author_lists_ignore_case_and_hidden_papers(store, put):
    put("2501.00201", authors=["Ada Lovelace"], listed="2025-01-02")
    put("2501.00202", authors=["ada lovelace", "C. Babbage"], listed="2025-01-03")
    put("2501.00203", authors=["Ada Lovelace"], listed="2025-01-04")
    users.set_paper_hidden(store, "2501.00203")
    assert listings.author_ids(store, "ADA LOVELACE") == (["2501.00202", "2501.00201"], 2)
    assert listings.author_ids(store, "Ada Lovelace", limit=1, offset=1) == (["2501.00201"], 2)
    assert listings.author_ids(store, "Nobody") == ([], 0)


def test_category_lists_new_ids_newest_first_then_old_ids_by_date(store, put):
    put("2501.00301", categories=["hep-th"])
    put("2502.00001", categories=["hep-th", "gr-qc"])
    put("hep-th/9901001", categories=["hep-th"], published="1999-01-04T00:00:00Z")
    put("hep-th/9805002", categories=["hep-th"], published="1998-05-06T00:00:00Z")
    everything = ["2502.00001", "2501.00301", "hep-th/9901001", "hep-th/9805002"]
    assert listings.category_ids(store, "hep-th") == (everything, 4)
    assert listings.category_ids(store, "hep-th", limit=2, offset=1) == (everything[1:3], 4)
    assert listings.category_ids(store, "hep-th", limit=2, offset=3) == (everything[3:], 4)
    assert listings.category_ids(store, "gr-qc") == (["2502.00001"], 1)
    assert listings.known_category(store, "gr-qc") and not listings.known_category(store, "cs.XX")


@pytest.mark.parametrize("week, expected", [
    ("2026-W01", ("2025-12-29", "2026-01-04")),  # ISO week 1 starts in the previous year
    ("2026-W53", ("2026-12-28", "2027-01-03")),  # 2026 has 53 ISO weeks
])
def test_week_range(week, expected):
    assert listings.week_range(week) == expected


@pytest.mark.parametrize("month, expected", [
    ("2024-02", ("2024-02-01", "2024-02-29")),
    ("2025-02", ("2025-02-01", "2025-02-28")),
    ("2025-12", ("2025-12-01", "2025-12-31")),
])
def test_month_range(month, expected):
    assert listings.month_range(month) == expected


@pytest.mark.parametrize("bad", ["2025-W54", "2025-w01", "junk"])
def test_a_malformed_week_is_a_value_error(bad):
    with pytest.raises(ValueError):
        listings.week_range(bad)


@pytest.mark.parametrize("bad", ["2025-13", "2025", "2025-1-1"])
def test_a_malformed_month_is_a_value_error(bad):
    with pytest.raises(ValueError):
        listings.month_range(bad)


# --- "All new": ranked on write (listing_rank, migration 0090) -----------------------------------

NEW_DAY = "2025-02-03"


def _evidence_day(store, put, user_factory):
    """A listing day whose papers each show one kind of evidence (or none)."""
    put("2502.00001", listed=NEW_DAY)  # nothing
    put("2502.00002", listed=NEW_DAY, abstract="Code: https://github.com/a/b")  # code: 3
    put("2502.00003", listed=NEW_DAY, comments="Accepted at ICML 2025")  # venue (any case): 2
    put("2502.00004", listed=NEW_DAY, journal_ref="Phys. Rev. D 1 (2025)")  # venue: 2
    hf = Paper(id="2502.00005", title="Starred", listed=NEW_DAY)
    upsert_papers(store, [HFEntry(hf, None, None, github_repo="https://github.com/s/t", github_stars=150,
                                  project_page="https://example.org/p")], "hf")  # code 3 + stars 2 + project 2
    put("2502.00006", listed=NEW_DAY)
    users.set_upvote(store, user_factory("cy").id, "2502.00006", on=True)  # one upvote beats any evidence
    put("2502.00007", listed="2025-02-04", abstract="https://github.com/next/day")  # another day


def test_all_new_ranks_by_upvotes_then_evidence_then_newest_id(store, put, user_factory):
    _evidence_day(store, put, user_factory)
    ids, total = listings.new_ids(store, NEW_DAY, NEW_DAY)
    assert ids == ["2502.00006", "2502.00005", "2502.00002", "2502.00004", "2502.00003", "2502.00001"]
    assert total == 6
    assert listings.new_ids(store, NEW_DAY, NEW_DAY, limit=2, offset=1) == (["2502.00005", "2502.00002"], 6)
    assert listings.new_ids(store, NEW_DAY, NEW_DAY, limit=2, offset=6) == ([], 6)
    assert listings.new_ids(store, NEW_DAY, NEW_DAY, limit=0) == ([], 6)
    assert listings.new_ids(store, NEW_DAY, "2025-02-04", limit=3)[1] == 7
    assert listings.listing_rank_drift(store) == []


def test_the_ranks_follow_every_write_that_changes_them(store, put, user_factory):
    """Votes, moderation, a record's new links or venue, a Hugging Face re-harvest: each moves the
    paper on the "All new" list at once, and the stored ranks stay equal to the source tables."""
    _evidence_day(store, put, user_factory)
    voter = user_factory("dee")
    users.set_upvote(store, voter.id, "2502.00001", on=True)
    users.set_upvote(store, voter.id, "2502.00006", on=True)
    assert listings.new_ids(store, NEW_DAY, NEW_DAY, limit=2)[0] == ["2502.00006", "2502.00001"]
    users.set_upvote(store, voter.id, "2502.00006", on=False)
    users.set_upvote(store, user_factory("cy2").id, "2502.00001", on=True)
    assert listings.new_ids(store, NEW_DAY, NEW_DAY, limit=2)[0] == ["2502.00001", "2502.00006"]
    users.set_paper_hidden(store, "2502.00001")
    assert listings.new_ids(store, NEW_DAY, NEW_DAY, limit=1) == (["2502.00006"], 5)
    users.set_paper_hidden(store, "2502.00001", hidden=False)
    # a new version of a record: its code link goes, a venue comes
    put("2502.00002", listed=NEW_DAY, abstract="No code any more.", comments="To appear in NeurIPS")
    # Hugging Face sees the starred paper again with upvotes
    upsert_papers(store, [HFEntry(Paper(id="2502.00005", title="Starred", listed=NEW_DAY), None, 4,
                                  github_repo="https://github.com/s/t", github_stars=1500)], "hf")
    ids = listings.new_ids(store, NEW_DAY, NEW_DAY)[0]
    assert ids[:2] == ["2502.00005", "2502.00001"]
    assert ids.index("2502.00002") > ids.index("2502.00004")  # venue 2 ties with 00004: older id after
    assert listings.listing_rank_drift(store) == []


def test_the_curated_list_reads_its_ties_from_the_stored_ranks(day_store):
    """Daily papers: upvotes, then code, then the newest; hidden papers left out."""
    assert listings.curated_ids(day_store, DAY, DAY) == ([FEATURED, SUBMITTED], 2)
    assert listings.curated_ids(day_store, DAY, DAY, limit=1, offset=1) == ([SUBMITTED], 2)
    assert listings.curated_ids(day_store, DAY, DAY, limit=1, offset=5) == ([], 2)
    users.set_paper_hidden(day_store, FEATURED)
    assert listings.curated_ids(day_store, DAY, DAY) == ([SUBMITTED], 1)
    assert listings.listing_rank_drift(day_store) == []


def test_drift_names_the_papers_whose_stored_rank_is_wrong(store, put, user_factory):
    _evidence_day(store, put, user_factory)
    with store.transaction() as conn:
        conn.execute("UPDATE listing_rank SET evidence = 9 WHERE paper_id = ?", ("2502.00003",))
        conn.execute("DELETE FROM listing_rank WHERE paper_id = ?", ("2502.00004",))
    assert listings.listing_rank_drift(store) == ["2502.00003", "2502.00004"]


def test_a_deleted_paper_takes_its_rank_with_it(store, put, user_factory):
    _evidence_day(store, put, user_factory)
    with store.transaction() as conn:  # links, counts and hf_daily rows go by cascade, firing their triggers
        conn.execute("DELETE FROM papers WHERE id IN (?, ?)", ("2502.00005", "2502.00006"))
    assert listings.new_ids(store, NEW_DAY, NEW_DAY)[1] == 4
    assert listings.listing_rank_drift(store) == []
