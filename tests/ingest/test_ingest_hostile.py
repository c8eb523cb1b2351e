"""Crafted records on every JSON source: a record with the wrong JSON types or text no encoder
can write (a lone surrogate) or XML cannot carry is reported with its position, field and reason
and skipped; every valid record around it is stored, also across resumed runs. Property-based:
any JSON value in any field never raises and never loses a valid record."""

from __future__ import annotations

import gzip
import json

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperwire.cli import cli
from paperwire.ingest import import_file
from paperwire.store import Store
from repo_paths import DEMO


def demo_lines(n: int) -> list[str]:
    with gzip.open(DEMO / "records.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [line for _, line in zip(range(n), fh)]


def hf_item(i: int, **paper) -> dict:
    return {"paper": {"id": f"2401.{i:05d}", "title": f"Paper {i}", "summary": "An abstract.",
                      "authors": [{"name": "Ada Lovelace"}], "publishedAt": "2024-01-02T00:00:00.000Z",
                      "upvotes": 3, **paper},
            "publishedAt": "2024-01-03T00:00:00.000Z", "title": f"Paper {i}"}


def stored_ids(store) -> set[str]:
    return {r[0] for r in store.query("SELECT id FROM papers")}


def test_hf_records_with_wrong_types_or_surrogates_are_reported_and_skipped(tmp_path):
    bad = [{"githubRepo": {"a": 1}}, {"githubRepo": {}}, {"projectPage": ["x"]}, {"publishedAt": 5},
           {"title": "bad \ud800 title"}, {"githubRepo": 12}, {"upvotes": 10 ** 30}, {"summary": "nul \x00 here"}]
    items = [hf_item(i) for i in range(20)]
    for k, fields in enumerate(bad):
        items[2 * k + 1]["paper"].update(fields)
    f = tmp_path / "hf.json"
    f.write_text(json.dumps(items))  # json.dumps writes the surrogate as a \\ud800 escape, as a crafted file would
    r = CliRunner().invoke(cli, ["--db", str(tmp_path / "a.db"), "ingest", str(f)])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    assert "Traceback" not in r.output
    store = Store(str(tmp_path / "a.db"))
    got = stored_ids(store)
    store.close()
    # every record whose fields are all usable is stored; "githubRepo": {} is simply no repository
    # "githubRepo": {} is simply no repository; a NUL in the abstract is dropped, the record kept
    kept = ({"githubRepo": {}}, {"summary": "nul \x00 here"})
    broken = {f"2401.{2 * k + 1:05d}" for k, fields in enumerate(bad) if fields not in kept}
    assert got == {f"2401.{i:05d}" for i in range(20)} - broken
    assert "position 2 (2401.00001): github_repo: must be text, not dict" in r.output
    assert "title: contains a lone surrogate (U+D800)" in r.output
    store = Store(str(tmp_path / "a.db"))
    assert store.query_one("SELECT abstract FROM papers WHERE id='2401.00015'")[0] == "nul  here"
    store.close()


def test_a_bad_line_late_in_a_big_file_costs_only_itself_also_when_resumed(tmp_path):
    lines = demo_lines(3001)
    expected = {json.loads(x)["id"] for i, x in enumerate(lines) if i != 2500}
    rec = json.loads(lines[2500])
    rec["title"] = rec["title"] + " \ud800"
    lines[2500] = json.dumps(rec) + "\n"
    f = tmp_path / "records.jsonl"
    f.write_text("".join(lines))
    store = Store(str(tmp_path / "a.db"))
    for _ in range(3):  # the second and third runs find everything stored and nothing to resume
        summary = import_file(store, f, parallel=False)
        assert summary.skipped == 1 and "line 2501" in summary.problems[0].position
    assert stored_ids(store) == expected
    store.close()


def test_a_record_the_store_refuses_does_not_drop_its_batch(tmp_path):
    # int fields that no SQLite integer holds, inside a batch of good ones
    items = [hf_item(i) for i in range(10)]
    items[4]["paper"]["githubStars"] = 2 ** 70
    f = tmp_path / "hf.json"
    f.write_text(json.dumps(items))
    store = Store(str(tmp_path / "a.db"))
    summary = import_file(store, f)
    assert len(stored_ids(store)) == 9 and summary.skipped == 1
    store.close()


# --- property-based: any JSON in any field ------------------------------------------------------

_text = st.text(alphabet=st.characters(codec=None, categories=None, exclude_characters=""), max_size=12) | \
    st.sampled_from(["\ud800", "\udfff", "\ufffe", "\uffff", "\x00", "javascript:alert(1)", ""])
_json = st.recursive(st.none() | st.booleans() | st.integers(min_value=-(2 ** 80), max_value=2 ** 80)
                     | st.floats(allow_nan=True, allow_infinity=True) | _text,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                     max_leaves=6)
_SNAPSHOT_FIELDS = ["id", "title", "abstract", "authors", "authors_parsed", "categories", "comments", "journal-ref",
                    "doi", "license", "submitter", "versions", "update_date"]
_HF_FIELDS = ["id", "title", "summary", "authors", "publishedAt", "upvotes", "githubRepo", "githubStars",
              "projectPage", "submittedOnDailyAt", "ai_summary", "ai_keywords", "organization", "numComments"]
_LISTING_FIELDS = ["id", "title", "summary", "abstract", "authors", "categories", "comment", "listing_date"]
_SETTINGS = settings(max_examples=40, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _import_with(tmp_path, name: str, content: str) -> tuple[set[str], object]:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8", errors="surrogatepass")
    db = tmp_path / f"{name}.db"
    db.unlink(missing_ok=True)
    store = Store(str(db))
    try:
        summary = import_file(store, path, parallel=False)
        return stored_ids(store), summary
    finally:
        store.close()


@_SETTINGS
@given(field=st.sampled_from(_SNAPSHOT_FIELDS), value=_json)
def test_snapshot_lines_with_any_json_value(tmp_path, field, value):
    lines = [json.loads(x) for x in demo_lines(4)]
    good = {r["id"] for i, r in enumerate(lines) if i != 1}
    lines[1][field] = value
    content = "".join(json.dumps(r) + "\n" for r in lines)
    ids, summary = _import_with(tmp_path, "snap.jsonl", content)
    assert good <= ids, (good - ids, summary.problems)  # never a lost valid record
    assert summary.read + summary.skipped == 4  # the crafted one: stored, or reported and skipped


@_SETTINGS
@given(field=st.sampled_from(_HF_FIELDS), value=_json)
def test_hf_items_with_any_json_value(tmp_path, field, value):
    items = [hf_item(i) for i in range(4)]
    items[2]["paper"][field] = value
    ids, summary = _import_with(tmp_path, "hf.json", json.dumps(items))
    assert {"2401.00000", "2401.00001", "2401.00003"} <= ids
    assert summary.read + summary.skipped == 4


@_SETTINGS
@given(field=st.sampled_from(_LISTING_FIELDS), value=_json)
def test_listing_lines_with_any_json_value(tmp_path, field, value):
    recs = [{"id": f"2402.{i:05d}", "title": f"T{i}", "summary": "s", "authors": ["A B"], "categories": ["cs.CL"],
             "listing_date": "2024-02-01"} for i in range(3)]
    recs[1][field] = value
    ids, summary = _import_with(tmp_path, "listing.jsonl", "".join(json.dumps(r) + "\n" for r in recs))
    assert {"2402.00000", "2402.00002"} <= ids
    assert summary.read + summary.skipped == 3
