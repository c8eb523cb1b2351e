"""Bulk imports (deferred search, author, category and full-text rows) and parsing in a child process: the same store and
the same search results as the ordinary path, every paper searchable when an import returns,
kills (mid-import and mid-catch-up) followed by a re-run, and writes while indexing is deferred."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

import pg_engine
from repo_paths import DATA, DEMO
from paperwire.ingest import import_file, run_import
from paperwire.ingest.parallel import parse_in_child
from paperwire.models import Paper, Problem, Version
from paperwire.search.query import fts_expression
from paperwire.store import Store, open_store
from paperwire.store import search_index as si
from paperwire.store import bulk as bulk_module
from paperwire.store.bulk import (catch_up, catch_up_derived, catch_up_fts, defer, defer_fts, deferred_batch,
                                  derived_pending, fts_pending)
from paperwire.store.papers import get_paper, prepare, upsert_papers

QUERIES = ["learning", "quantum", "graph neural", "diffusion", "language model", "black hole", "transformer",
           "reinforcement", "spin", "galaxy"]


def fts_consistent(store: Store) -> None:
    """Raises unless papers_fts holds exactly the search documents' current text."""
    store.conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")


def search(store: Store, q: str) -> set[str]:
    return {r[0] for r in store.query("SELECT d.paper_id FROM papers_fts f JOIN search_docs d ON d.docid = f.rowid "
                                      "WHERE papers_fts MATCH ?", (q,))}


def engine_search(store, q: str) -> set[str]:
    """Paper ids the store's own lexical search finds for ``q`` (FTS5 or PostgreSQL's)."""
    return {pid for _, pid, _ in si.lexical(store, fts_expression(q), (1.0, 1.0, 1.0), si.FilterSQL(), 10_000)}


def dump(store: Store, search=search) -> dict:
    """Everything an import writes, without the wall-clock columns."""
    tables = {
        "papers": "SELECT id, title, title_display, abstract, abstract_display, authors, categories, primary_category, "
                  "comments, journal_ref, doi, license, submitter, published, updated, listed, latest_version, hidden FROM papers",
        "paper_authors": "SELECT * FROM paper_authors",
        "paper_categories": "SELECT * FROM paper_categories",
        "versions": "SELECT * FROM versions",
        "links": "SELECT * FROM links",
        "paper_sources": "SELECT paper_id, source, source_ref, record_hash FROM paper_sources",
        "search_docs": "SELECT paper_id, title_key FROM search_docs",
    }
    out = {k: sorted(map(tuple, store.query(sql))) for k, sql in tables.items()}
    out["search"] = {q: search(store, q) for q in QUERIES}
    return out


def demo_snapshot(tmp_path, n: int = 3000):
    """The demo listing records as snapshot lines (fresh ids, versions), to exercise both parsers."""
    out = tmp_path / "snapshot.jsonl"
    with gzip.open(DEMO / "records.jsonl.gz", "rt", encoding="utf-8") as fh, open(out, "w") as w:
        for i, line in zip(range(n), fh):
            r = json.loads(line)
            versions = [{"version": f"v{v}", "created": f"Mon, {v} Jan 2024 10:0{v}:00 GMT"} for v in range(1, 2 + i % 3)]
            w.write(json.dumps({"id": f"2401.{i:05d}", "title": r["title"], "abstract": r.get("summary") or "",
                                "authors": ", ".join(r.get("authors") or []), "categories": " ".join(r.get("categories") or []),
                                "comments": r.get("comment"), "versions": versions}) + "\n")
    return out


