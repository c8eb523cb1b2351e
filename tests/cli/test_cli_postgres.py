"""The CLI on a PostgreSQL store: `--db postgresql://...` (or PAPERWIRE_DB) is a server's database,
not a file, so read-only commands open it instead of refusing it as a missing file, and the
commands that write and read work on it as they do on SQLite."""

from __future__ import annotations

from click.testing import CliRunner

from paperwire.cli import cli
from pg_support import pg_server, pg_url  # noqa: F401  (the fixtures)
from repo_paths import DATA

SNAPSHOT = DATA / "kaggle-snapshot-head.jsonl"


def test_ingest_stats_show_and_search_on_a_postgresql_url(pg_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no paperwire.toml here: the URL alone says where the store is
    runner = CliRunner()
    env = {"PAPERWIRE_DB": pg_url, "PAPERWIRE_CONFIG": None}
    r = runner.invoke(cli, ["stats"], env=env)
    assert r.exit_code == 0, r.output
    assert "papers: 0" in r.output

    r = runner.invoke(cli, ["ingest", str(SNAPSHOT)], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["stats"], env=env)
    assert r.exit_code == 0, r.output
    assert "papers: 200" in r.output
    r = runner.invoke(cli, ["show", "0704.0001"], env=env)
    assert r.exit_code == 0, r.output
    assert "diphoton" in r.output
    r = runner.invoke(cli, ["search", "diphoton", "--mode", "lexical"], env=env)
    assert r.exit_code == 0, r.output
    assert "0704.0001" in r.output
    assert not list(tmp_path.glob("postgres*")), "a URL must not become a local folder name"
