"""paperwire.store.papers: the merge rule, batched upserts, re-ingest and reads (real SQLite files)."""

from __future__ import annotations

from paperwire.models import HFEntry, Paper, Version
from paperwire.store.papers import (get_paper, get_papers, latest_papers, merge, prepare, record_hash, stats,
                                    stored_ids, upsert_papers)

JAN, FEB, MAR = "2025-01-02T10:00:00Z", "2025-02-03T11:00:00Z", "2025-03-04T12:00:00Z"


def count(store, sql, params=()):
    return store.query_one(sql, params)[0]


# -- merge (a pure function) ---------------------------------------------------------------------

def test_a_new_paper_takes_its_dates_from_its_versions_and_leaves_the_record_alone():
    record = Paper(id="2501.00010", title="A  title\n over two lines",
                   versions=[Version(1, JAN), Version(2, MAR)])
    merged = merge(None, record)
    assert (merged.published, merged.updated, merged.listed) == (JAN, MAR, None)
    assert merged.title_display == "A title over two lines"
    assert merged is not record and merged.versions is not record.versions
    assert record.title_display == "" and record.published is None


def test_a_newer_version_replaces_the_text_and_an_older_one_only_fills_gaps():
    stored = merge(None, Paper(id="2501.00011", title="Second title", abstract="second", doi=None,
                               versions=[Version(1, JAN), Version(2, FEB)]))
    older = Paper(id="2501.00011", title="First title", abstract="first", doi="10.1/first",
                  versions=[Version(1, JAN)])
    filled = merge(stored, older)
    assert (filled.title, filled.abstract, filled.doi) == ("Second title", "second", "10.1/first")
    newer = Paper(id="2501.00011", title="Third title", abstract="third",
                  versions=[Version(1, JAN), Version(2, FEB), Version(3, MAR)])
    replaced = merge(filled, newer)
    assert (replaced.title, replaced.abstract) == ("Third title", "third")
    assert replaced.doi == "10.1/first"  # an empty field of a newer record does not erase a known value
    assert [v.number for v in replaced.versions] == [1, 2, 3]
    assert (replaced.published, replaced.updated) == (JAN, MAR)


def test_a_later_update_date_counts_as_newer_without_version_numbers():
    # OAI-PMH's arXiv format reports only the latest version's date, no numbers
    stored = merge(None, Paper(id="2501.00012", title="Before", versions=[Version(1, JAN), Version(2, FEB)]))
    oai = Paper(id="2501.00012", title="After", updated=MAR)
    merged = merge(stored, oai)
    assert merged.title == "After"
    assert merged.updated == MAR and merged.published == JAN
    stale = Paper(id="2501.00012", title="Stale", updated=JAN)
    assert merge(merged, stale).title == "After"


def test_a_known_version_keeps_its_first_date_and_gains_a_missing_size():
    stored = merge(None, Paper(id="2501.00013", title="T", versions=[Version(1, JAN)]))
    again = Paper(id="2501.00013", title="T", versions=[Version(1, FEB, "120kb")])
    merged = merge(stored, again)
    assert [(v.number, v.created, v.size) for v in merged.versions] == [(1, JAN, "120kb")]


def test_the_earliest_listing_day_and_publication_date_are_kept():
    first = merge(None, Paper(id="2501.00014", title="T", listed="2025-01-06", published=FEB))
    later = merge(first, Paper(id="2501.00014", title="T", listed="2025-01-09", published=JAN))
    assert (later.listed, later.published) == ("2025-01-06", JAN)
    assert merge(later, Paper(id="2501.00014", title="T", listed="2025-01-03")).listed == "2025-01-03"


def test_links_come_from_the_merged_abstract_and_comments():
    merged = merge(None, Paper(id="2501.00015", title="T", abstract="Code: https://github.com/Owner/Repo.git",
                               comments="Project page: https://example.org/proj"))
    assert [(link.url, link.kind) for link in merged.links] == [("https://github.com/Owner/Repo", "github"),
                                                                ("https://example.org/proj", "project")]


# -- upserts -------------------------------------------------------------------------------------