def test_bulk_and_child_parsing_store_and_find_the_same_as_the_ordinary_path(tmp_path):
    snap = demo_snapshot(tmp_path, 1500)
    listing = DEMO / "records.jsonl.gz"
    kaggle = DATA / "kaggle-snapshot-head.jsonl"
    plain, bulk = Store(tmp_path / "plain.db"), Store(tmp_path / "bulk.db")
    for f in (listing, snap, kaggle, listing):  # the second listing import changes nothing
        a = import_file(plain, f, bulk=False, parallel=False)
        b = import_file(bulk, f, bulk=True, parallel=True, batch_size=700)
        assert (a.read, a.stored, a.updated, a.unchanged, a.skipped) == (b.read, b.stored, b.updated, b.unchanged, b.skipped)
    assert b.unchanged == b.read
    assert fts_pending(bulk) == 0 and bulk.query_one("SELECT count(*) FROM search_fts_deferred")[0] == 0
    assert derived_pending(bulk) == 0 and bulk.query_one("SELECT count(*) FROM papers_derived_deferred")[0] == 0
    assert bulk.query_one("PRAGMA foreign_keys")[0] == 1  # off for the bulk import only
    fts_consistent(bulk)
    fts_consistent(plain)
    got, want = dump(bulk), dump(plain)
    assert got == want
    assert len(want["papers"]) == 3000 + 1500 + 200 and all(want["search"].values())


@pytest.fixture
def two_more_stores(tmp_path):
    """Two more empty stores of the engine under test."""
    if pg_engine.postgres():
        urls = [pg_engine.fresh_db() for _ in range(2)]
        stores = [open_store(u) for u in urls]
        yield stores
        for st, url in zip(stores, urls):
            st.close()
            pg_engine.drop_db(url)
        return
    yield [Store(tmp_path / "other.db"), Store(tmp_path / "light.db")]


def test_prepared_records_merge_like_papers(store, two_more_stores):
    """Prepared tuples (what the parser process sends) against Paper objects: new papers, a paper
    twice in one batch, a paper already stored, and records of one paper in later batches."""
    other, light = two_more_stores
    old = Paper(id="2501.00001", title="Old title", abstract="An abstract with code at https://github.com/a/b.",
                authors=["A. Author"], categories=["cs.LG"], versions=[Version(1, "2025-01-01T00:00:00Z")])
    batch = [
        Paper(id="2501.00002", title="New  paper\nwith a -- dash", abstract="Text &amp; more", authors=["B. B\\'ezier"],
              categories=["cs.CL", "cs.AI"], versions=[Version(1, "2025-01-02T00:00:00Z", "10kb")], listed="2025-01-03"),
        dataclasses.replace(old, title="Newer title", versions=[Version(1, None), Version(2, "2025-02-01T00:00:00Z")]),
        Paper(id="2501.00002", title="Second record", abstract="", authors=[], categories=[], versions=[], listed="2025-01-01"),
        Paper(id="2501.00003", title="Only once", comments="Project page: https://x.github.io/p"),
    ]
    for s in (store, other, light):
        upsert_papers(s, [old], "listing")
    a = upsert_papers(store, batch, "snapshot")
    b = upsert_papers(other, [prepare(p) for p in batch], "snapshot")
    # light tuples (the parser believed every paper stored, which only 2501.00001 is)
    c = upsert_papers(light, [prepare(p, stored=True) for p in batch], "snapshot")
    assert dataclasses.astuple(a) == dataclasses.astuple(b) == dataclasses.astuple(c) == (2, 1, 0)
    later = [dataclasses.replace(batch[0], title="Third title", versions=[Version(2, "2025-03-01T00:00:00Z")])]
    assert upsert_papers(store, later, "oai").updated == upsert_papers(other, [prepare(p) for p in later], "oai").updated == 1
    assert upsert_papers(light, [prepare(p, stored=True) for p in later], "oai").updated == 1
    assert upsert_papers(other, [prepare(p) for p in later], "oai").unchanged == 1
    assert upsert_papers(light, [prepare(p, stored=True) for p in later], "oai").unchanged == 1
    assert upsert_papers(store, later, "oai").unchanged == 1
    assert dump(store, engine_search) == dump(other, engine_search) == dump(light, engine_search)
    p = get_paper(other, "2501.00002")
    assert p.title == "Third title" and p.title_display == "Third title" and p.listed == "2025-01-01"
    assert p.authors == ["B. B\\'ezier"] and [v.number for v in p.versions] == [1, 2]


