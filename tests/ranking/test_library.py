"""Library import: each format on real-shaped files, matching by arXiv id / DOI / fuzzy title,
clear errors on bad input with nothing written."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from paperwire.models import Paper
from paperwire.ranking import library
from paperwire.store import profiles
from paperwire.store.papers import upsert_papers

LIB = Path(__file__).parents[1] / "data" / "library"
DEMO = Path(__file__).parents[2] / "demo" / "records.jsonl.gz"


@pytest.fixture
def lib_store(store):
    papers = []
    with gzip.open(DEMO, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i >= 200:
                break
            r = json.loads(line)
            papers.append(Paper(id=r["id"], title=r["title"], abstract=r["summary"], authors=r["authors"],
                                categories=r["categories"], listed=r["listing_date"]))
    for p in papers:
        if p.id == "2606.15966":
            p.doi = "10.1145/3746027.3755123"
    upsert_papers(store, papers, source="listing")
    return store


def test_bibtex(lib_store):
    rep = library.import_library(lib_store, "user:1", LIB / "scholar-and-arxiv.bib")
    assert rep.entries == 5
    assert sorted(rep.matched.values()) == ["2606.15949", "2606.15956", "2606.15966", "2606.15967"]
    assert rep.how == {"arxiv_id": 2, "doi": 1, "title": 1}
    assert [e.title for e in rep.unmatched] == ["Attention is all you need"]
    assert "line" in rep.unmatched[0].position
    prof = profiles.load_profile(lib_store, "user:1")
    assert set(prof.positives) == set(rep.matched.values())
    assert all(kind == "import" for kind, _ in prof.positives.values())


def test_ris(lib_store):
    rep = library.import_library(lib_store, "sub:9", LIB / "zotero.ris")
    assert sorted(rep.matched.values()) == ["2606.15971", "2606.15972"]
    assert rep.how["arxiv_id"] == 2 and len(rep.unmatched) == 1
    assert rep.unmatched[0].doi == "10.1000/xyz123"


def test_zotero_csv(lib_store):
    rep = library.import_library(lib_store, "user:2", LIB / "zotero.csv")
    assert rep.matched == {"zotero.csv:line 2": "2606.15972", "zotero.csv:line 3": "2606.15949"}
    assert rep.how == {"arxiv_id": 1, "doi": 0, "title": 1}  # the second only by (re-cased) title
    assert [e.title for e in rep.unmatched] == ["Introduction to Information Retrieval"]


def test_id_list(lib_store):
    rep = library.import_library(lib_store, "user:3", LIB / "ids.txt")
    # five lines, the last is 2606.15966's DOI: same paper as the URL line
    assert rep.entries == 5 and not rep.unmatched
    assert sorted(set(rep.matched.values())) == ["2606.15949", "2606.15956", "2606.15966", "2606.15967"]
    assert rep.added == 4
    again = library.import_library(lib_store, "user:3", LIB / "ids.txt")
    assert again.added == 0  # re-importing changes nothing


def test_fuzzy_title_threshold(lib_store):
    assert library.match_title(lib_store, "VEPHand: view efficient photometric hand performance capture at scale.") == "2606.15966"
    assert library.match_title(lib_store, "FinBalance: a multi-document accounting benchmark for agents") is None
    assert library.match_title(lib_store, "short") is None


def test_identifier_parsing():
    assert library.find_arxiv_id("10.48550/arXiv.2501.01234") == "2501.01234"
    assert library.find_arxiv_id("arXiv preprint arXiv:2501.01234v3") == "2501.01234"
    assert library.find_arxiv_id("https://arxiv.org/pdf/hep-th/9901001v2") == "hep-th/9901001"
    assert library.find_arxiv_id("Journal of Things 12(3)") is None
    assert library.clean_doi("https://doi.org/10.1145/ABC.123.") == "10.1145/abc.123"
    assert library.clean_doi("not a doi") is None


def test_bad_input_is_a_clear_error_and_writes_nothing(lib_store, tmp_path):
    bad = tmp_path / "mine.txt"
    bad.write_text("2606.15949\nthis is not an id\n")
    with pytest.raises(library.LibraryError, match=r"mine.txt:line 2: neither an arXiv id nor a DOI"):
        library.import_library(lib_store, "user:5", bad)
    assert profiles.load_profile(lib_store, "user:5").positives == {}
    csvf = tmp_path / "x.csv"
    csvf.write_text("a,b\n1,2\n")
    with pytest.raises(library.LibraryError, match="Zotero CSV"):
        library.read_library(csvf)
    empty = tmp_path / "e.bib"
    empty.write_text("% nothing here\n")
    with pytest.raises(library.LibraryError, match="no entries"):
        library.read_library(empty)
    with pytest.raises(library.LibraryError, match="cannot read"):
        library.read_library(tmp_path / "missing.bib")
    with pytest.raises(ValueError, match="profile key"):
        library.import_library(lib_store, "bob", LIB / "ids.txt")


def test_format_detection():
    assert library.detect_format("x.bib", "") == "bibtex"
    assert library.detect_format("export", "TY  - JOUR\nTI  - x\nER  - \n") == "ris"
    assert library.detect_format("export", '"Key","Item Type","Title"\n') == "zotero_csv"
    assert library.detect_format("list", "2501.01234\n") == "ids"
