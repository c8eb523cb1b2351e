"""The CLI finds a checkout's database through the nearest paperwire.toml (as scripts/demo.sh
writes it), from the checkout or any folder below it, and a command that only reads never
creates an empty database: it says where it looked and exits 1."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from paperwire.cli import cli
from repo_paths import DATA

SNAPSHOT = DATA / "kaggle-snapshot-head.jsonl"


@pytest.fixture
def runner():
    return CliRunner()


def test_commands_anywhere_in_a_checkout_use_its_paperwire_toml(tmp_path, monkeypatch, runner):
    checkout = tmp_path / "checkout"
    (checkout / "docs" / "deep").mkdir(parents=True)
    (checkout / "paperwire.toml").write_text('db = "var/demo.db"\n')
    (checkout / "var").mkdir()
    monkeypatch.chdir(checkout)
    r = runner.invoke(cli, ["ingest", str(SNAPSHOT)], env={"PAPERWIRE_DB": None, "PAPERWIRE_CONFIG": None})
    assert r.exit_code == 0, r.output
    assert (checkout / "var" / "demo.db").exists()

    monkeypatch.chdir(checkout / "docs" / "deep")  # a new shell, somewhere inside the checkout
    r = runner.invoke(cli, ["stats"], env={"PAPERWIRE_DB": None, "PAPERWIRE_CONFIG": None})
    assert r.exit_code == 0, r.output
    assert "papers: 200" in r.output
    r = runner.invoke(cli, ["show", "0704.0001"], env={"PAPERWIRE_DB": None, "PAPERWIRE_CONFIG": None})
    assert r.exit_code == 0, r.output
    assert "diphoton" in r.output
    assert not (checkout / "docs" / "deep" / "paperwire.db").exists()


@pytest.mark.parametrize("args", [["stats"], ["show", "2503.11731"], ["latest"], ["search", "graph networks"],
                                  ["trending"], ["index"], ["digest", "status"], ["recommend", "--user", "1"],
                                  ["profile", "show", "--user", "1"], ["signals", "refresh"]])
def test_read_only_commands_never_create_an_empty_store(tmp_path, monkeypatch, runner, args):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(cli, args, env={"PAPERWIRE_DB": None, "PAPERWIRE_CONFIG": None})
    assert r.exit_code == 1, r.output
    assert "no paperwire database at" in r.output and "nothing was created" in r.output
    assert str(tmp_path / "paperwire.db") in r.output
    assert list(tmp_path.iterdir()) == []


def test_explicit_missing_db_is_refused_but_ingest_creates_it(tmp_path, runner):
    db = tmp_path / "new.db"
    r = runner.invoke(cli, ["--db", str(db), "stats"])
    assert r.exit_code == 1 and not db.exists()
    r = runner.invoke(cli, ["--db", str(db), "ingest", str(SNAPSHOT)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["--db", str(db), "stats"])
    assert r.exit_code == 0 and "papers: 200" in r.output