def test_updates_deletes_and_other_writers_while_indexing_is_deferred(tmp_path):
    db = tmp_path / "u.db"
    store, web = Store(db), Store(db)  # `web`: another writer on its own connection
    upsert_papers(store, [Paper(id="2501.00001", title="Aardvark burrows", abstract="Old words here.",
                                versions=[Version(1, "2025-01-01T00:00:00Z")]),
                          Paper(id="2501.00002", title="Unchanged badger", abstract="Setts.")], "listing")
    records = [
        Paper(id="2501.00010", title="Narwhal tusks", abstract="Deferred at first."),
        Paper(id="2501.00001", title="Zebra stripes", abstract="Replaced words.",  # indexed before: au trigger
              versions=[Version(1, "2025-01-01T00:00:00Z"), Version(2, "2025-02-01T00:00:00Z")]),
        Paper(id="2501.00011", title="Ocelot spots", abstract="Will be deleted."),
        Paper(id="2501.00010", title="Quokka smiles", abstract="Changed while deferred.",  # not indexed yet
              versions=[Version(2, "2025-03-01T00:00:00Z")]),
    ]
    calls = []

    def meanwhile(summary):
        calls.append(summary.read)
        if len(calls) == 1:  # a paper submitted on the site during the bulk import
            upsert_papers(web, [Paper(id="2501.00020", title="Wombat cubes", abstract="Submitted meanwhile.")], "submission")
        if len(calls) == 3:  # an administrator removes a paper that is not indexed yet
            with web.transaction() as c:
                c.execute("DELETE FROM papers WHERE id = '2501.00011'")
        if len(calls) < 4:
            assert store.query_one("SELECT count(*) FROM search_fts_deferred")[0] == 1
            assert not search(store, "narwhal")  # new papers wait for the catch-up

    summary = run_import(store, enumerate(records, 1), source="listing", batch_size=1, bulk=True, on_progress=meanwhile)
    assert (summary.stored, summary.updated) == (2, 2) and summary.indexed == 2  # 00010 and 00020 (00011 is gone)
    fts_consistent(store)
    assert search(store, "zebra") == {"2501.00001"} and not search(store, "aardvark")
    assert search(store, "quokka") == {"2501.00010"} and not search(store, "narwhal")
    assert search(store, "wombat") == {"2501.00020"} and not search(store, "ocelot")
    assert search(store, "badger") == {"2501.00002"}
    # with nothing deferred, the triggers index at once again
    upsert_papers(web, [Paper(id="2501.00030", title="Yak wool", abstract="After.")], "submission")
    assert search(store, "yak") == {"2501.00030"}
    fts_consistent(store)


