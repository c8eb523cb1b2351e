"""Building digests into the outbox and delivering them to a real SMTP server (aiosmtpd on
127.0.0.1): content and headers, idempotence, 4xx retry, 5xx bounce, crash and re-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from digest_support import (SECRET, active, demo_db, html_part, local, text_part, token_of)
from paperwire import schedule
from paperwire.digest import outbox, period, subscriptions
from paperwire.store import open_store
from paperwire.store import subscriptions as subs

AS_OF = "2026-07-01"


def test_digest_content_and_headers(mail_env):
    store, settings, smtp = mail_env
    sub = active(store, settings, "reader@example.org", categories=["cs.CL"], topics=["hallucination detection"],
                 size=5)
    report = period.build_period(store, settings, "daily", as_of=AS_OF)
    assert (report.subscribers, report.queued, report.papers) == (1, 1, 300)
    sent = outbox.deliver(store, settings)
    assert sent.sent == 1 and sent.waiting == 0
    [msg] = smtp.to("reader@example.org")
    # headers every digest carries
    assert msg["From"] == settings.mail_from and msg["Date"]
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@paperwire.test>")
    assert msg["List-Id"] == "paperwire digest <digest.testserver.local>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsub = msg["List-Unsubscribe"].strip("<>")
    assert unsub.startswith("http://testserver/unsubscribe?token=")
    # multipart: plain text + HTML
    assert msg.get_content_type() == "multipart/alternative"
    text, html = text_part(msg), html_part(msg)
    assert "5 new papers picked for you" in text
    assert text.count("\n* ") + text.startswith("* ") >= 5
    assert "Why: matches your topic 'hallucination detection'" in text
    assert "Why: cs.CL" in text
    assert "/preferences?token=" in text and unsub in text
    assert "<table" in html and 'style="' in html and "Why: " in html
    # no trending signals (upvotes, stars, HF, views) in this store: no "trending" section or reason
    assert "TRENDING THIS WEEK" not in text and "trending" not in text.lower().replace("trending papers", "")
    # every item was listed on the digest's day and is in cs.CL (the interests)
    from paperwire.store.papers import get_papers

    row = subs.outbox_rows(store, period="daily:2026-07-01")[0]
    ids = [line.split(" | ")[0].strip() for line in row.text_body.splitlines() if " | cs." in line]
    papers = get_papers(store, ids[:5])
    assert all(p.listed == AS_OF for p in papers.values())
    assert all(any(c == "cs.CL" for c in p.categories) for p in list(papers.values())[:5])
    assert subs.get_subscriber(store, sub.id).last_until == AS_OF
    # the List-Unsubscribe URL works as RFC 8058 one-click against the site
    from paperwire.web.app import create_app

    with TestClient(create_app(settings, store), base_url="http://testserver") as client:
        r = client.post(local(unsub), content=b"List-Unsubscribe=One-Click",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    assert subs.get_subscriber(store, sub.id).status == "unsubscribed"


def test_build_and_send_are_idempotent(mail_env):
    store, settings, smtp = mail_env
    for i in range(3):
        active(store, settings, f"r{i}@example.org", categories=["cs.CV"])
    assert period.build_period(store, settings, "daily", as_of=AS_OF).queued == 3
    assert period.build_period(store, settings, "daily", as_of=AS_OF).queued == 0
    assert outbox.deliver(store, settings).sent == 3
    assert outbox.deliver(store, settings).sent == 0
    assert len(smtp.messages) == 3 and len({m["To"] for m in smtp.messages}) == 3
    # next day: nothing new was listed after 2026-07-01, so nothing is built or sent
    rep = period.build_period(store, settings, "daily", as_of="2026-07-02")
    assert rep.queued == 0 and rep.empty == 3


def test_preference_changes_show_in_the_next_digest(mail_env):
    store, settings, smtp = mail_env
    sub = active(store, settings, "switch@example.org", categories=["cs.CV"], size=3)
    subs.update_preferences(store, sub.id, subscriptions.parse_preferences(
        {"categories": "cs.CL", "authors": "", "topics": "", "seeds": "", "size": "2"}))
    period.build_period(store, settings, "daily", as_of=AS_OF)
    outbox.deliver(store, settings)
    [msg] = smtp.to("switch@example.org")
    text = text_part(msg)
    assert "2 new papers picked for you" in text
    assert text.count("Why: cs.CL") == 2 and "Why: cs.CV" not in text


def test_unsubscribing_after_build_cancels_the_queued_digest(mail_env):
    store, settings, smtp = mail_env
    sub = active(store, settings, "gone@example.org", categories=["cs.CV"])
    period.build_period(store, settings, "daily", as_of=AS_OF)
    subscriptions.unsubscribe(store, sub)
    assert outbox.deliver(store, settings).sent == 0
    assert smtp.messages == []
    assert subs.outbox_rows(store, period="daily:2026-07-01")[0].status == "cancelled"


def test_temporary_failure_is_retried_with_backoff(mail_env):
    store, settings, smtp = mail_env
    active(store, settings, "slow@example.org", categories=["cs.AI"])
    period.build_period(store, settings, "daily", as_of=AS_OF)
    smtp.data_replies = ["451 4.3.0 Mailbox busy, try again", "421 4.7.0 Try again later"]
    sleeps = []
    report = outbox.deliver(store, settings, sleep=lambda s: (sleeps.append(s), time.sleep(s)))
    assert report.sent == 1 and report.retried == 2
    # backoff doubles: 0.05 s, then 0.1 s (digest_retry_base = 0.05)
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 1.5
    assert len(smtp.to("slow@example.org")) == 1
    row = subs.outbox_rows(store, period="daily:2026-07-01")[0]
    assert row.status == "sent" and row.attempts == 3


def test_temporary_failures_give_up_after_max_attempts(mail_env):
    store, settings, smtp = mail_env
    settings.digest_max_attempts = 2
    active(store, settings, "never@example.org", categories=["cs.AI"])
    period.build_period(store, settings, "daily", as_of=AS_OF)
    smtp.data_replies = ["451 4.3.0 busy"] * 5
    report = outbox.deliver(store, settings)
    assert report.failed == 1 and report.sent == 0
    row = subs.outbox_rows(store, period="daily:2026-07-01")[0]
    assert row.status == "failed" and "451" in row.last_error
    # still subscribed: a temporary problem does not remove the address
    assert subs.get_by_email(store, "never@example.org").status == "active"


def test_permanent_failure_marks_the_address_and_stops_mailing_it(mail_env):
    store, settings, smtp = mail_env
    bad = active(store, settings, "nobody@example.org", categories=["cs.CV"])
    good = active(store, settings, "somebody@example.org", categories=["cs.CV"])
    smtp.rcpt_replies["nobody@example.org"] = "550 5.1.1 No such user"
    period.build_period(store, settings, "daily", as_of=AS_OF)
    report = outbox.deliver(store, settings)
    assert report.bounced == 1 and report.sent == 1
    after = subs.get_subscriber(store, bad.id)
    assert after.status == "bounced" and "550" in after.bounce_reason
    assert subs.get_subscriber(store, good.id).status == "active"
    assert len(smtp.to("somebody@example.org")) == 1 and smtp.to("nobody@example.org") == []
    # the next period builds nothing for the bounced address
    rep = period.build_period(store, settings, "weekly", as_of=AS_OF)
    assert rep.subscribers == 0
    subs.update_preferences(store, good.id, {"frequency": "weekly"})
    subs.update_preferences(store, bad.id, {"frequency": "weekly"})
    rep = period.build_period(store, settings, "weekly", as_of=AS_OF)
    assert rep.subscribers == 1


def _cli_env(settings, port):
    e = dict(os.environ)
    e.update(PAPERWIRE_DB=settings.db, PAPERWIRE_SECRET_KEY=SECRET, PAPERWIRE_SMTP_HOST="127.0.0.1",
             PAPERWIRE_SMTP_PORT=str(port), PAPERWIRE_SMTP_SECURITY="plain", PAPERWIRE_BASE_URL="http://testserver",
             PAPERWIRE_MAIL_FROM="paperwire <digest@paperwire.test>", PAPERWIRE_DIGEST_RETRY_BASE="0.05",
             PYTHONPATH=str(Path(__file__).parents[2]))
    return e


@pytest.mark.slow
def test_killed_midway_then_rerun_sends_each_digest_exactly_once(mail_env, smtp):
    store, settings, handler = mail_env
    M, N = 6, 2
    for i in range(M):
        active(store, settings, f"crash{i}@example.org", categories=["cs.CV"])
    cmd = [sys.executable, "-m", "paperwire", "digest", "send", "--period", "daily", "--as-of", AS_OF]
    started = threading.Event()
    holder = {}

    def on_mail(accepted):
        # after N accepted messages, kill the sender (SIGKILL: no cleanup) as it starts the next
        if accepted >= N and "killed" not in holder:
            started.wait(10)
            holder["killed"] = True
            os.kill(holder["proc"].pid, signal.SIGKILL)
            return "421 4.3.2 Service shutting down"
        return None

    handler.on_mail = on_mail
    proc = subprocess.Popen(cmd, env=_cli_env(settings, smtp.port), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    holder["proc"] = proc
    started.set()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    assert len(handler.messages) == N
    handler.on_mail = None
    rerun = subprocess.run(cmd, env=_cli_env(settings, smtp.port), capture_output=True, timeout=120, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"sent {M - N}," in rerun.stdout
    # every subscriber got exactly one digest, and no message went out twice
    to = sorted(m["To"] for m in handler.messages)
    assert to == sorted(f"crash{i}@example.org" for i in range(M))
    assert len({m["Message-ID"] for m in handler.messages}) == M
    assert {r.status for r in subs.outbox_rows(store, period="daily:2026-07-01")} == {"sent"}
    # and a third run has nothing left to do
    third = subprocess.run(cmd, env=_cli_env(settings, smtp.port), capture_output=True, timeout=120, text=True)
    assert third.returncode == 0 and "sent 0," in third.stdout and len(handler.messages) == M


def test_cli_dry_run_writes_files_and_queues_nothing(mail_env, tmp_path):
    from paperwire.cli import cli

    store, settings, smtp = mail_env
    active(store, settings, "dry@example.org", categories=["cs.CL"], size=3)
    out = tmp_path / "dry"
    runner = CliRunner()
    r = runner.invoke(cli, ["--db", settings.db, "digest", "build", "--period", "daily", "--as-of", "latest",
                            "--dry-run", "--out", str(out)], env={"PAPERWIRE_SECRET_KEY": SECRET}, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    # a dry run queues nothing, and says so (it once printed "queued 1")
    assert "built 1 digest(s)" in r.output and f"wrote 3 file(s) to {out}/" in r.output
    assert "nothing queued, nothing sent" in r.output and "queued 1" not in r.output
    files = sorted(p.name for p in out.iterdir())
    assert files == ["dry_example.org.daily-2026-07-01.eml", "dry_example.org.daily-2026-07-01.html",
                     "dry_example.org.daily-2026-07-01.txt"]
    import email
    import email.policy

    msg = email.message_from_bytes((out / files[0]).read_bytes(), policy=email.policy.default)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and "3 new papers" in text_part(msg)
    assert subs.outbox_rows(store, period="daily:2026-07-01") == []
    assert subs.get_by_email(store, "dry@example.org").last_until is None
    assert smtp.messages == []


def test_cli_send_refuses_clearly_while_mail_is_off(tmp_path):
    from paperwire.cli import cli

    db = demo_db(tmp_path)
    runner = CliRunner()
    r = runner.invoke(cli, ["--db", str(db), "digest", "send", "--as-of", AS_OF], env={"PAPERWIRE_SMTP_HOST": ""})
    assert r.exit_code == 1 and "e-mail is off: set smtp_host" in r.output
    # subscribing still works: the confirmation link is printed for the operator
    r = runner.invoke(cli, ["--db", str(db), "subscribe", "op@example.org", "--category", "cs.CL"],
                      env={"PAPERWIRE_SMTP_HOST": ""})
    assert r.exit_code == 0 and "/subscribe/confirm?token=" in r.output
    r = runner.invoke(cli, ["--db", str(db), "subscribe", "not an address"], env={"PAPERWIRE_SMTP_HOST": ""})
    assert r.exit_code == 1 and "not a valid e-mail address" in r.output


def test_cli_subscribe_sends_confirmation_and_send_delivers(mail_env):
    from paperwire.cli import cli

    store, settings, smtp = mail_env
    e = _cli_env(settings, settings.smtp_port)
    runner = CliRunner()
    r = runner.invoke(cli, ["subscribe", "cli@example.org", "--category", "cs.CV", "--size", "2"], env=e)
    assert r.exit_code == 0 and "confirmation sent to cli@example.org" in r.output, r.output
    [confirm] = smtp.to("cli@example.org")
    from digest_support import link_in

    subscriptions.check_confirm_token(store, settings, token_of(link_in(text_part(confirm), "/subscribe/confirm")))
    r = runner.invoke(cli, ["digest", "send", "--as-of", AS_OF, "--to", "cli@example.org"], env=e)
    assert r.exit_code == 0 and "sent 1," in r.output, r.output
    assert len(smtp.to("cli@example.org")) == 2
    r = runner.invoke(cli, ["digest", "status"], env=e)
    assert "active 1" in r.output and "sent 2" in r.output


def test_topics_run_as_saved_searches_through_the_search_engine(mail_env, tmp_path):
    from paperwire.search.engine import SearchEngine

    store, settings, smtp = mail_env
    active(store, settings, "topic@example.org", topics=["hallucination detection"], size=4)
    # no embedding model here: the hybrid search answers from its word side, as it does before
    # `paperwire index` has run
    settings.embed_model = str(tmp_path / "no-model")
    report = period.build_period(store, settings, "daily", as_of=AS_OF, engine=SearchEngine(store, settings))
    assert report.queued == 1 and report.topic_method == "saved searches (lexical)"
    [row] = subs.outbox_rows(store, period="daily:2026-07-01")
    # three papers of the day are about hallucination detection (both words); a fourth that
    # shares one of the words is not labelled as matching the topic (the topic floor)
    assert row.text_body.count("Why: matches your topic 'hallucination detection'") == 3
    assert "3 new papers picked for you" in row.text_body
    assert "CORTEX: Token-Level Hallucination Detection" in row.text_body


def test_schedule_once_builds_daily_and_weekly_and_sends(mail_env):
    from paperwire.cli import cli

    store, settings, smtp = mail_env
    active(store, settings, "day@example.org", categories=["cs.CL"], size=2)
    week = active(store, settings, "week@example.org", categories=["cs.CV"], size=3)
    subs.update_preferences(store, week.id, {"frequency": "weekly"})
    subscriptions.subscribe(store, settings, "unconfirmed@example.org", send=False)
    e = _cli_env(settings, settings.smtp_port)
    e.update(PAPERWIRE_DIGEST_WEEKDAY="2",  # 2026-07-01 is a Wednesday
             PAPERWIRE_HARVEST_SOURCES="")  # no network in tests
    r = CliRunner().invoke(cli, ["schedule", "--once", "--as-of", AS_OF, "--no-refresh"], env=e)
    assert r.exit_code == 0, r.output
    assert "daily:2026-07-01: 1 subscriber(s)" in r.output and "weekly:2026-W27: 1 subscriber(s)" in r.output
    # two digests, plus the confirmation that was still queued: the unconfirmed address gets
    # that and nothing else
    assert "sent 3," in r.output
    assert len(smtp.to("day@example.org")) == 1 and len(smtp.to("week@example.org")) == 1
    assert "3 new papers" in text_part(smtp.to("week@example.org")[0])
    [only] = smtp.to("unconfirmed@example.org")
    assert only["Subject"].startswith("Confirm")
    # the next day's run has nothing new for anyone (no later listings in the demo data)
    r = CliRunner().invoke(cli, ["schedule", "--once", "--as-of", "2026-07-02", "--no-refresh"], env=e)
    assert r.exit_code == 0 and "sent 0," in r.output and len(smtp.messages) == 3


def test_next_run_time():
    from datetime import datetime, timezone

    t = datetime(2026, 7, 1, 5, 59, tzinfo=timezone.utc)
    assert schedule.next_run(t, 6) == datetime(2026, 7, 1, 6, 0, tzinfo=timezone.utc)
    assert schedule.next_run(t.replace(hour=6), 6) == datetime(2026, 7, 2, 6, 0, tzinfo=timezone.utc)


def test_two_overlapping_send_runs_send_each_message_once(mail_env):
    store, settings, smtp = mail_env
    M = 8
    for i in range(M):
        active(store, settings, f"both{i}@example.org", categories=["cs.CV"])
    period.build_period(store, settings, "daily", as_of=AS_OF)
    reports, errors = [], []
    go = threading.Barrier(2)

    def run():
        try:
            go.wait(5)
            reports.append(outbox.deliver(store, settings))  # each thread: its own connection
        except Exception as exc:  # pragma: no cover - shown by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sum(r.sent for r in reports) == M
    assert sorted(m["To"] for m in smtp.messages) == sorted(f"both{i}@example.org" for i in range(M))


def test_a_live_runs_message_is_not_taken_over_but_a_dead_runs_is(mail_env):
    store, settings, smtp = mail_env
    active(store, settings, "held@example.org", categories=["cs.CV"])
    period.build_period(store, settings, "daily", as_of=AS_OF)
    [row] = subs.outbox_rows(store, period="daily:2026-07-01")
    lease = subs.outbox_time(outbox.utc_now() + timedelta(seconds=600))
    # held by this (live) process under another run id: left alone until the lease ends
    assert subs.claim(store, row, outbox.process_id() + ":other", lease)
    assert outbox.deliver(store, settings).sent == 0 and smtp.messages == []
    # held by a process that no longer exists: taken over and sent
    row = subs.get_message(store, row.id)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    assert subs.claim(store, row, f"{socket.gethostname()}:{dead.pid}:{int(time.time()) - 5}:gone", lease)
    assert outbox.deliver(store, settings).sent == 1 and len(smtp.messages) == 1


@pytest.mark.slow
def test_parallel_build_writes_the_same_digests_once(mail_env, tmp_path):
    store, settings, smtp = mail_env
    cats = ["cs.CV", "cs.CL", "cs.AI", "cs.LG", "cs.RO"]
    with store.transaction() as conn:
        for i in range(450):
            subs.upsert_pending(store, f"p{i}@example.org", {"categories": [cats[i % 5], cats[(i * 3) % 5]],
                                                              "size": 3 + i % 7}, f"n{i}", conn)
    for i in range(450):
        assert subs.confirm(store, i + 1, f"n{i}")
    twin_db = tmp_path / "twin.db"
    store.conn.execute("VACUUM INTO ?", (str(twin_db),))
    report = period.build_period(store, settings, "daily", as_of=AS_OF, workers=2)
    assert (report.subscribers, report.queued, report.already) == (450, 450, 0)
    twin = open_store(str(twin_db))
    single = period.build_period(twin, settings, "daily", as_of=AS_OF, workers=1)
    assert single.queued == 450

    def digest_of(st):
        return {r.to_addr: (r.subject, [ln for ln in r.text_body.splitlines() if ln.startswith(("* ", "  Why:"))])
                for r in subs.outbox_rows(st, period="daily:2026-07-01")}

    assert digest_of(store) == digest_of(twin)
    assert period.build_period(store, settings, "daily", as_of=AS_OF, workers=2).queued == 0
    twin.close()
