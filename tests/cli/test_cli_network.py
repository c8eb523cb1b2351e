"""Commands that reach the network fail at once, with a clear error and exit 1, when a host
name does not resolve (offline, no DNS): retrying cannot help, so nothing waits out a retry
schedule. Hosts under .invalid never resolve (RFC 2606). And the digest dry run says what
it did: built, written, nothing queued."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from paperwire.cli import cli
from paperwire.config import Settings
from paperwire.models import Paper, Version
from paperwire.store import open_store
from paperwire.store.papers import upsert_papers

OFFLINE = "http://paperwire-test.invalid"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "n.db"
    store = open_store(Settings.load(env={}, db=str(path)))
    papers = [Paper(id=f"2501.0000{i}", title=f"Paper {i}", abstract=f"Code: https://github.com/acme/repo{i}",
                    authors=["Ada Lovelace"], categories=["cs.LG"], published="2025-01-05T00:00:00Z",
                    listed="2025-01-06", versions=[Version(1, "2025-01-05T00:00:00Z")]) for i in range(1, 6)]
    upsert_papers(store, papers, source="test")
    store.close()
    return str(path)


@pytest.mark.parametrize("args", [["harvest", "oai", "--url", f"{OFFLINE}/oai", "--from", "2025-01-01"],
                                  ["harvest", "arxiv", "--id", "2501.00001", "--url", f"{OFFLINE}/api/query"],
                                  ["harvest", "hf", "--date", "2025-01-06", "--url", OFFLINE]])
def test_harvest_fails_at_once_on_an_unresolvable_host(db, args, caplog):
    caplog.set_level(logging.WARNING)
    r = CliRunner().invoke(cli, ["--db", db, *args], env={"PAPERWIRE_HTTP_DELAY": "0"})
    assert r.exit_code == 1, r.output
    assert "cannot resolve the host name" in r.output
    assert "paperwire-test.invalid" in r.output
    assert not [rec for rec in caplog.records if "retrying" in rec.getMessage()]  # no retry was attempted


def test_signals_refresh_stops_and_fails_when_github_is_unreachable(db):
    r = CliRunner().invoke(cli, ["--db", db, "signals", "refresh", "--limit", "5"],
                           env={"PAPERWIRE_GITHUB_API_URL": OFFLINE})
    assert r.exit_code == 1, r.output
    assert "checked 0" in r.output  # stopped at the first repository, not 5 failures in a row
    assert "cannot resolve the host name" in r.output
    assert "HTTP None" not in r.output


def test_digest_dry_run_with_no_subscriber_says_nothing_was_written(db, tmp_path):
    out = tmp_path / "dry"
    r = CliRunner().invoke(cli, ["--db", db, "digest", "build", "--dry-run", "--as-of", "2025-01-06",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "0 subscriber(s)" in r.output
    assert "no file written" in r.output and "nothing queued, nothing sent" in r.output
    assert "written to" not in r.output and "queued 0" not in r.output