def test_interrupted_catch_up_resumes_and_any_later_import_finishes_it(tmp_path):
    store = Store(tmp_path / "c.db")
    with store.transaction() as conn:  # what a bulk import killed before its catch-up leaves
        defer_fts(conn)
        upsert_papers(store, [Paper(id=f"2502.{i:05d}", title=f"Paper number {i}", abstract="Porcupine quills.")
                              for i in range(1000)], "test", conn=conn)
    assert fts_pending(store) == 1000 and not search(store, "porcupine")

    def stop(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        catch_up_fts(store, chunk=300, on_progress=stop)
    assert fts_pending(store) == 700  # the first range committed with its progress
    assert len(search(store, "porcupine")) == 300
    summary = import_file(store, DATA / "kaggle-snapshot-head.jsonl")  # an ordinary import finishes it
    assert summary.indexed == 700 + 200 and fts_pending(store) == 0  # its own 200 came after from_docid too
    assert len(search(store, "porcupine")) == 1000
    fts_consistent(store)


@pytest.mark.parametrize("rebuild", [False, True])
def test_interrupted_derived_catch_up_resumes_and_writes_the_rows_the_ordinary_path_writes(tmp_path, monkeypatch,
                                                                                            rebuild):
    """A bulk import stores papers without their search document and author and category rows;
    the catch-up writes them from the papers rows, resumably, exactly as the ordinary path does,
    also for papers updated or added by another writer while they waited. ``rebuild``: the
    catch-up is large enough to drop the random-order indexes and build them at its end (as at
    100,000 papers and more); interrupted, it leaves them to the resumed catch-up."""
    monkeypatch.setattr(bulk_module, "REBUILD_MIN", 1 if rebuild else 10**9)
    index_sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN (?, ?) ORDER BY name"
    papers = [Paper(id=f"2503.{i:05d}", title=f"Hedgehog study {i}.", abstract="Spines and quills.",
                    authors=[f"A. Author{i}", "B. Shared", "Zoë Ünicode"], categories=["q-bio.PE", "cs.LG", "q-bio.PE"],
                    versions=[Version(1, "2025-03-01T00:00:00Z")]) for i in range(1000)]
    plain, bulk = Store(tmp_path / "p.db"), Store(tmp_path / "b.db")
    upsert_papers(plain, papers, "test")
    with bulk.transaction() as conn:  # what a bulk import killed before its catch-up leaves
        defer(conn)
        upsert_papers(bulk, papers, "test", conn=conn, bulk=True)
    assert derived_pending(bulk) == 1000 and fts_pending(bulk) == 0
    for table in ("paper_authors", "paper_categories", "search_docs"):
        assert bulk.query_one(f"SELECT count(*) FROM {table}")[0] == 0
    revised = dataclasses.replace(papers[5], title="Hedgehog study five, revised", authors=["C. Solo"], categories=["cs.AI"],
                                  versions=[Version(2, "2025-04-01T00:00:00Z")])
    submitted = Paper(id="2503.09999", title="Submitted meanwhile", authors=["D. Web"], categories=["cs.AI"])
    for s in (plain, bulk):  # other writers while the rows wait
        assert upsert_papers(s, [revised], "oai").updated == 1
        assert upsert_papers(s, [submitted], "submission").stored == 1

    def stop(done):
        raise KeyboardInterrupt

    indexes = bulk.query(index_sql, bulk_module.REBUILT_INDEXES)
    assert len(indexes) == 2
    with pytest.raises(KeyboardInterrupt):
        catch_up_derived(bulk, chunk=300, on_progress=stop)
    assert derived_pending(bulk) == 1001 - 300  # the first range committed with its progress
    assert len(bulk.query(index_sql, bulk_module.REBUILT_INDEXES)) == (0 if rebuild else 2)
    # the first range's rows are found by name, with the index or without it (paper 5 has another author now)
    assert bulk.query_one("SELECT count(*) FROM paper_authors WHERE name = 'B. Shared' COLLATE NOCASE")[0] == 299
    assert fts_pending(bulk) == 300 and not search(bulk, "hedgehog")  # its documents wait for FTS5
    stages = []
    assert catch_up(bulk, on_progress=lambda stage, n: stages.append(stage)) == 1001
    assert stages[0] == "search and author rows" and stages[-1] == "full-text index"
    assert derived_pending(bulk) == fts_pending(bulk) == 0
    assert bulk.query_one("SELECT count(*) FROM papers_derived_deferred")[0] == 0
    assert [tuple(r) for r in bulk.query(index_sql, bulk_module.REBUILT_INDEXES)] == [tuple(r) for r in indexes]
    assert bulk.query_one("SELECT count(*) FROM checkpoints WHERE key LIKE 'bulk:%'")[0] == 0
    plan = " ".join(r[3] for r in bulk.query("EXPLAIN QUERY PLAN SELECT paper_id FROM paper_authors "
                                              "WHERE name = 'x' COLLATE NOCASE"))
    assert "paper_authors_name" in plan
    assert bulk.query_one("PRAGMA integrity_check")[0] == "ok"
    fts_consistent(bulk)
    assert dump(bulk) == dump(plain)
    assert len(search(bulk, "hedgehog")) == 1000 and search(bulk, "revised") == {"2503.00005"}
    assert bulk.query_one("SELECT count(*) FROM paper_authors WHERE name = 'ZOë Ünicode' COLLATE NOCASE")[0] == 999
    # nothing deferred: the insert trigger writes search documents at once again
    upsert_papers(bulk, [Paper(id="2503.10000", title="Yak wool")], "submission")
    assert search(bulk, "yak") == {"2503.10000"}


@pytest.mark.slow
def test_killed_bulk_import_then_rerun_leaves_every_paper_searchable(tmp_path):
    """SIGKILL a real `paperwire ingest --bulk` mid-import; the deferred papers are not lost to
    search: the re-run (here an ordinary one) stores the rest and indexes everything."""
    snap = demo_snapshot(tmp_path, 3000)
    db = tmp_path / "k.db"
    env = dict(os.environ, PAPERWIRE_DB=str(db))
    cmd = [sys.executable, "-m", "paperwire", "ingest", "--batch-size", "50"]
    proc = subprocess.Popen(cmd + ["--bulk", str(snap)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    # first only the file's header (a connection held open now would keep the import in WAL):
    # the kill is to land while the import writes through its rollback journal
    while time.time() < deadline and not (db.exists() and db.stat().st_size >= 100 and journal_of(db) == "rollback"):
        time.sleep(0.01)
    n = 0
    while time.time() < deadline and n < 300:
        c = sqlite3.connect(db)
        try:
            n = c.execute("SELECT count(*) FROM papers").fetchone()[0]
        except sqlite3.OperationalError:
            n = 0
        finally:
            c.close()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert journal_of(db) == "rollback"
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM sqlite_master WHERE name = 'search_papers_ai'").fetchone()[0] == 1
        killed_at = c.execute("SELECT count(*) FROM papers").fetchone()[0]
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("SELECT count(*) FROM search_fts_deferred").fetchone()[0] == 1
        assert c.execute("SELECT count(*) FROM papers_derived_deferred").fetchone()[0] == 1
    assert 0 < killed_at < 3000, "the kill should land mid-import"
    out = subprocess.run(cmd + ["--no-bulk", str(snap)], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "resumed after position" in out.stdout
    store = Store(db)
    assert journal_of(db) == "wal"
    assert store.query_one("SELECT count(*) FROM papers")[0] == 3000
    assert fts_pending(store) == derived_pending(store) == 0
    fts_consistent(store)
    # every paper has its search document and one author row per listed author
    assert store.query_one("SELECT count(*) FROM search_docs")[0] == 3000
    assert store.query_one("SELECT count(*) FROM papers p WHERE json_array_length(p.authors) != "
                           "(SELECT count(*) FROM paper_authors a WHERE a.paper_id = p.id)")[0] == 0
    for pid, title in store.query("SELECT id, title_display FROM papers ORDER BY random() LIMIT 25"):
        words = [w for w in title.replace('"', " ").split() if w.isalpha()][:3]
        if words:
            assert pid in search(store, " ".join(f'"{w}"' for w in words))


def test_child_parser_reports_problems_at_the_same_positions(tmp_path):
    good = [json.dumps({"id": f"2501.{i:05d}", "title": f"Title {i}", "summary": "x", "listing_date": "2025-01-02"})
            for i in range(5)]
    lines = [good[0], "{not json", good[1], json.dumps({"id": "2501.99999"}), good[2], json.dumps({"title": "no id"}),
             good[3], good[4]]
    f = tmp_path / "bad.jsonl"
    f.write_text("\n".join(lines) + "\n")
    a = list(parse_in_child("listing", f))
    problems = [(pos, x.position, x.reason) for pos, x in a if isinstance(x, Problem)]
    assert [p[0] for p in problems] == [2, 4, 6] and "malformed JSON" in problems[0][2]
    assert [pos for pos, x in a if isinstance(x, tuple)] == [1, 3, 5, 7, 8]
    assert list(parse_in_child("listing", f, start=5))[0][0] == 6  # resumes after a position
    s1, s2 = Store(tmp_path / "1.db"), Store(tmp_path / "2.db")
    r1, r2 = import_file(s1, f, parallel=False), import_file(s2, f, parallel=True)
    assert [(p.position, p.reason) for p in r1.problems] == [(p.position, p.reason) for p in r2.problems]
    assert (r2.read, r2.stored, r2.skipped) == (5, 5, 3)


def test_child_parser_failure_is_raised_not_waited_on(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text("{}\n")
    with pytest.raises(ValueError, match="unknown format"):
        list(parse_in_child("nope", f))


def test_index_command_finishes_deferred_indexing_and_rebuild_clears_it(tmp_path, model_cache):
    """`paperwire index` (paperwire.search.indexer.refresh) indexes what an interrupted bulk import left;
    `index --rebuild` covers deferred papers itself, so no catch-up may insert them again."""
    from click.testing import CliRunner

    from paperwire.cli import cli

    db = tmp_path / "i.db"
    store = Store(db)
    with store.transaction() as conn:
        defer_fts(conn)
        upsert_papers(store, [Paper(id=f"2503.{i:05d}", title=f"Hedgehog study {i}", abstract="Spines.")
                              for i in range(50)], "test", conn=conn)
    assert fts_pending(store) == 50 and not search(store, "hedgehog")
    env = {"PAPERWIRE_EMBED_MODEL": "static", "PAPERWIRE_MODEL_CACHE": model_cache}
    r = CliRunner().invoke(cli, ["--db", str(db), "index"], env=env)
    assert r.exit_code == 0, r.output
    assert fts_pending(store) == 0 and len(search(store, "hedgehog")) == 50
    fts_consistent(store)
    with store.transaction() as conn:  # deferred again, then a full rebuild
        defer_fts(conn)
        upsert_papers(store, [Paper(id="2503.09999", title="Hedgehog finale", abstract="Spines.")], "test", conn=conn)
    from paperwire.store.search_index import rebuild_lexical

    rebuild_lexical(store)
    assert fts_pending(store) == 0 and catch_up_fts(store) == 0
    assert len(search(store, "hedgehog")) == 51
    fts_consistent(store)


def journal_of(db) -> str:
    """The journal mode the database file itself records (header bytes 18-19: 1 rollback, 2 WAL)."""
    with open(db, "rb") as fh:
        head = fh.read(20)
    return {1: "rollback", 2: "wal"}[head[18]]


def test_bulk_import_writes_through_a_rollback_journal_and_leaves_the_store_in_wal(tmp_path):
    snap = demo_snapshot(tmp_path, 1200)
    db = tmp_path / "b.db"
    store = Store(db)
    seen = []
    summary = import_file(store, snap, bulk=True, batch_size=300,
                          on_progress=lambda s: seen.append((journal_of(db), os.path.exists(f"{db}-wal"))))
    assert summary.stored == 1200 and len(seen) >= 4
    assert set(seen) == {("rollback", False)}  # every batch committed without a WAL
    assert journal_of(db) == "wal"
    assert store.query_one("PRAGMA journal_mode")[0] == "wal" and store.query_one("PRAGMA synchronous")[0] == 1
    assert fts_pending(store) == derived_pending(store) == 0
    fts_consistent(store)
    assert store.query_one("PRAGMA integrity_check")[0] == "ok"


def test_bulk_import_stays_in_wal_while_another_connection_has_the_store_open(tmp_path):
    snap = demo_snapshot(tmp_path, 600)
    db = tmp_path / "b.db"
    other = Store(db)
    assert other.query_one("SELECT count(*) FROM papers")[0] == 0  # holds its connection open
    seen = []
    summary = import_file(Store(db, migrate=False), snap, bulk=True, batch_size=300,
                          on_progress=lambda s: seen.append(journal_of(db)))
    assert summary.stored == 600 and set(seen) == {"wal"}
    assert other.query_one("SELECT count(*) FROM papers")[0] == 600
    fts_consistent(other)


def test_a_store_opened_during_a_rollback_journal_transaction_reads_and_wal_comes_back(tmp_path):
    db = tmp_path / "b.db"
    importer = Store(db)
    import_file(importer, DATA / "kaggle-snapshot-head.jsonl", bulk=False, parallel=False)
    n = importer.query_one("SELECT count(*) FROM papers")[0]
    conn = importer.conn
    assert conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM papers WHERE id = (SELECT min(id) FROM papers)")
    reader = Store(db, migrate=False)  # its switch to WAL is refused mid-transaction: it must still open
    assert reader.query_one("SELECT count(*) FROM papers")[0] == n  # the last committed state
    conn.execute("COMMIT")
    assert reader.query_one("SELECT count(*) FROM papers")[0] == n - 1
    assert journal_of(db) == "rollback"
    Store(db, migrate=False).query_one("SELECT 1")  # the next connection between transactions: WAL again
    assert journal_of(db) == "wal"


def test_new_stores_get_16k_pages_and_existing_files_keep_theirs(tmp_path):
    assert Store(tmp_path / "new.db").query_one("PRAGMA page_size")[0] == 16384
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as c:
        c.execute("PRAGMA page_size=4096")
        c.execute("CREATE TABLE t(x)")
    c.close()
    store = Store(old)
    assert store.query_one("PRAGMA page_size")[0] == 4096
    assert store.query_one("SELECT count(*) FROM papers")[0] == 0  # migrated in place


def test_a_bulk_batch_drops_the_insert_trigger_only_inside_its_transaction(tmp_path):
    db = tmp_path / "b.db"
    store = Store(db)
    trigger = "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'search_papers_ai'"
    before = store.query_one(trigger)[0]
    other = sqlite3.connect(db)
    with pytest.raises(RuntimeError):
        with store.transaction() as conn, deferred_batch(conn):
            assert conn.execute(trigger).fetchone() is None
            assert other.execute(trigger).fetchone()[0] == before  # not visible before the commit
            raise RuntimeError("the batch fails")
    assert store.query_one(trigger)[0] == before  # rolled back with the batch
    summary = import_file(store, demo_snapshot(tmp_path, 500), bulk=True, batch_size=200)
    assert summary.stored == 500 and store.query_one(trigger)[0] == before
    other.close()
    # and it still does its work for papers stored the ordinary way
    import_file(store, DATA / "kaggle-snapshot-head.jsonl", bulk=False, parallel=False)
    assert fts_pending(store) == derived_pending(store) == 0
    assert store.query_one("SELECT count(*) FROM search_docs")[0] == 700
    fts_consistent(store)


def test_other_processes_read_and_write_during_a_rollback_journal_bulk_import(tmp_path):
    """While `paperwire ingest --bulk` writes through its rollback journal, another process opens
    fresh connections, reads and commits its own writes (as the web server would store votes):
    none fails or is lost, the import completes, and the store ends in WAL."""
    snap = demo_snapshot(tmp_path, 3000)
    db = tmp_path / "c.db"
    Store(db).close()
    env = dict(os.environ, PAPERWIRE_DB=str(db))
    proc = subprocess.Popen([sys.executable, "-m", "paperwire", "ingest", "--bulk", "--batch-size", "100", str(snap)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and journal_of(db) != "rollback":
        time.sleep(0.005)
    assert journal_of(db) == "rollback", "the import should have switched to its rollback journal"
    writes = 0
    while proc.poll() is None and time.time() < deadline:
        other = Store(db, migrate=False)  # a new connection each time: it may switch the store back to WAL
        other.query_one("SELECT count(*) FROM papers")
        with other.transaction() as conn:
            other.set_checkpoint(f"vote-{writes}", "1", conn=conn)
        writes += 1
        other.close()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert writes > 0
    store = Store(db, migrate=False)
    assert store.query_one("SELECT count(*) FROM checkpoints WHERE key LIKE 'vote-%'")[0] == writes
    assert store.query_one("SELECT count(*) FROM papers")[0] == 3000
    assert fts_pending(store) == derived_pending(store) == 0
    fts_consistent(store)
    assert store.query_one("PRAGMA integrity_check")[0] == "ok"
    assert journal_of(db) == "wal"
