"""The XML and .abs sources under arbitrary input, as tests/ingest/test_ingest_hostile.py does for
the JSON ones: a recorded real file (an OAI-PMH ListRecords page, an arXiv API Atom feed, arXiv
.abs files) with one record changed, its field given any text (lone surrogates, U+FFFE/FFFF,
NUL, markup, as raw UTF-8 or as character references) or any bytes put inside it. The import
never raises, and every record that was not touched is stored."""

from __future__ import annotations

import itertools
import re
import shutil
import tarfile
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperwire.ingest import import_file
from paperwire.ingest.abs import abs_to_paper, parse_abs
from paperwire.ingest.arxiv_api import parse_atom_file
from paperwire.ingest.oaipmh import parse_oai_file
from paperwire.models import Paper
from paperwire.store import Store
from repo_paths import DATA

OAI_FILE = DATA / "arxiv-api-responses" / "oaipmh_hepcrawl" / "sample_arxiv_record.xml"
ATOM_FILE = DATA / "arxiv-api-responses" / "atom_arxiv_py" / "xml" / "q_testing_s0_m10_bc5a6c384fe9.xml"
ABS_ARCHIVE = DATA / "arxiv-abs-files.tar.gz"

_SETTINGS = settings(max_examples=30, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_text = st.text(alphabet=st.characters(codec=None, categories=None, exclude_characters=""), max_size=16) | \
    st.sampled_from(["\ud800", "\udfff", "\ufffe", "\uffff", "\x00", "\x1b[0m", "<b>", "]]>", "&amp;", "&bogus;",
                     "</title>", "<record>", "\\\\", "\n\\\\\n", "javascript:alert(1)", ""])
_encoding = st.sampled_from(["raw", "escaped", "charrefs"])
_counter = itertools.count()


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory):
    """A migrated, empty store, copied for each example (migrating one per example is slow)."""
    path = tmp_path_factory.mktemp("fuzzdb") / "empty.db"
    Store(str(path)).close()
    return path


def _encoded(value: str, how: str) -> bytes:
    """`value` as a crafted file would carry it inside an element: raw (markup and all), with
    the XML specials escaped, or every character as a numeric reference."""
    if how == "charrefs":
        return "".join(f"&#x{ord(c):x};" for c in value).encode()
    return (escape(value) if how == "escaped" else value).encode("utf-8", "surrogatepass")


def _import(empty_db, tmp_path, name: str, content: bytes | None = None, folder=None):
    """(stored ids, summary) of importing `content` as a file called `name` (or a folder)."""
    n = next(_counter)
    db = tmp_path / f"f{n}.db"
    shutil.copy(empty_db, db)
    if folder is None:
        path = tmp_path / f"{n}-{name}"
        path.write_bytes(content)
    else:
        path = folder
    store = Store(str(db))
    try:
        summary = import_file(store, path, parallel=False)
        return {r[0] for r in store.query("SELECT id FROM papers")}, summary
    finally:
        store.close()


def _ids(items) -> list[str]:
    return [it.id for _, it in items if isinstance(it, Paper)]


def _records(data: bytes, open_tag: bytes, close_tag: bytes) -> list[tuple[int, int]]:
    """(start, end) byte spans of the records of a document, in order."""
    starts = [m.start() for m in re.finditer(re.escape(open_tag) + rb"[\s>]", data)]
    return [(a, data.index(close_tag, a) + len(close_tag)) for a in starts]


def _with_field(data: bytes, span: tuple[int, int], tag: bytes, value: bytes) -> bytes:
    """`data` with the text of the first <tag> inside the record at `span` replaced by `value`."""
    a, b = span
    m = re.compile(rb"(<" + tag + rb"(?:\s[^>]*)?>)(.*?)(</" + tag + rb">)", re.S).search(data, a, b)
    assert m, tag
    return data[:m.start(2)] + value + data[m.end(2):]


# --- OAI-PMH -------------------------------------------------------------------------------------

OAI_DATA = OAI_FILE.read_bytes()
OAI_IDS = _ids(parse_oai_file(OAI_FILE))
OAI_SPANS = _records(OAI_DATA, b"<record", b"</record>")


def test_the_recorded_oai_page_has_records_to_spare():
    assert len(OAI_IDS) == len(OAI_SPANS) >= 3


@_SETTINGS
@given(k=st.integers(0, len(OAI_SPANS) - 1), tag=st.sampled_from([b"title", b"abstract", b"keyname", b"categories",
                                                                    b"created", b"updated", b"comments", b"doi", b"id"]),
       value=_text, how=_encoding)
def test_an_oai_record_with_any_text_in_a_field(empty_db, tmp_path, k, tag, value, how):
    span = OAI_SPANS[k]
    if not re.search(rb"<" + tag + rb"[\s>]", OAI_DATA[span[0]:span[1]]):
        return  # this record has no such field
    ids, summary = _import(empty_db, tmp_path, "oai.xml", _with_field(OAI_DATA, span, tag, _encoded(value, how)))
    untouched = set(OAI_IDS) - {OAI_IDS[k]}
    assert untouched <= ids, (untouched - ids, summary.problems[:3])
    assert summary.read + summary.skipped >= len(OAI_IDS) - 1


@_SETTINGS
@given(k=st.integers(0, len(OAI_SPANS) - 1), where=st.floats(0, 1), junk=st.binary(max_size=40))
def test_an_oai_record_with_any_bytes_inside(empty_db, tmp_path, k, where, junk):
    a, b = OAI_SPANS[k]
    at = a + 1 + int(where * (b - a - 2))
    ids, summary = _import(empty_db, tmp_path, "oai.xml", OAI_DATA[:at] + junk + OAI_DATA[at:])
    untouched = set(OAI_IDS) - {OAI_IDS[k]}
    assert untouched <= ids, (untouched - ids, summary.problems[:3])


