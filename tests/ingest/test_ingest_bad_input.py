"""Bad input on every source, --strict and exit codes, interruption, re-ingestion, versions, merging."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zlib

import pytest
import xxhash
from click.testing import CliRunner

from repo_paths import DATA, DEMO
from paperwire.cli import cli
from paperwire.ingest import import_file
from paperwire.ingest.files import iter_lines
from paperwire.models import Problem
from paperwire.store import Store
from paperwire.store.papers import get_paper

OAI = DATA / "arxiv-api-responses" / "oaipmh_hepcrawl"
ATOM = DATA / "arxiv-api-responses" / "atom_arxiv_py" / "xml"


def demo_lines(n: int) -> list[str]:
    with gzip.open(DEMO / "records.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [line for _, line in zip(range(n), fh)]


def ingest(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), "ingest", *map(str, args)])


def count(db, sql="SELECT count(*) FROM papers"):
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchone()[0]


def test_malformed_line_and_records_without_id_or_title(tmp_path):
    lines = demo_lines(10)
    lines[2] = '{"id": "2501.00001", "title": "cut off\n'
    no_id = json.loads(lines[4]); no_id.pop("id"); lines[4] = json.dumps(no_id) + "\n"
    no_title = json.loads(lines[6]); no_title["title"] = "  "; lines[6] = json.dumps(no_title) + "\n"
    bad_id = json.loads(lines[8]); bad_id["id"] = "not-an-id"; lines[8] = json.dumps(bad_id) + "\n"
    f = tmp_path / "listing.jsonl"
    f.write_text("".join(lines))
    r = ingest(tmp_path / "a.db", f)
    assert r.exit_code == 0
    assert "listing.jsonl: read 6, stored 6, updated 0, skipped 4" in r.output
    assert "skipped listing.jsonl:line 3: malformed JSON" in r.output
    assert "skipped listing.jsonl:line 5: missing or invalid arXiv id None" in r.output
    assert f"skipped listing.jsonl:line 7: {no_title['id']}: missing title" in r.output
    assert "skipped listing.jsonl:line 9: missing or invalid arXiv id 'not-an-id'" in r.output
    assert count(tmp_path / "a.db") == 6
    # --strict: same work, exit 1
    r = ingest(tmp_path / "b.db", "--strict", f)
    assert r.exit_code == 1 and count(tmp_path / "b.db") == 6


def test_fields_of_the_wrong_type_skip_that_record_only(tmp_path):
    """Valid JSON with a number where text belongs, or objects as authors: reported with the
    field, skipped; the rest of the batch is stored (listing and snapshot parsers alike)."""
    lines = demo_lines(8)
    recs = [json.loads(x) for x in lines]
    recs[1]["authors"] = [1, {"name": "x"}]
    recs[3]["comment"] = 12
    recs[5]["title"] = ["a", "list"]
    f = tmp_path / "listing.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs))
    r = ingest(tmp_path / "a.db", f)
    assert r.exit_code == 0, r.output
    assert "read 5, stored 5, updated 0, skipped 3" in r.output
    assert f"skipped listing.jsonl:line 4: {recs[3]['id']}: field 'comments' must be text, not int" in r.output
    assert "skipped listing.jsonl:line 2:" in r.output and "skipped listing.jsonl:line 6:" in r.output
    assert count(tmp_path / "a.db") == 5
    snap = tmp_path / "snapshot.jsonl"
    snap.write_text(json.dumps({"id": "2501.00009", "title": "T", "abstract": "A", "doi": 10.1,
                                "versions": [{"version": "v1", "created": "Mon, 6 Jan 2025 10:00:00 GMT"}]}) + "\n"
                    + json.dumps({"id": "2501.00010", "title": "Fine", "abstract": "B", "versions": []}) + "\n")
    r = ingest(tmp_path / "a.db", "--format", "snapshot", snap)
    assert r.exit_code == 0, r.output
    assert "read 1, stored 1, updated 0, skipped 1" in r.output and "field 'doi' must be text, not float" in r.output


def test_truncated_gzip_keeps_what_came_before(tmp_path):
    data = gzip.compress("".join(demo_lines(500)).encode())
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(data[: len(data) * 2 // 3])
    db = tmp_path / "t.db"
    r = ingest(db, f)
    assert r.exit_code == 0, r.output
    assert "file is damaged or truncated" in r.output and "skipped 1" in r.output
    stored = count(db)
    assert 0 < stored < 500
    # every stored paper is whole: title, display text and authors all present
    assert count(db, "SELECT count(*) FROM papers WHERE title_display = '' OR authors = '[]'") == 0


@pytest.mark.parametrize("damage", ["cut", "bad crc", "bad deflate data"])
def test_damaged_gzip_loses_no_line_before_the_damage(tmp_path, damage):
    """Whatever inflates cleanly before the damage is read, line by line, as the standard
    library's reader gives it: the fast reader's large blocks must not swallow the last ones."""
    lines = [f'{{"n": {i}, "pad": "{"x" * (i % 97)}"}}\n'.encode() for i in range(30000)]
    data = gzip.compress(b"".join(lines))
    broken = {"cut": data[: len(data) // 2], "bad crc": data[:-8] + bytes(8),
              "bad deflate data": data[:40000] + bytes(range(256)) * 4 + data[41024:]}[damage]
    f = tmp_path / "damaged.jsonl.gz"
    f.write_bytes(broken)
    readable = []
    try:
        with gzip.open(f) as fh:
            for line in fh:
                readable.append(line)
    except (EOFError, OSError, zlib.error):
        pass
    got = list(iter_lines(f))
    assert isinstance(got[-1][1], Problem) and "damaged or truncated" in got[-1][1].reason
    whole = [r for r in readable if r.endswith(b"\n")]
    assert [r for _, r in got[:-1]] == whole and len(whole) > 1000
    assert [n for n, _ in got] == list(range(1, len(whole) + 2))


def test_broken_xml_keeps_the_good_records(tmp_path):
    xml = (OAI / "arxiv-physics-hep-th.xml").read_text()
    second = xml.index("<record>", xml.index("<record>") + 1)
    broken = xml[:second] + xml[second:].replace("<title>", "<title><i>", 1)
    f = tmp_path / "page.xml"
    f.write_text(broken)
    db = tmp_path / "x.db"
    r = ingest(db, f)
    assert r.exit_code == 0 and "read 2, stored 2, updated 0, skipped 1" in r.output
    assert "page.xml:record 2: broken XML" in r.output
    atom = (ATOM / "q_testing_s0_m10_bc5a6c384fe9.xml").read_text()
    cut = atom[: atom.index("</entry>", atom.index("</entry>") + 1) + 200]  # two whole entries, then cut off
    f2 = tmp_path / "feed.xml"
    f2.write_text(cut)
    r = ingest(db, "--format", "arxiv_api", f2)
    assert "read 2, stored 2, updated 0, skipped 1" in r.output and "not closed" in r.output


def test_nothing_readable_exits_1(tmp_path):
    f = tmp_path / "junk.jsonl"
    f.write_text('{"id": 1\n{"also": "bad"\n')
    r = ingest(tmp_path / "j.db", "--format", "listing", f)
    assert r.exit_code == 1 and "nothing could be read" in r.output
    r = ingest(tmp_path / "j.db", tmp_path / "missing.jsonl")
    assert r.exit_code == 1
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    r = ingest(tmp_path / "j.db", "--format", "listing", empty)
    assert r.exit_code == 0 and "read 0, stored 0" in r.output  # nothing new is not an error


def test_reingest_changes_nothing(store, tmp_path):
    f = tmp_path / "l.jsonl"
    f.write_text("".join(demo_lines(300)))
    first = import_file(store, f)
    before = store.query("SELECT id, changed_at, title_display FROM papers ORDER BY id")
    time.sleep(1.1)  # changed_at has one-second resolution
    again = import_file(store, f)
    assert (first.stored, again.stored, again.updated, again.unchanged) == (300, 0, 0, 300)
    assert [tuple(r) for r in store.query("SELECT id, changed_at, title_display FROM papers ORDER BY id")] == \
        [tuple(r) for r in before]


@pytest.mark.parametrize("first_parallel", [False, True])
def test_reingest_in_the_other_mode_changes_nothing(store, tmp_path, first_parallel):
    """A JSON line's fingerprint is the hash of the line, the same whether the file is parsed in
    this process or in a parser process: a re-import in the other mode skips every record on it.
    A fingerprint of the older kind (a hash of the fields) only costs one merge that changes nothing."""
    lines = demo_lines(200)
    f = tmp_path / "l.jsonl"
    f.write_text("".join(lines))
    first = import_file(store, f, parallel=first_parallel)
    assert first.stored == 200
    stored = dict(store.query("SELECT paper_id, record_hash FROM paper_sources"))
    assert stored[json.loads(lines[0])["id"]] == xxhash.xxh3_128_hexdigest(lines[0].encode())[:24]
    before = [tuple(r) for r in store.query("SELECT * FROM papers ORDER BY id")]
    again = import_file(store, f, parallel=not first_parallel)
    assert (again.stored, again.updated, again.unchanged) == (0, 0, 200)
    with store.transaction() as conn:
        conn.execute("UPDATE paper_sources SET record_hash = 'older'")
    third = import_file(store, f, parallel=first_parallel)
    assert (third.stored, third.updated, third.unchanged) == (0, 0, 200)
    assert dict(store.query("SELECT paper_id, record_hash FROM paper_sources")) == stored
    assert [tuple(r) for r in store.query("SELECT * FROM papers ORDER BY id")] == before


def test_newer_version_updates(store, tmp_path):
    rec = json.loads((DATA / "kaggle-snapshot-head.jsonl").read_text().splitlines()[0])
    v1 = dict(rec, versions=rec["versions"][:1], title="An early title")
    (tmp_path / "v1.jsonl").write_text(json.dumps(v1) + "\n")
    (tmp_path / "v2.jsonl").write_text(json.dumps(rec) + "\n")
    import_file(store, tmp_path / "v1.jsonl")
    assert get_paper(store, "0704.0001").title == "An early title"
    s = import_file(store, tmp_path / "v2.jsonl")
    p = get_paper(store, "0704.0001")
    assert s.updated == 1 and p.title == rec["title"] and [v.number for v in p.versions] == [1, 2]
    assert p.published == "2007-04-02T19:18:42Z" and p.updated == "2007-07-24T20:10:27Z"
    s = import_file(store, tmp_path / "v1.jsonl")  # the old version again: already seen, nothing changes
    assert (s.updated, get_paper(store, "0704.0001").title) == (0, rec["title"])


def test_same_paper_from_four_sources_merges(store, tmp_path):
    """One paper (1412.8323, real OAI record) reported by listing, snapshot, OAI and HF files."""
    import_file(store, OAI / "arxiv-physics-hep-th.xml")
    oai = get_paper(store, "1412.8323")
    listing = {"id": "1412.8323", "title": oai.title, "summary": oai.abstract, "authors": oai.authors,
               "categories": oai.categories, "comment": oai.comments, "listing_date": "2014-12-30"}
    (tmp_path / "l.jsonl").write_text(json.dumps(listing) + "\n")
    snap = {"id": "1412.8323", "title": oai.title, "abstract": oai.abstract, "authors": ", ".join(oai.authors),
            "categories": " ".join(oai.categories), "journal-ref": "Quantum 1, 3 (2017)",
            "versions": [{"version": "v1", "created": "Mon, 29 Dec 2014 19:12:59 GMT"},
                         {"version": "v2", "created": "Wed, 13 Dec 2017 10:00:00 GMT"}]}
    (tmp_path / "s.jsonl").write_text(json.dumps(snap) + "\n")
    hf = {"1412.8323": {"url": "https://arxiv.org/abs/1412.8323", "title": oai.title, "authors": oai.authors,
                        "abstract": oai.abstract, "publication_date": "2014-12-29T19:12:59Z", "upvotes": 12}}
    (tmp_path / "hf.json").write_text(json.dumps(hf))
    for f in ("l.jsonl", "s.jsonl", "hf.json"):
        import_file(store, tmp_path / f)
    assert store.query_one("SELECT count(*) FROM papers")[0] == 3  # the page's three papers, no duplicates
    p = get_paper(store, "1412.8323")
    assert sorted(p.sources) == ["hf", "listing", "oai", "snapshot"]
    assert p.listed == "2014-12-30" and p.journal_ref == "Quantum 1, 3 (2017)" and p.hf_upvotes == 12
    assert [v.number for v in p.versions] == [1, 2] and p.published == "2014-12-29T00:00:00Z"
    assert p.license == oai.license  # only OAI had it; later sources without it keep it


@pytest.mark.slow
def test_killed_import_leaves_consistent_db_and_rerun_finishes(tmp_path):
    """SIGKILL a real `paperwire ingest` mid-import; the re-run stores every record exactly once."""
    lines = demo_lines(3000)
    f = tmp_path / "big.jsonl"
    f.write_text("".join(lines))
    ids = {json.loads(x)["id"] for x in lines}
    db = tmp_path / "k.db"
    env = dict(os.environ, PAPERWIRE_DB=str(db))
    cmd = [sys.executable, "-m", "paperwire", "ingest", "--batch-size", "50", str(f)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    n = 0
    while time.time() < deadline:
        if db.exists():
            try:
                n = count(db)
            except sqlite3.OperationalError:
                n = 0
            if n >= 200:
                break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = count(db)
    assert 0 < killed_at < len(ids), "the kill should land mid-import"
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # whole batches only: papers and their rows went in together
        assert c.execute("SELECT count(*) FROM papers p WHERE NOT EXISTS "
                         "(SELECT 1 FROM paper_sources s WHERE s.paper_id = p.id)").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM checkpoints WHERE key LIKE 'file:%'").fetchone()[0] == 1
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "resumed after position" in out.stdout
    assert count(db) == len(ids)
    assert count(db, "SELECT count(*) FROM paper_sources WHERE source='listing'") == len(ids)
    assert count(db, "SELECT count(*) FROM checkpoints WHERE key LIKE 'file:%'") == 0
    st = Store(db)
    assert import_file(st, f).stored == 0  # and a third run finds nothing new
    st.close()


def test_oai_record_updated_later_replaces_text_without_version_numbers(store, tmp_path):
    """OAI's arXiv format has no version numbers, only the latest version's date."""
    rec = json.loads((DATA / "kaggle-snapshot-head.jsonl").read_text().splitlines()[0])  # 0704.0001 v1, v2
    (tmp_path / "s.jsonl").write_text(json.dumps(rec) + "\n")
    import_file(store, tmp_path / "s.jsonl")
    xml = (OAI / "arxiv-single.xml").read_text()
    oai_id = xml.split("<id>", 1)[1].split("</id>", 1)[0]
    later = xml.replace(oai_id, "0704.0001")
    later = later.split("<title>", 1)[0] + "<title>A retitled third version</title>" + later.split("</title>", 1)[1]
    if "<updated>" in later:
        later = later.split("<updated>", 1)[0] + "<updated>2009-01-05</updated>" + later.split("</updated>", 1)[1]
    else:
        later = later.replace("</created>", "</created><updated>2009-01-05</updated>", 1)
    (tmp_path / "o.xml").write_text(later)
    s = import_file(store, tmp_path / "o.xml")
    p = get_paper(store, "0704.0001")
    assert s.updated == 1 and p.title == "A retitled third version" and p.updated == "2009-01-05T00:00:00Z"
    assert [v.number for v in p.versions] == [1, 2]  # numbers still known from the snapshot
    assert p.published == "2007-04-02T19:18:42Z"  # the earliest date seen stays the publication date


def test_bad_hf_items_and_broken_hf_json(tmp_path):
    demo = json.loads((DATA / "hf-papers-2024-04-08.json").read_text())
    some = dict(list(demo.items())[:4])
    first = next(iter(some))
    some[first] = dict(some[first], title="")
    some["not-an-id"] = {"title": "x"}
    f = tmp_path / "hf.json"
    f.write_text(json.dumps(some))
    db = tmp_path / "h.db"
    r = ingest(db, f)
    assert r.exit_code == 0 and "read 3, stored 3, updated 0, skipped 2" in r.output
    assert f"hf.json:item 1 ({first}): {first}: missing title" in r.output
    assert "invalid arXiv id 'not-an-id'" in r.output
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(some)[:500])
    r = ingest(db, "--format", "hf", cut)
    assert r.exit_code == 1 and "cannot read JSON" in r.output


def test_bad_smart_document(tmp_path):
    text = (DATA / "ir-cacm" / "cacm.all").read_text()
    docs = text.split("\n.I ")[:5]
    docs[2] = docs[2].split("\n", 1)[0] + "\n.B\nCACM June, 1960\n"  # neither .T nor .W left
    f = tmp_path / "mini.all"
    f.write_text("\n.I ".join(docs) + "\n")
    st = Store(tmp_path / "s.db")
    s = import_file(st, f, "smart")
    assert (s.read, s.skipped) == (4, 1) and "neither title" in s.problems[0].reason
    assert get_paper(st, "mini:3") is None and get_paper(st, "mini:4") is not None
    st.close()
