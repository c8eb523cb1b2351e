"""The site's CLI commands: user create / admin, token create (serve is exercised by the
live-server tests in test_api.py and test_browser.py)."""

from __future__ import annotations

from click.testing import CliRunner

from paperwire.cli import cli
from paperwire.store import open_store, users


def test_user_and_token_commands(tmp_path):
    db = str(tmp_path / "cli.db")
    run = CliRunner().invoke
    r = run(cli, ["--db", db, "user", "create", "admin@example.org", "root", "--admin"],
            env={"PAPERWIRE_NEW_PASSWORD": "a long password"})
    assert r.exit_code == 0, r.output
    assert "created administrator root" in r.output
    dup = run(cli, ["--db", db, "user", "create", "admin@example.org", "root2"], env={"PAPERWIRE_NEW_PASSWORD": "a long password"})
    assert dup.exit_code == 1 and "exists" in dup.output
    r = run(cli, ["--db", db, "token", "create", "root", "--name", "ci"])
    assert r.exit_code == 0
    token = r.output.strip()
    store = open_store(db)
    assert users.user_for_token(store, token).username == "root"
    assert users.authenticate(store, "admin@example.org", "a long password").is_admin
    assert run(cli, ["--db", db, "token", "create", "ghost"]).exit_code == 1
    assert run(cli, ["--db", db, "user", "admin", "root", "--revoke"]).exit_code == 0
    assert not users.get_user_by_name(store, "root").is_admin
    store.close()


def test_a_token_created_for_some_days_stops_working_when_they_are_over(tmp_path):
    db = str(tmp_path / "cli.db")
    run = CliRunner().invoke
    assert run(cli, ["--db", db, "user", "create", "a@example.org", "ada"],
               env={"PAPERWIRE_NEW_PASSWORD": "a long password"}).exit_code == 0
    r = run(cli, ["--db", db, "token", "create", "ada", "--name", "ci", "--days", "2"])
    assert r.exit_code == 0, r.output
    token = r.output.strip()
    assert run(cli, ["--db", db, "token", "create", "ada", "--days", "0"]).exit_code == 2  # usage error
    listed = run(cli, ["--db", db, "token", "list", "ada"])
    assert listed.exit_code == 0 and "ci" in listed.output
    store = open_store(db)
    assert users.user_for_token(store, token).username == "ada"
    expires = store.query_one("SELECT expires_at FROM api_tokens WHERE name='ci'")[0]
    assert expires and expires[:4].isdigit() and expires in listed.output
    with store.transaction() as conn:  # two days later
        conn.execute("UPDATE api_tokens SET expires_at='2000-01-01T00:00:00Z' WHERE name='ci'")
    assert users.user_for_token(store, token) is None
    store.close()