# --- the arXiv API's Atom feeds ------------------------------------------------------------------

ATOM_DATA = ATOM_FILE.read_bytes()
ATOM_IDS = _ids(parse_atom_file(ATOM_FILE))
ATOM_SPANS = _records(ATOM_DATA, b"<entry", b"</entry>")


def test_the_recorded_feed_has_entries_to_spare():
    assert len(ATOM_IDS) == len(ATOM_SPANS) >= 3


@_SETTINGS
@given(k=st.integers(0, len(ATOM_SPANS) - 1), tag=st.sampled_from([b"title", b"summary", b"name", b"published",
                                                                     b"updated", b"arxiv:comment", b"id"]),
       value=_text, how=_encoding)
def test_an_atom_entry_with_any_text_in_a_field(empty_db, tmp_path, k, tag, value, how):
    span = ATOM_SPANS[k]
    if not re.search(rb"<" + tag + rb"[\s>]", ATOM_DATA[span[0]:span[1]]):
        return
    ids, summary = _import(empty_db, tmp_path, "feed.atom", _with_field(ATOM_DATA, span, tag, _encoded(value, how)))
    untouched = set(ATOM_IDS) - {ATOM_IDS[k]}
    assert untouched <= ids, (untouched - ids, summary.problems[:3])
    assert summary.read + summary.skipped >= len(ATOM_IDS) - 1


@_SETTINGS
@given(k=st.integers(0, len(ATOM_SPANS) - 1), where=st.floats(0, 1), junk=st.binary(max_size=40))
def test_an_atom_entry_with_any_bytes_inside(empty_db, tmp_path, k, where, junk):
    a, b = ATOM_SPANS[k]
    at = a + 1 + int(where * (b - a - 2))
    ids, summary = _import(empty_db, tmp_path, "feed.atom", ATOM_DATA[:at] + junk + ATOM_DATA[at:])
    untouched = set(ATOM_IDS) - {ATOM_IDS[k]}
    assert untouched <= ids, (untouched - ids, summary.problems[:3])


# --- arXiv .abs files ----------------------------------------------------------------------------

def _abs_texts(n: int) -> list[bytes]:
    with tarfile.open(ABS_ARCHIVE) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".abs")][:n]
        return [tar.extractfile(m).read() for m in members]


ABS = _abs_texts(4)
ABS_IDS = [abs_to_paper(t.decode("utf-8")).id for t in ABS]
_ABS_FIELDS = ["arXiv", "From", "Date", "Title", "Authors", "Categories", "Comments", "Journal-ref", "DOI",
               "License", "Report-no", "Date (revised v2)"]


def _abs_folder(tmp_path, changed: bytes, k: int):
    folder = tmp_path / f"abs{next(_counter)}"
    folder.mkdir()
    for i, text in enumerate(ABS):
        (folder / f"{i}.abs").write_bytes(changed if i == k else text)
    return folder


@_SETTINGS
@given(k=st.integers(0, len(ABS) - 1), field=st.sampled_from(_ABS_FIELDS), value=_text)
def test_an_abs_file_with_any_text_in_a_header_field(empty_db, tmp_path, k, field, value):
    text = ABS[k].decode("utf-8")
    line = f"{field}: {value}"
    # replace the field's line, or add it after the id line when the file has none
    changed, n = re.subn(rf"^{re.escape(field)}:.*$", lambda _: line, text, count=1, flags=re.M)
    if not n:
        changed = re.sub(r"^(arXiv:.*)$", lambda m: m.group(1) + "\n" + line, text, count=1, flags=re.M)
    ids, summary = _import(empty_db, tmp_path, "", folder=_abs_folder(tmp_path, changed.encode("utf-8", "surrogatepass"), k))
    untouched = set(ABS_IDS) - {ABS_IDS[k]}
    assert untouched <= ids, (untouched - ids, summary.problems[:3])
    assert summary.read + summary.skipped == len(ABS)  # the changed file: stored, or reported and skipped


@_SETTINGS
@given(k=st.integers(0, len(ABS) - 1), where=st.floats(0, 1), junk=st.binary(max_size=60))
def test_an_abs_file_with_any_bytes_inside(empty_db, tmp_path, k, where, junk):
    at = int(where * len(ABS[k]))
    changed = ABS[k][:at] + junk + ABS[k][at:]
    ids, summary = _import(empty_db, tmp_path, "", folder=_abs_folder(tmp_path, changed, k))
    untouched = set(ABS_IDS) - {ABS_IDS[k]}
    assert untouched <= ids, (untouched - ids, summary.problems[:3])
    assert summary.read + summary.skipped == len(ABS)


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(max_size=400) | st.binary(max_size=400).map(lambda b: b.decode("utf-8", "replace")))
def test_abs_to_paper_refuses_anything_with_a_reason(text):
    """Any text at all: a Paper or a ValueError saying why, never another exception."""
    try:
        abs_to_paper(text)
    except ValueError as exc:
        assert str(exc)


def test_a_cut_off_abs_archive_keeps_the_files_before_the_cut(empty_db, tmp_path):
    data = ABS_ARCHIVE.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    whole = _ids(parse_abs(ABS_ARCHIVE))
    ids, summary = _import(empty_db, tmp_path, "", folder=cut)
    assert 0 < len(ids) < len(whole) and ids <= set(whole)
    assert any("damaged or truncated" in p.reason for p in summary.problems)
