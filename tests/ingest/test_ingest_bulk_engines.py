"""Bulk imports on the engine under test (the PostgreSQL pass runs every test here there: COPY,
the triggers that stand aside in a bulk transaction, the catch-up on two connections): the same
rows as an ordinary import, listing_rank equal to the keys computed from the source tables,
updates inside a bulk import logged for the app hosts, an interrupted catch-up and a killed
`paperwire ingest --bulk` that resume."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import pg_engine
from repo_paths import DATA, DEMO
from paperwire.ingest import import_file
from paperwire.store import bulk, listings, open_store
from paperwire.store.bulk import catch_up, deferred_batch, derived_pending
from paperwire.store.papers import prepare, upsert_papers
from paperwire.ingest.formats import parser_for

PG = pg_engine.postgres()


@pytest.fixture
def new_store(tmp_path):
    """Fresh, migrated stores of the engine under test (a file each, or a database each)."""
    made = []

    def make(name: str):
        target = pg_engine.fresh_db() if PG else str(tmp_path / f"{name}.db")
        s = open_store(target)
        made.append((s, target))
        return s

    yield make
    for s, target in made:
        s.close()
        if PG:
            pg_engine.drop_db(target)


def snapshot_file(tmp_path, n: int, name: str = "snapshot.jsonl", changed: bool = False):
    """The demo listing records as snapshot lines (fresh ids, versions). ``changed``: the same
    papers reported again with a newer version, other titles, and evidence of interest that
    moves them on the "All new" list (a venue, a code repository, a project page)."""
    out = tmp_path / name
    with gzip.open(DEMO / "records.jsonl.gz", "rt", encoding="utf-8") as fh, open(out, "w") as w:
        for i, line in zip(range(n), fh):
            r = json.loads(line)
            nver = 1 + i % 3 + (1 if changed else 0)
            versions = [{"version": f"v{v}", "created": f"Mon, {v} Jan 2024 10:0{v}:00 GMT"} for v in range(1, nver + 1)]
            abstract, comments, title = r.get("summary") or "", r.get("comment"), r["title"]
            if changed and i % 2 == 0:
                title = "Revised: " + title
                comments = ["Accepted at ICML 2024", "Code: https://github.com/example/repo" + str(i),
                            "Project page: https://example.org/p" + str(i) + "/"][i % 3]
            w.write(json.dumps({"id": f"2401.{i:05d}", "title": title, "abstract": abstract,
                                "authors": ", ".join(r.get("authors") or []),
                                "categories": " ".join(r.get("categories") or []),
                                "comments": comments, "versions": versions}) + "\n")
    return out


def dump(store) -> dict:
    """Everything an import writes, without the wall-clock columns (and, on PostgreSQL, the
    weighted document of each paper)."""
    tables = {
        "papers": "SELECT id, title, title_display, abstract, abstract_display, authors, categories, primary_category, "
                  "comments, journal_ref, doi, license, submitter, published, updated, listed, latest_version, hidden FROM papers",
        "paper_authors": "SELECT paper_id, position, name FROM paper_authors",
        "paper_categories": "SELECT paper_id, category, position FROM paper_categories",
        "versions": "SELECT paper_id, version, created, size FROM versions",
        "links": "SELECT paper_id, url, kind, origin FROM links",
        "paper_sources": "SELECT paper_id, source, source_ref, record_hash FROM paper_sources",
        "hf_daily": "SELECT paper_id, featured_on, upvotes, github_repo, github_stars, project_page FROM hf_daily",
        "search_docs": "SELECT paper_id, title_key FROM search_docs",
        "listing_rank": "SELECT paper_id, listed, hidden, newest, upvotes, has_code, evidence FROM listing_rank",
    }
    if PG:
        tables["tsv"] = "SELECT d.paper_id, d.tsv::text FROM search_docs d"
    return {k: sorted(map(tuple, store.query(sql))) for k, sql in tables.items()}


def logged_papers(store) -> list[str]:
    """PostgreSQL: the papers in the change sequence the app hosts follow, with repeats."""
    return sorted(r[0] for r in store.query("SELECT d.paper_id FROM search_changes c JOIN search_docs d ON d.docid = c.docid"))


def test_bulk_import_writes_the_rows_an_ordinary_import_writes_and_listing_rank_stays_right(tmp_path, new_store):
    first = snapshot_file(tmp_path, 1200)
    again = snapshot_file(tmp_path, 1200, "changed.jsonl", changed=True)
    files = (DEMO / "records.jsonl.gz", first, DATA / "kaggle-snapshot-head.jsonl", DATA / "hf-papers-2024-04-08.json",
             again)
    plain, fast = new_store("plain"), new_store("bulk")
    for f in files:
        a = import_file(plain, f, bulk=False, parallel=False)
        b = import_file(fast, f, bulk=True, parallel=True, batch_size=400)
        assert (a.read, a.stored, a.updated, a.unchanged, a.skipped) == (b.read, b.stored, b.updated, b.unchanged, b.skipped)
        assert listings.listing_rank_drift(fast) == [], f
        assert derived_pending(fast) == 0
    assert b.updated == 1200  # the last file changed every paper it names, in a bulk import
    got, want = dump(fast), dump(plain)
    assert got == want
    ranked = {r[0]: r[4:] for r in want["listing_rank"]}
    # the changed file moved papers on the "All new" list: a venue (2 points), a project page (2),
    # code (3): (upvotes, has code, evidence)
    assert (ranked["2401.00000"], ranked["2401.00002"], ranked["2401.00004"]) == ((0, 0, 2), (0, 0, 2), (0, 1, 3))
    assert any(r[4] > 0 for r in want["listing_rank"])  # Hugging Face upvotes
    if PG:
        # every new paper once, and every paper whose text the bulk re-import changed once more
        assert logged_papers(fast) == logged_papers(plain)
        assert len(logged_papers(fast)) == len(want["papers"]) + 600


def test_an_interrupted_catch_up_resumes_and_writes_each_row_once(tmp_path, new_store):
    snap = snapshot_file(tmp_path, 1500)
    plain, store = new_store("plain"), new_store("bulk")
    import_file(plain, snap, bulk=False, parallel=False)
    records = [prepare(p) for _, p in parser_for("snapshot")(snap)]
    with store.transaction() as conn, deferred_batch(conn):  # what a bulk import killed before its catch-up leaves
        upsert_papers(store, records, "snapshot", str(snap), conn=conn, bulk=True)
    assert derived_pending(store) == 1500
    assert store.query_one("SELECT count(*) FROM listing_rank")[0] == (0 if PG else 1500)
    lo = store.query_one("SELECT from_rowid FROM papers_derived_deferred")[0]
    if PG:
        # killed after a helper connection committed its range, before the round moved the marker
        from paperwire.store import bulk_pg

        with store.transaction() as conn:
            bulk_pg.write_derived(conn, lo + 400, lo + 800)
        assert store.query_one("SELECT from_rowid FROM papers_derived_deferred")[0] == lo
    done = []
    bulk.catch_up_derived(store, chunk=300, on_progress=done.append)
    catch_up(store)
    assert derived_pending(store) == 0 and len(done) >= 2
    assert listings.listing_rank_drift(store) == []
    got, want = dump(store), dump(plain)
    assert {k: v for k, v in got.items() if k != "paper_sources"} == {k: v for k, v in want.items() if k != "paper_sources"}
    if PG:
        assert logged_papers(store) == sorted(r[0] for r in want["papers"])  # once each, none twice


def _count(target: str) -> int:
    try:
        s = open_store(target, migrate=False)
        try:
            return s.query_one("SELECT count(*) FROM papers")[0]
        finally:
            s.close()
    except Exception:  # the file or its tables are not there yet
        return 0


def test_killed_bulk_import_resumes_and_ends_with_the_rows_of_an_ordinary_import(tmp_path, new_store):
    """SIGKILL a real `paperwire ingest --bulk` mid-import; the re-run (bulk again) resumes after
    the last committed batch and the store ends as an ordinary import leaves it."""
    snap = snapshot_file(tmp_path, 3000)
    plain = new_store("plain")
    import_file(plain, snap, bulk=False, parallel=False)
    if PG:
        target = pg_engine.fresh_db()
    else:
        target = str(tmp_path / "k.db")
    try:
        env = dict(os.environ, PAPERWIRE_DB=target)
        cmd = [sys.executable, "-m", "paperwire", "ingest", "--batch-size", "60"]
        proc = subprocess.Popen(cmd + ["--bulk", str(snap)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline, n = time.time() + 90, 0
        while time.time() < deadline and n < 300 and proc.poll() is None:
            n = _count(target)
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at = _count(target)
        assert 0 < killed_at < 3000, "the kill should land mid-import"
        out = subprocess.run(cmd + ["--bulk", str(snap)], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert "resumed after position" in out.stdout
        store = open_store(target)
        try:
            assert derived_pending(store) == 0
            assert listings.listing_rank_drift(store) == []
            got, want = dump(store), dump(plain)
            assert {k: v for k, v in got.items() if k != "paper_sources"} == {
                k: v for k, v in want.items() if k != "paper_sources"}
            assert [r[0] for r in got["paper_sources"]] == [r[0] for r in want["paper_sources"]]
            if PG:
                assert logged_papers(store) == sorted(r[0] for r in want["papers"])
        finally:
            store.close()
    finally:
        if PG:
            pg_engine.drop_db(target)


@pytest.mark.skipif(not PG, reason="PostgreSQL's parallel plans (SQLite has none)")
def test_the_weighted_document_can_be_computed_in_a_parallel_plan(store):
    import_file(store, DATA / "kaggle-snapshot-head.jsonl", bulk=True, parallel=False)
    with store.transaction() as conn:  # a plan with parallel workers doing all of the work
        for setting in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0", "min_parallel_table_scan_size = 0",
                        "max_parallel_workers_per_gather = 2", "parallel_leader_participation = off"):
            conn.execute(f"SET LOCAL {setting}")
        n = conn.execute("SELECT count(pw_search_tsv(title_display, abstract_display, authors)) FROM papers").fetchone()[0]
    assert n == 200
