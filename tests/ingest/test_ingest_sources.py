"""Every file source on the real recorded data under tests/data and demo/."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from repo_paths import DATA, DEMO
from paperwire.cli import cli
from paperwire.ingest import detect_format, import_file, parser_for
from paperwire.ingest.arxiv_api import parse_atom_file
from paperwire.ingest.hf import parse_hf_file
from paperwire.ingest.oaipmh import parse_oai_file
from paperwire.ingest.smart import parse_smart
from paperwire.ingest.snapshot import parse_snapshot
from paperwire.models import HFEntry, Paper, Problem
from paperwire.store.papers import get_paper, latest_papers, stats

OAI = DATA / "arxiv-api-responses" / "oaipmh_hepcrawl"
ATOM = DATA / "arxiv-api-responses" / "atom_arxiv_py" / "xml"


def items(parsed):
    return [i for _, i in parsed]


@pytest.mark.parametrize("path, fmt", [
    (DATA / "kaggle-snapshot-head.jsonl", "snapshot"),
    (DEMO / "records.jsonl.gz", "listing"),
    (DATA / "hf-papers-2024-04-08.json", "hf"),
    (OAI / "arxiv-physics-hep-th.xml", "oai"),
    (OAI / "sample_arxiv_record.xml", "oai"),
    (ATOM / "q_testing_s0_m10_bc5a6c384fe9.xml", "arxiv_api"),
    (DATA / "ir-cacm" / "cacm.all", "smart"),
])
def test_format_detection(path, fmt):
    assert detect_format(path) == fmt


def test_snapshot_head():
    got = items(parse_snapshot(DATA / "kaggle-snapshot-head.jsonl"))
    assert len(got) == 200 and all(isinstance(p, Paper) for p in got)
    first = got[0]
    assert first.id == "0704.0001"
    assert first.title.startswith("Calculation of prompt diphoton production")
    assert first.authors[:2] == ["C. Balázs", "E. L. Berger"]
    assert first.categories == ["hep-ph"]
    assert first.doi == "10.1103/PhysRevD.76.013009"
    assert [(v.number, v.created) for v in first.versions] == [(1, "2007-04-02T19:18:42Z"), (2, "2007-07-24T20:10:27Z")]


def test_oai_listrecords_file():
    got = items(parse_oai_file(OAI / "arxiv-physics-hep-th.xml"))
    assert [p.id for p in got] == ["1412.8323", "1507.07790", "1607.01710"]
    p = got[0]
    assert p.categories[:2] == ["quant-ph", "gr-qc"]
    assert p.license == "http://creativecommons.org/licenses/by/4.0/"
    assert p.comments.startswith("78 pages")
    assert p.published == "2014-12-29T00:00:00Z" and p.updated == "2017-12-13T00:00:00Z"


def test_oai_getrecord_without_metadata_namespace():
    # hepcrawl's samples have <arXiv> without its own xmlns (it inherits the OAI namespace)
    got = items(parse_oai_file(OAI / "sample_arxiv_record.xml"))
    assert len(got) == 12 and all(isinstance(p, Paper) for p in got)
    p = got[0]
    assert p.id == "1601.03238" and p.doi == "10.1103/PhysRevD.93.016005"
    assert p.authors[:2] == ["Planck Collaboration", "Jieci Wang"]


def test_atom_file_and_error_entry():
    got = items(parse_atom_file(ATOM / "id_astro-ph_0601001_s0_m100_3150dca9dc76.xml"))
    assert len(got) == 1 and got[0].id == "astro-ph/0601001"
    err = items(parse_atom_file(ATOM / "id_abc_s0_m100_b79c8dcf6bc3.xml"))
    assert isinstance(err[0], Problem) and "incorrect id format" in err[0].reason
    assert items(parse_atom_file(ATOM / "id_0000.0000_s0_m100_8b51d9633a68.xml")) == []


def test_atom_versions_from_id_suffix():
    p = items(parse_atom_file(ATOM / "q_testing_s10_m10_34e56e15aaac.xml"))[0]
    assert p.id == "2403.16981"
    assert [v.number for v in p.versions] == [1, 2]  # published = v1, updated = v2 (from "...v2")
    assert p.versions[-1].created == p.updated


def test_hf_file_shape():
    got = items(parse_hf_file(DATA / "hf-papers-2024-04-08.json"))
    assert len(got) == 753 and all(isinstance(e, HFEntry) for e in got)
    raw = json.loads((DATA / "hf-papers-2024-04-08.json").read_text())
    e = got[0]
    rec = raw[e.paper.id]
    assert e.upvotes == rec["upvotes"] and e.featured_on == rec["publication_date"][:10]
    assert e.paper.authors == rec["authors"]


def test_smart_collection(store):
    got = list(parse_smart(DATA / "ir-cacm" / "cacm.all"))
    papers = [p for _, p in got]
    assert len(papers) == 3204 and not any(isinstance(p, Problem) for p in papers)
    first = papers[0]
    assert first.id == "cacm:1" and first.title == "Preliminary Report-International Algebraic Language"
    assert first.authors == ["A. J. Perlis", "K. Samelson"] and first.published == "1958-12-01T00:00:00Z"
    untitled = next(p for p in papers if p.id == "cacm:3193")  # no .T in the real file, but judged in qrels
    assert untitled.title == "" and untitled.abstract.startswith("Work is in progress")
    s = import_file(store, DATA / "ir-cacm" / "cacm.all")
    assert s.stored == 3204
    p = get_paper(store, "cacm:1")
    assert p is not None and p.sources == ["smart"]


def test_cli_show_works_for_collection_ids(tmp_path):
    db = str(tmp_path / "c.db")
    r = CliRunner().invoke(cli, ["--db", db, "ingest", str(DATA / "ir-cacm" / "cacm.all")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["--db", db, "show", "cacm:12"])
    assert r.exit_code == 0 and "cacm:12" in r.output


def test_demo_files_ingest_together(tmp_path):
    db = str(tmp_path / "demo.db")
    r = CliRunner().invoke(cli, ["--db", db, "ingest", str(DEMO / "records.jsonl.gz"), str(DATA / "hf-papers-2024-04-08.json")])
    assert r.exit_code == 0, r.output
    assert "records.jsonl.gz: read 3000, stored 3000" in r.output
    assert "hf-papers-2024-04-08.json: read 753" in r.output
    from paperwire.store import Store

    st = Store(db)
    s = stats(st)
    assert s["hf_daily"] == 753 and s["by_source"]["listing"] == 3000 and s["with_code"] > 0
    newest = latest_papers(st, limit=1)[0]
    assert newest.listed == st.query_one("SELECT max(listed) FROM papers")[0]
    st.close()


def test_every_parser_resumes_after_a_position():
    for path, fmt in [(DATA / "kaggle-snapshot-head.jsonl", "snapshot"), (OAI / "sample_arxiv_record.xml", "oai"),
                      (ATOM / "q_testing_s0_m15_80c242b59d59.xml", "arxiv_api"), (DATA / "hf-papers-2024-04-08.json", "hf"),
                      (DATA / "ir-cacm" / "cacm.all", "smart")]:
        parse = parser_for(fmt)
        full = list(parse(path))
        cut = full[len(full) // 2][0]
        rest = list(parse(path, start=cut))
        assert [pos for pos, _ in rest] == [pos for pos, _ in full if pos > cut], fmt


def test_abs_archive_versions_with_sizes(store):
    archive = DATA / "arxiv-abs-files.tar.gz"
    assert detect_format(archive) == "abs"
    got = list(parser_for("abs")(archive))
    problems = [i for _, i in got if isinstance(i, Problem)]
    assert len(got) == 1192 and len(problems) == 1 and problems[0].reason == "empty file"  # 0509037.abs is empty
    s = import_file(store, archive)
    assert s.read == 1191 and s.skipped == 1
    p = get_paper(store, "funct-an/9301001")
    assert p.title == "Lie-algebras and linear operators with invariant subspaces"
    assert [(v.number, v.created, v.size) for v in p.versions] == [(1, "1993-01-16T11:49:26Z", "0kb"),
                                                                   (2, "1998-09-08T18:01:31Z", "38kb")]
    assert p.categories == ["funct-an", "math.OA"] and p.submitter == "Alexander Turbiner"
    assert p.published == "1993-01-16T11:49:26Z" and p.updated == "1998-09-08T18:01:31Z"
    assert p.journal_ref.startswith("in {\\em Lie algebras") and "\n" not in p.journal_ref
    # several files (versions) of one paper merge into one paper
    n_ids = store.query_one("SELECT count(*) FROM papers")[0]
    assert n_ids < 1191 and store.query_one("SELECT count(*) FROM versions")[0] > n_ids


@pytest.mark.parametrize("gz", [False, True])
def test_lines_are_read_whole_across_read_blocks(tmp_path, gz):
    """Files are read in blocks: a line longer than a block, lines cut by a block's end, CRLF
    line ends and a last line without a line end all come back as they are in the file."""
    import gzip

    from paperwire.ingest.files import iter_lines

    lines = [b"a" * 150_000 + b"\n", b"b\r\n", b"\n", b"c" * 70_000 + b"\n"] + [b"%d\n" % i for i in range(30_000)] + [b"end"]
    f = tmp_path / ("l.txt.gz" if gz else "l.txt")
    f.write_bytes(gzip.compress(b"".join(lines)) if gz else b"".join(lines))
    assert list(iter_lines(f)) == list(enumerate(lines, 1))
    assert list(iter_lines(f, start=3)) == list(enumerate(lines, 1))[3:]
