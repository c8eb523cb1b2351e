"""`paperwire recommend --batch`: a TREC run ranking every candidate of the window for every
reader, with the same recommender as the site; clear errors for bad readers files."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperwire.cli import cli
from paperwire.config import Settings
from paperwire.ingest import import_file
from paperwire.ranking import recommend
from paperwire.store import open_store, profiles

DEMO = Path(__file__).parents[2] / "demo" / "records.jsonl.gz"
D1, D2 = "2026-06-26", "2026-07-01"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("batch") / "demo.db"
    st = open_store(path)
    import_file(st, DEMO, "listing")
    st.close()
    return str(path)


def _ids(db, cond, limit=8):
    st = open_store(db)
    try:
        return [r[0] for r in st.query(f"SELECT id FROM papers WHERE listed < ? AND {cond} ORDER BY id LIMIT ?",
                                       (D1, limit))]
    finally:
        st.close()


def test_batch_run_ranks_every_candidate_like_the_site(demo_db, tmp_path):
    cv = _ids(demo_db, "primary_category='cs.CV' AND title_display LIKE '%segmentation%'")
    cl = _ids(demo_db, "primary_category='cs.CL' AND (title_display LIKE '%translation%' OR title_display LIKE '%speech%')")
    readers = tmp_path / "readers.jsonl"
    readers.write_text("\n".join(json.dumps(x) for x in [
        {"reader": "cv", "profile": [{"id": p, "added": "2026-06-20"} for p in cv]},
        {"reader": "cl", "profile": [{"id": p, "added": "2026-06-20"} for p in cl], "negatives": []},
    ]) + "\n")
    run = tmp_path / "run.txt"
    r = CliRunner().invoke(cli, ["--db", demo_db, "recommend", "--batch", str(readers), "--from", D1, "--to", D2,
                                 "--run-out", str(run)])
    assert r.exit_code == 0, r.output
    st = open_store(demo_db)
    cands = set(profiles.window_paper_ids(st, D1, D2))
    lines = [line.split() for line in run.read_text().splitlines()]
    assert all(len(x) == 6 and x[1] == "Q0" and x[5] == "paperwire-fused" for x in lines)
    for name in ("cv", "cl"):
        rows = [x for x in lines if x[0] == name]
        assert {x[2] for x in rows} == cands and len(rows) == len(cands)  # every candidate, once
        assert [int(x[3]) for x in rows] == list(range(1, len(cands) + 1))
        scores = [float(x[4]) for x in rows]
        assert scores == sorted(scores, reverse=True)
    # the same top 10 as the site's recommender for the same profile
    s = Settings.load(env={}, db=demo_db)
    profiles.add_items(st, "user:batch-cv", cv, "import", at="2026-06-20T00:00:00Z")
    site = recommend.recommend(st, s, "user:batch-cv", D1, D2, limit=10,
                               now=datetime(2026, 7, 1, 23, 59, tzinfo=timezone.utc))
    st.close()
    top = [x[2] for x in lines if x[0] == "cv"][:10]
    assert top[:5] == [x.paper_id for x in site][:5]
    primary = {}
    st = open_store(demo_db)
    for pid in top:
        primary[pid] = st.query_one("SELECT primary_category FROM papers WHERE id=?", (pid,))[0]
    st.close()
    assert sum(v == "cs.CV" for v in primary.values()) >= 7


@pytest.mark.parametrize("content, message", [
    ("not json\n", "line 1: not JSON"),
    ('{"profile": []}\n', "line 1: needs a \"reader\""),
    ('{"reader": "a b", "profile": []}\n', "white space"),
    ('{"reader": "a", "profile": [{"id": "2606.00001", "added": "yesterday"}]}\n', "'added' must be a date"),
    ('{"reader": "a", "profile": []}\n{"reader": "a", "profile": []}\n', "line 2: reader 'a' appears twice"),
])
def test_batch_bad_readers_file_is_a_clear_error_and_writes_nothing(demo_db, tmp_path, content, message):
    readers = tmp_path / "readers.jsonl"
    readers.write_text(content)
    run = tmp_path / "run.txt"
    r = CliRunner().invoke(cli, ["--db", demo_db, "recommend", "--batch", str(readers), "--from", D1, "--to", D2,
                                 "--run-out", str(run)])
    assert r.exit_code == 1 and message in r.output
    assert not run.exists() and not list(tmp_path.glob(".run-*"))


def test_batch_needs_its_options(demo_db, tmp_path):
    readers = tmp_path / "readers.jsonl"
    readers.write_text('{"reader": "a", "profile": []}\n')
    r = CliRunner().invoke(cli, ["--db", demo_db, "recommend", "--batch", str(readers), "--from", D1])
    assert r.exit_code == 2 and "--run-out" in r.output
    r = CliRunner().invoke(cli, ["--db", demo_db, "recommend", "--batch", str(readers), "--from", D2, "--to", D1,
                                 "--run-out", str(tmp_path / "run.txt")])
    assert r.exit_code == 1 and "before" in r.output
