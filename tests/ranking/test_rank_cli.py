"""The issue-6 CLI commands end to end on a real database file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from paperwire.cli import cli
from paperwire.models import HFEntry, Paper
from paperwire.store import open_store, profiles
from paperwire.store.papers import upsert_papers

LIB = Path(__file__).parents[1] / "data" / "library"


def _db(tmp_path) -> str:
    db = str(tmp_path / "cli.db")
    st = open_store(db)
    upsert_papers(st, [HFEntry(Paper(id="2606.15949", title="FinBalance: A Multi-Document Accounting Reconciliation Benchmark",
                                     abstract="accounting reconciliation benchmark for language models", listed="2026-06-30"),
                               featured_on="2026-06-30", upvotes=12),
                       HFEntry(Paper(id="2606.15956", title="Visual Representation Learning via Temporal Differences",
                                     abstract="video representation learning", listed="2026-06-29"),
                               featured_on="2026-06-29", upvotes=3)], source="hf")
    upsert_papers(st, [Paper(id="2606.15971", title="SAG: SQL-Retrieval Augmented Generation with Query-Time Dynamic Hyperedges",
                             abstract="retrieval augmented generation over tables", listed="2026-07-01")], source="listing")
    st.close()
    return db


def test_trending_json(tmp_path):
    db = _db(tmp_path)
    r = CliRunner().invoke(cli, ["--db", db, "trending", "--window", "week", "--json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert [x["id"] for x in rows][:2] == ["2606.15949", "2606.15956"]  # HF upvotes beat bare recency
    for x in rows:
        assert abs(sum(x["parts"].values()) - x["score"]) < 1e-9
    assert rows[0]["inputs"]["hf_upvotes"] == 12
    assert rows[0]["reasons"][0] == "12 upvotes on Hugging Face"  # the parts in words
    text = CliRunner().invoke(cli, ["--db", db, "trending", "--window", "week"])
    assert "12 upvotes on Hugging Face (" in text.output and "hf_upvotes" not in text.output
    bad = CliRunner().invoke(cli, ["--db", db, "trending", "--now", "yesterday-ish"])
    assert bad.exit_code == 2 and "--now" in bad.output


def test_profile_import_and_recommend(tmp_path):
    db = _db(tmp_path)
    runner = CliRunner()
    r = runner.invoke(cli, ["--db", db, "profile", "import", str(LIB / "scholar-and-arxiv.bib"), "--user", "1",
                            "--show-unmatched"])
    assert r.exit_code == 0, r.output
    assert "matched 2" in r.output and "unmatched 3" in r.output
    assert "Attention is all you need" in r.output
    st = open_store(db)
    assert set(profiles.load_profile(st, "user:1").positives) == {"2606.15949", "2606.15956"}
    bad = tmp_path / "bad.txt"
    bad.write_text("not an id\n")
    r = runner.invoke(cli, ["--db", db, "profile", "import", str(bad), "--subscriber", "3"])
    assert r.exit_code == 1 and "neither an arXiv id nor a DOI" in r.output
    assert profiles.load_profile(st, "sub:3").positives == {}
    r = runner.invoke(cli, ["--db", db, "recommend", "--user", "1", "--json", "--since", "2026-06-01"])
    assert r.exit_code == 0, r.output
    recs = [json.loads(line) for line in r.output.splitlines()]
    assert [x["id"] for x in recs] == ["2606.15971"]  # the reader's own papers are never recommended
    assert runner.invoke(cli, ["--db", db, "recommend"]).exit_code == 2
    st.close()
