"""Jobs run from several processes at once over one database (two hosts' cron jobs): two
`paperwire digest send` against a real SMTP server (aiosmtpd), one killed with SIGKILL midway;
two `paperwire schedule --once` at the same moment."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading

import psutil

from multihost_support import host_env
from digest_support import RecordingHandler, SMTPServer, active
from paperwire import schedule
from paperwire.store import open_store, shared_state
from paperwire.store import subscriptions as subs

AS_OF = "2026-07-01"
M = 40  # digests queued


class KillingHandler(RecordingHandler):
    """Takes a little while per message (as a real relay does), and kills the victim sender with
    SIGKILL while it sends its `kill_at`-th message: before accepting it (the sender never gets
    an answer, the message is not taken) or, with `after_accept`, once it is accepted -- the
    window between the server's acceptance and the sender's commit."""

    def __init__(self, kill_at: int, after_accept: bool = False):
        super().__init__()
        self.victim: subprocess.Popen | None = None
        self.kill_at, self.after_accept = kill_at, after_accept
        self.from_victim = 0
        self.killed_on: str | None = None  # the Message-ID being sent when the victim died
        self.ready = threading.Event()

    def _is_victim(self, session) -> bool:
        port = session.peer[1]
        try:
            return any(c.laddr and c.laddr.port == port for c in psutil.Process(self.victim.pid).net_connections("tcp"))
        except psutil.Error:
            return False

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.05)
        self.ready.wait(30)
        if self.killed_on is None and self._is_victim(session):
            self.from_victim += 1
            if self.from_victim == self.kill_at:
                import email
                import email.policy

                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                self.killed_on = msg["Message-ID"]
                if self.after_accept:
                    reply = await super().handle_DATA(server, session, envelope)
                    os.kill(self.victim.pid, signal.SIGKILL)
                    return reply  # accepted here; the sender is gone before it reads this
                os.kill(self.victim.pid, signal.SIGKILL)
                return "421 4.3.2 Service shutting down"
        return await super().handle_DATA(server, session, envelope)


def _queue_digests(settings) -> list[str]:
    """M active subscribers with one queued digest each, written to the outbox as the digest
    build writes them (the build itself is tested in tests/digest)."""
    from paperwire.digest.outbox import new_message_id

    store = open_store(settings.db)
    for i in range(M):
        active(store, settings, f"reader{i}@example.org", categories=["cs.CL"])
    with store.transaction() as conn:
        for i in range(M):
            sub = subs.get_by_email(store, f"reader{i}@example.org")
            subs.add_message(conn, subscriber_id=sub.id, period=f"daily:{AS_OF}", kind="digest",
                             to_addr=sub.email, subject=f"Your papers for {AS_OF}", text_body=f"Digest {i}",
                             html_body=None, headers={}, message_id=new_message_id(settings), n_items=1)
    ids = [r.message_id for r in subs.outbox_rows(store, period=f"daily:{AS_OF}")]
    assert len(ids) == M
    store.close()
    return ids


def _mail_env(settings, tmp_path, name: str, port: int) -> dict:
    return host_env(settings, tmp_path / name, PAPERWIRE_SMTP_HOST="127.0.0.1", PAPERWIRE_SMTP_PORT=port,
                    PAPERWIRE_SMTP_SECURITY="plain", PAPERWIRE_MAIL_FROM="paperwire <digest@paperwire.test>",
                    PAPERWIRE_BASE_URL="http://testserver", PAPERWIRE_HARVEST_SOURCES="")


def _two_senders(settings, tmp_path, handler: KillingHandler):
    with SMTPServer(handler) as smtp:
        cmd = [sys.executable, "-m", "paperwire", "digest", "send", "--period", "daily", "--as-of", AS_OF]
        procs = [subprocess.Popen(cmd, env=_mail_env(settings, tmp_path, name, smtp.port), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for name in ("host-a", "host-b")]
        handler.victim = procs[0]
        handler.ready.set()
        outs = [p.communicate(timeout=120) for p in procs]
    return procs, outs


def test_two_senders_one_killed_before_acceptance_deliver_every_message_exactly_once(site_settings, tmp_path):
    queued = _queue_digests(site_settings)
    handler = KillingHandler(kill_at=3)
    procs, outs = _two_senders(site_settings, tmp_path, handler)
    victim, survivor = procs
    assert victim.returncode == -signal.SIGKILL and handler.killed_on is not None
    assert survivor.returncode == 0, outs[1][1]
    received = [m["Message-ID"] for m in handler.messages]
    assert sorted(received) == sorted(queued)  # every message once: none lost, none twice
    store = open_store(site_settings.db)
    rows = subs.outbox_rows(store, period=f"daily:{AS_OF}")
    assert {r.status for r in rows} == {"sent"}
    senders = {r.message_id: store.query_one("SELECT sent_by FROM outbox WHERE id = ?", (r.id,))[0] for r in rows}
    # both processes sent some; the message the victim held when it died went out from the survivor
    pid_of = {m: s.split(":")[1] for m, s in senders.items()}
    assert sum(p == str(victim.pid) for p in pid_of.values()) == 2
    assert pid_of[handler.killed_on] == str(survivor.pid)
    store.close()


def test_a_sender_killed_after_acceptance_resends_that_one_message_with_the_same_message_id(site_settings, tmp_path):
    """The one window SMTP leaves open (docs/deployment.md): accepted by the server, the sender
    killed before it recorded 'sent'. The message goes out again, with the same Message-ID, so the
    receiving side can tell the copy; nothing else is sent twice and nothing is lost."""
    queued = _queue_digests(site_settings)
    handler = KillingHandler(kill_at=3, after_accept=True)
    procs, outs = _two_senders(site_settings, tmp_path, handler)
    assert procs[0].returncode == -signal.SIGKILL and procs[1].returncode == 0, outs[1][1]
    received = [m["Message-ID"] for m in handler.messages]
    assert set(received) == set(queued)
    twice = {m for m in received if received.count(m) > 1}
    assert twice == {handler.killed_on} and received.count(handler.killed_on) == 2
    store = open_store(site_settings.db)
    assert {r.status for r in subs.outbox_rows(store, period=f"daily:{AS_OF}")} == {"sent"}
    store.close()


def test_two_schedule_runs_at_once_make_one_daily_run(site_settings, tmp_path):
    store = open_store(site_settings.db)
    for i in range(6):
        active(store, site_settings, f"daily{i}@example.org", categories=["cs.CL", "cs.CV"])
    store.close()
    with SMTPServer(RecordingHandler()) as smtp:
        cmd = [sys.executable, "-m", "paperwire", "schedule", "--once", "--as-of", AS_OF, "--no-refresh"]
        procs = [subprocess.Popen(cmd, env=_mail_env(site_settings, tmp_path, name, smtp.port), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for name in ("host-a", "host-b")]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
        ran = [o[0] for o in outs if f"daily:{AS_OF}:" in o[0]]
        skipped = [o[0] for o in outs if f"daily job for {AS_OF}: skipped" in o[0]]
        assert len(ran) == 1 and len(skipped) == 1, outs
        assert len(smtp.handler.messages) == 6
        assert sorted(m["To"] for m in smtp.handler.messages) == sorted(f"daily{i}@example.org" for i in range(6))
        # a third host starting later that day finds the day done
        late = subprocess.run(cmd, env=_mail_env(site_settings, tmp_path, "host-c", smtp.port), capture_output=True,
                              text=True, timeout=120)
        assert late.returncode == 0 and "already ran" in late.stdout, late.stdout + late.stderr
        assert len(smtp.handler.messages) == 6
    store = open_store(site_settings.db)
    [run] = shared_state.runs(store, "daily")
    assert (run["day"], run["status"]) == (AS_OF, "done")
    store.close()


def _drop_leader(db: str) -> int:
    """Take the daily job's leader lock from under its holder, as the world can: on PostgreSQL
    end the backend of the connection that holds the advisory lock (what a server restart or a
    dropped network does); on SQLite let the lease run out and name someone else. Returns how
    many holders were dropped."""
    if db.startswith("postgresql://"):
        import psycopg

        key = shared_state._advisory_key(schedule.JOB) & 0xFFFF_FFFF_FFFF_FFFF  # pg_locks shows it unsigned
        with psycopg.connect(db, autocommit=True) as conn:  # (waiting, up to 10 s, until the backend is gone)
            return len(conn.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = %s AND objid = %s AND objsubid = 1", (key >> 32, key & 0xFFFF_FFFF)).fetchall())
    store = open_store(db)
    with store.transaction() as conn:
        n = conn.execute("UPDATE job_leases SET holder = 'elsewhere:1:1:x', expires_at = '2000-01-01T00:00:00Z' "
                         "WHERE name = ?", (schedule.JOB,)).rowcount
    store.close()
    return n


class DroppingHandler(RecordingHandler):
    """A relay that takes a little while per message and, once it has accepted the leader's
    `drop_at`-th message, takes the leader lock from under it (_drop_leader)."""

    def __init__(self, db: str, drop_at: int):
        super().__init__()
        self.db, self.drop_at = db, drop_at
        self.dropped = threading.Event()
        self.n_dropped = 0

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.2)
        reply = await super().handle_DATA(server, session, envelope)
        if not self.dropped.is_set() and len(self.messages) == self.drop_at:
            self.n_dropped = _drop_leader(self.db)
            self.dropped.set()
        return reply


def test_a_leader_that_loses_its_lock_midway_stops_cleanly_and_the_next_one_resumes_the_day(site_settings, tmp_path):
    n = 6
    store = open_store(site_settings.db)
    for i in range(n):
        active(store, site_settings, f"daily{i}@example.org", categories=["cs.CL", "cs.CV"])
    store.close()
    handler = DroppingHandler(site_settings.db, drop_at=2)
    with SMTPServer(handler) as smtp:
        cmd = [sys.executable, "-m", "paperwire", "schedule", "--once", "--as-of", AS_OF, "--no-refresh"]
        first = subprocess.Popen(cmd, env=_mail_env(site_settings, tmp_path, "host-a", smtp.port),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert handler.dropped.wait(120), first.communicate(timeout=60)
        assert handler.n_dropped == 1  # the lock was held, by one connection, and it went
        second = subprocess.Popen(cmd, env=_mail_env(site_settings, tmp_path, "host-b", smtp.port),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        (out_a, err_a), (out_b, err_b) = first.communicate(timeout=120), second.communicate(timeout=120)
    # the first stops at its next step with one clear line, no traceback, and a failing exit
    # status (a systemd timer or cron sees that this run did not finish the day)
    assert first.returncode == 1 and "Traceback" not in err_a, err_a[-3000:]
    assert f"daily job for {AS_OF}: stopped, this process lost the leader lock" in out_a, out_a
    assert second.returncode == 0 and "Traceback" not in err_b, err_b[-3000:]
    # every reader got the day's digest exactly once: built once, sent by one or the other
    assert sorted(m["To"] for m in handler.messages) == sorted(f"daily{i}@example.org" for i in range(n))
    store = open_store(site_settings.db)
    rows = subs.outbox_rows(store, period=f"daily:{AS_OF}")
    assert len(rows) == n and {r.status for r in rows} == {"sent"}
    by = [store.query_one("SELECT sent_by FROM outbox WHERE id = ?", (r.id,))[0].split(":")[1] for r in rows]
    assert by.count(str(first.pid)) == 2 and by.count(str(second.pid)) == n - 2, by
    [run] = shared_state.runs(store, "daily")
    assert (run["day"], run["status"], run["holder"].split(":")[1]) == (AS_OF, "done", str(second.pid))
    store.close()


def test_a_running_day_is_not_taken_over_while_its_run_is_still_heard_from(store):
    """A new leader finds the day 'running' under another live holder: it waits while that run's
    heartbeat is fresh ('busy'), and takes the day over once it has gone quiet."""
    first, second = shared_state.new_holder(), shared_state.new_holder()
    assert shared_state.start_run(store, "daily", AS_OF, first) == "started"
    assert shared_state.heartbeat(store, "daily", AS_OF, first)
    assert shared_state.start_run(store, "daily", AS_OF, second) == "busy"
    assert shared_state.start_run(store, "daily", AS_OF, second, stale_seconds=0) == "started"
    # the first run's heartbeat and its end are no longer recorded: the day is the second's
    assert not shared_state.heartbeat(store, "daily", AS_OF, first)
    shared_state.finish_run(store, "daily", AS_OF, first, False, {"stopped": "lost the leader lock"})
    shared_state.finish_run(store, "daily", AS_OF, second, True, {})
    [run] = shared_state.runs(store, "daily")
    assert (run["status"], run["holder"]) == ("done", second)
