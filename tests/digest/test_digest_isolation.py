"""One subscriber whose stored preferences no encoder can write (a lone surrogate stored before
the input checks existed) is reported and skipped; everyone else gets their digest, on every run.
A subscriber can also void every link already mailed to them."""

from __future__ import annotations

import json

from click.testing import CliRunner

from digest_support import active, token_of
from paperwire.cli import cli
from paperwire.digest import period, subscriptions
from paperwire.store import subscriptions as subs

AS_OF = "2026-07-01"


def _poison(store, sub_id: int) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE subscribers SET topics=? WHERE id=?", (json.dumps(["\ud800 retrieval"]), sub_id))


def test_a_bad_subscriber_is_skipped_and_reported(mail_env):
    store, settings, _ = mail_env
    good = [active(store, settings, f"ok{i}@example.org", topics=["retrieval"], categories=["cs.CL"]) for i in range(2)]
    bad = active(store, settings, "bad@example.org", topics=["speech"])
    _poison(store, bad.id)
    report = period.build_period(store, settings, "daily", as_of=AS_OF)
    assert report.queued + report.empty == 2
    assert len(report.failed) == 1 and f"subscriber {bad.id}" in report.failed[0]
    queued = {r.to_addr for r in subs.outbox_rows(store, status="pending")}
    assert bad.email not in queued and len(queued) == report.queued
    assert queued <= {g.email for g in good}
    # the CLI says so and exits 0 for the others' sake; the next run retries only the bad one
    r = CliRunner().invoke(cli, ["--db", str(settings.db), "digest", "build", "--as-of", AS_OF],
                           env={"PAPERWIRE_SECRET_KEY": settings.secret_key})
    assert "Traceback" not in r.output and "FAILED for 1" in r.output and f"skipped subscriber {bad.id}" in r.output
    assert r.exit_code == 0


def test_new_links_void_the_old_ones(mail_env):
    from fastapi.testclient import TestClient

    from paperwire.web.app import create_app

    store, settings, _ = mail_env
    sub = active(store, settings, "fwd@example.org")
    old = token_of(subscriptions.links_for(settings, sub).preferences)
    with TestClient(create_app(settings, store), follow_redirects=False) as c:
        page = c.get("/preferences", params={"token": old})
        assert page.status_code == 200 and "new-links" in page.text
        import re

        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = c.post("/preferences/new-links", params={"token": old}, data={"csrf": csrf})
        assert r.status_code == 303
        new = token_of("http://x" + r.headers["location"])
        assert c.get("/preferences", params={"token": old}).status_code == 403
        assert c.get("/preferences", params={"token": new}).status_code == 200
        assert c.get("/api/v1/subscriptions/me", params={"token": old}).status_code == 403