def test_re_ingesting_the_same_records_writes_nothing(store):
    records = [Paper(id=f"2501.0002{i}", title=f"Paper {i}", authors=["A. Author", "B. Author"],
                     categories=["cs.LG", "stat.ML"], versions=[Version(1, JAN)]) for i in range(3)]
    first = upsert_papers(store, records, "snapshot")
    assert (first.stored, first.updated, first.unchanged) == (3, 0, 0)
    tables = ("papers", "versions", "paper_authors", "paper_categories", "paper_sources", "search_docs")
    before = {t: count(store, f"SELECT count(*) FROM {t}") for t in tables}
    changed_at = count(store, "SELECT max(changed_at) FROM papers")
    again = upsert_papers(store, records, "snapshot")
    assert (again.stored, again.updated, again.unchanged) == (0, 0, 3)
    assert {t: count(store, f"SELECT count(*) FROM {t}") for t in tables} == before
    assert before == {"papers": 3, "versions": 3, "paper_authors": 6, "paper_categories": 6, "paper_sources": 3,
                      "search_docs": 3}
    assert count(store, "SELECT max(changed_at) FROM papers") == changed_at


def test_the_same_paper_from_a_second_source_is_unchanged_but_remembered(store):
    paper = Paper(id="2501.00030", title="Shared", versions=[Version(1, JAN)])
    upsert_papers(store, [paper], "listing", source_ref="listing-2025-01-02")
    result = upsert_papers(store, [paper], "oai")
    assert (result.stored, result.updated, result.unchanged) == (0, 0, 1)
    assert set(get_paper(store, "2501.00030").sources) == {"listing", "oai"}
    assert store.query_one("SELECT source_ref FROM paper_sources WHERE paper_id=? AND source='listing'",
                           ("2501.00030",))[0] == "listing-2025-01-02"


def test_records_of_one_paper_in_one_batch_merge_in_order(store):
    v1 = Paper(id="2501.00031", title="One", versions=[Version(1, JAN)])
    v2 = Paper(id="2501.00031", title="Two", versions=[Version(1, JAN), Version(2, FEB)])
    result = upsert_papers(store, [v1, v2, v1], "snapshot")
    assert result.stored == 1
    paper = get_paper(store, "2501.00031")
    assert paper.title == "Two" and [v.number for v in paper.versions] == [1, 2]
    assert (paper.published, paper.updated) == (JAN, FEB)


def test_an_update_rewrites_the_child_rows(store):
    upsert_papers(store, [Paper(id="2501.00032", title="T", authors=["Old Name"], categories=["cs.CL"],
                                abstract="see https://github.com/a/old", versions=[Version(1, JAN)])], "oai")
    upsert_papers(store, [Paper(id="2501.00032", title="T", authors=["New Name", "Second"], categories=["cs.IR"],
                                abstract="see https://github.com/a/new", versions=[Version(1, JAN), Version(2, FEB)])],
                  "oai")
    rows = lambda sql: [tuple(r) for r in store.query(sql, ("2501.00032",))]  # noqa: E731
    assert rows("SELECT name FROM paper_authors WHERE paper_id=? ORDER BY position") == [("New Name",), ("Second",)]
    assert rows("SELECT category FROM paper_categories WHERE paper_id=?") == [("cs.IR",)]
    assert rows("SELECT url FROM links WHERE paper_id=?") == [("https://github.com/a/new",)]
    assert rows("SELECT version FROM versions WHERE paper_id=? ORDER BY version") == [(1,), (2,)]


def test_hugging_face_entries_keep_the_first_feature_day_and_the_highest_upvotes(store):
    paper = Paper(id="2501.00033", title="Featured")
    upsert_papers(store, [HFEntry(paper, "2025-01-05", 10, "alice", "https://github.com/Org/Tool", 7)], "hf")
    upsert_papers(store, [HFEntry(paper, "2025-01-08", 4, None, None, 9)], "hf")
    stored = get_paper(store, "2501.00033")
    assert (stored.hf_featured_on, stored.hf_upvotes) == ("2025-01-05", 10)
    row = store.query_one("SELECT submitted_by, github_repo, github_stars FROM hf_daily WHERE paper_id=?",
                          ("2501.00033",))
    assert tuple(row) == ("alice", "https://github.com/Org/Tool", 9)
    assert [(link.url, link.kind, link.origin) for link in stored.links] == [
        ("https://github.com/Org/Tool", "github", "hf")]


def test_prepared_tuples_store_what_papers_store(tmp_path):
    from paperwire.store import Store

    records = [Paper(id="2501.00040", title="Prepared &amp; plain", abstract="code at github.com/x/y",
                     authors=["Ann"], categories=["cs.AI"], listed="2025-01-06",
                     versions=[Version(1, JAN), Version(2, FEB, "2mb")]),
               Paper(id="2501.00041", title="Second", published=FEB)]
    plain, prepared = Store(tmp_path / "plain.db"), Store(tmp_path / "prepared.db")
    upsert_papers(plain, records, "snapshot")
    upsert_papers(prepared, [prepare(r) for r in records], "snapshot")
    newer = Paper(id="2501.00040", title="Revised", versions=[Version(1, JAN), Version(2, FEB), Version(3, MAR)])
    upsert_papers(plain, [newer], "snapshot")
    upsert_papers(prepared, [prepare(newer, stored=True)], "snapshot")
    ids = [r.id for r in records]
    assert get_papers(plain, ids) == get_papers(prepared, ids)
    assert get_paper(prepared, "2501.00040").title == "Revised"
    assert get_paper(prepared, "2501.00040").title_display == "Revised"


def test_record_hash_changes_with_any_field_and_with_hugging_face_upvotes():
    base = Paper(id="2501.00050", title="T", authors=["A", "B"], versions=[Version(1, JAN)])
    assert record_hash(base) == record_hash(Paper(id="2501.00050", title="T", authors=["A", "B"],
                                                  versions=[Version(1, JAN)]))
    variants = [Paper(id="2501.00050", title="T2", authors=["A", "B"], versions=[Version(1, JAN)]),
                Paper(id="2501.00050", title="T", authors=["A B"], versions=[Version(1, JAN)]),
                Paper(id="2501.00050", title="T", authors=["A", "B"], versions=[Version(1, FEB)])]
    hashes = {record_hash(base)} | {record_hash(v) for v in variants}
    assert len(hashes) == 4
    assert record_hash(HFEntry(base, "2025-01-05", 1)) != record_hash(HFEntry(base, "2025-01-05", 2))


# -- reads ---------------------------------------------------------------------------------------

def test_get_papers_keeps_the_order_asked_and_drops_unknown_ids(store, put):
    put("2501.00060", version_dates=(JAN,))
    put("2501.00061", version_dates=(FEB,))
    got = get_papers(store, ["2501.00061", "9999.99999", "2501.00060", "2501.00061"])
    assert list(got) == ["2501.00061", "2501.00060"]
    assert get_papers(store, ["2501.00060"], with_details=False)["2501.00060"].versions == []
    assert stored_ids(store, ["2501.00060", "9999.99999"]) == {"2501.00060"}


def test_latest_papers_orders_by_listing_day_and_leaves_hidden_ones_out(store, put):
    put("2501.00070", listed="2025-01-10")
    put("2501.00071", version_dates=("2025-01-12T00:00:00Z",))  # no listing day: its publication day counts
    put("2501.00072", listed="2025-01-11")
    store.conn.execute("UPDATE papers SET hidden=1 WHERE id='2501.00072'")
    assert [p.id for p in latest_papers(store)] == ["2501.00071", "2501.00070"]
    assert [p.id for p in latest_papers(store, include_hidden=True)] == ["2501.00071", "2501.00072", "2501.00070"]
    assert [p.id for p in latest_papers(store, limit=1, offset=1)] == ["2501.00070"]


def test_stats_count_what_was_stored(store, put):
    put("2501.00080", categories=["cs.LG"], listed="2025-01-03", abstract="https://github.com/a/b",
        version_dates=(JAN, FEB))
    put("2501.00081", categories=["cs.LG", "cs.AI"], listed="2025-01-05", source="oai")
    put("2501.00082", categories=["math.AG"], listed="2025-01-04", source="oai")
    s = stats(store)
    assert (s["papers"], s["versions"], s["with_code"], s["links"]) == (3, 2, 1, 1)
    assert (s["first_listed"], s["last_listed"]) == ("2025-01-03", "2025-01-05")
    assert s["by_source"] == {"oai": 2, "listing": 1}
    assert s["top_categories"] == {"cs.LG": 2, "math.AG": 1}
