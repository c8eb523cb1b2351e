"""State every app process and host must agree on, kept in the database (one SQLite file for
one box, one PostgreSQL database for many hosts): the page-cache version, rate-limit
counters, the daily job's leader lock and per-day record, and the outbox claims of digest
senders. Nothing here lives in a process's memory, so a second worker or host sees the same.

Why the database and not Redis: every request already talks to the database, each of these
is one short statement, and a second server to run, back up and fail over is a cost a
community instance should pay only when a measurement says so (docs/deployment.md).

Tables: data_version, rate_limits, job_leases, job_runs (migrations 0100-0103 and 0115, both engines).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import secrets
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

import psutil

from paperwire.store.base import utcnow

log = logging.getLogger(__name__)

# --- who holds something ------------------------------------------------------------------------

_START = None


def process_id() -> str:
    """This process as "host:pid:start time" (a pid alone is reused once the process is gone)."""
    global _START
    if _START is None:
        _START = int(psutil.Process().create_time())
    return f"{socket.gethostname()}:{os.getpid()}:{_START}"


def new_holder() -> str:
    """A holder name for one run of this process: "host:pid:start:random"."""
    return f"{process_id()}:{secrets.token_hex(4)}"


def holder_alive(holder: str | None) -> bool:
    """Is the process named by `holder` still running? One on another host counts as alive (only
    its lease running out, or its database connection closing, frees what it holds)."""
    if not holder:
        return False
    try:
        host, pid, started = holder.split(":")[:3]
        if host != socket.gethostname():
            return True
        proc = psutil.Process(int(pid))
        # the same pid with another start time is a new process: the old one is gone
        return int(proc.create_time()) == int(started) and proc.status() != psutil.STATUS_ZOMBIE
    except (ValueError, psutil.NoSuchProcess):
        return False
    except psutil.Error:
        return True


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the page-cache version ---------------------------------------------------------------------

def data_version(store) -> tuple[int, int]:
    """What the page cache compares: (the counter the triggers of migration 0100 bump on every
    vote, comment, submission and moderation; the highest search document id, which moves when
    a new paper is stored), as committed by any process or host. Two primary-key reads."""
    row = store.query_one("SELECT n, (SELECT max(docid) FROM search_docs) FROM data_version WHERE id = 1")
    return (int(row[0]), int(row[1] or 0)) if row else (0, 0)


def bump_data_version(conn) -> None:
    """For a writer that changes what pages show without the triggers seeing it (call inside
    its transaction)."""
    conn.execute("UPDATE data_version SET n = n + 1 WHERE id = 1")


# --- rate limits --------------------------------------------------------------------------------

PRUNE_EVERY = 60.0  # seconds between deletions of expired counters, per process
_pruned: dict[str, float] = {}
_prune_lock = threading.Lock()


def rate_hit(store, bucket: str, limit: int, per_seconds: float, now: float | None = None) -> float:
    """Count one hit of `bucket` and return 0 when it is within `limit` per `per_seconds`, else
    the seconds to wait (the hit is then not counted, so a refused client is not pushed further
    back by its own retries).

    A sliding window estimated from two fixed windows: hits in the current window plus the
    previous window's, weighted by how much of it still overlaps the sliding window. The
    current window's count moves with one atomic upsert whose DO UPDATE only applies while the
    count is under the cap, so two hosts racing for the last allowance cannot both get it."""
    now = time.time() if now is None else now
    window = max(1, int(math.ceil(per_seconds)))
    start = int(now // window) * window
    overlap = 1.0 - (now - start) / window
    prev = store.query_one("SELECT n FROM rate_limits WHERE bucket = ? AND window_start = ?",
                           (bucket, start - window))
    prev_n = int(prev[0]) if prev else 0
    cap = int(math.floor(limit - prev_n * overlap + 1e-9))  # hits this window may hold
    if cap < 1:
        got: list | None = []
    else:
        # one autocommit statement, atomic by itself on both engines: not store.transaction(),
        # whose write lock (every writer in turn, across hosts on PostgreSQL) a rate-limited
        # search must not queue for; fetchall() ends the statement, so SQLite commits at once
        got = _write_briefly(store, "INSERT INTO rate_limits(bucket, window_start, n, expires_at) VALUES (?, ?, 1, ?) "
                                    "ON CONFLICT(bucket, window_start) DO UPDATE SET n = rate_limits.n + 1 "
                                    "WHERE rate_limits.n < ? RETURNING n", (bucket, start, start + 2 * window, cap))
    _maybe_prune(store, now)
    if got is None or got:
        return 0.0
    cur = store.query_one("SELECT n FROM rate_limits WHERE bucket = ? AND window_start = ?", (bucket, start))
    return _wait(limit, prev_n, int(cur[0]) if cur else 0, now, start, window)


def _wait(limit: int, prev_n: int, cur_n: int, now: float, start: int, window: int) -> float:
    """Seconds until the sliding estimate leaves room for one more hit."""
    room = limit - 1 - cur_n  # what the previous window's weighted share must fall to
    if prev_n > 0 and room >= 0:
        # prev_n * (1 - (t - start) / window) <= room  =>  t >= start + window * (1 - room / prev_n)
        return max(0.1, start + window * (1.0 - room / prev_n) - now)
    # the current window alone is full: wait until it becomes the previous one and has faded
    # enough (at the next window's start its weight is 1, so wait for that share to shrink)
    nxt = start + window
    over = cur_n - (limit - 1)
    return max(0.1, nxt - now + (window * over / cur_n if cur_n else 0.0))


def _maybe_prune(store, now: float) -> None:
    key = str(getattr(store, "path", id(store)))
    with _prune_lock:
        if now - _pruned.get(key, 0.0) < PRUNE_EVERY:
            return
        _pruned[key] = now
    _write_briefly(store, "DELETE FROM rate_limits WHERE expires_at < ?", (int(now),))


SQLITE_WAIT_MS = 250  # longest a rate-limit write waits for SQLite's write lock


def _write_briefly(store, sql: str, params: tuple) -> list | None:
    """Run one rate-limit write and return its rows; None when SQLite's write lock stayed taken
    for SQLITE_WAIT_MS (a long write transaction: an import's batch, a digest build). The hit is
    then let through uncounted: a visitor's search must not wait out an import for a counter.
    PostgreSQL writers of other rows never wait for each other."""
    conn = store.conn
    if store.dialect != "sqlite":
        return conn.execute(sql, params).fetchall()
    conn.execute(f"PRAGMA busy_timeout={SQLITE_WAIT_MS}")
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        log.info("rate limit not counted: the database stayed locked for %d ms", SQLITE_WAIT_MS)
        return None
    finally:
        conn.execute("PRAGMA busy_timeout=30000")


# --- leader lock ----------------------------------------------------------------------------------

def _advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock from a job's name."""
    return int.from_bytes(hashlib.sha256(f"paperwire:{name}".encode()).digest()[:8], "big", signed=True)


class Lead:
    """What ``leader`` yields: true in the one process that holds the lock. ``held()`` says
    whether it still does -- a PostgreSQL advisory lock goes with its connection (the server
    restarted, the network dropped, an operator ended the backend), a SQLite lease when another
    process took it over -- so a long job can stop rather than run on beside a new leader."""

    def __init__(self, got: bool, check=None):
        self.got, self._check = got, check

    def __bool__(self) -> bool:
        return self.got

    def held(self) -> bool:
        if not self.got:
            return False
        try:
            return bool(self._check()) if self._check else True
        except Exception:  # the lock's connection is gone: so is the lock
            return False


@contextmanager
def leader(store, name: str, holder: str, lease_seconds: float = 6 * 3600) -> Iterator[Lead]:
    """``with leader(store, "daily", holder) as lead:`` -- lead is true in the one process (on
    any host) that holds the job's lock; the others get a false one at once and should skip the
    job. ``lead.held()`` checks that the lock is still this process's.

    PostgreSQL: pg_try_advisory_lock on a connection of its own, opened for the lock and closed
    with it: the server frees the lock when the process dies (a killed process frees it at once),
    and the job's own work never runs on the lock's connection, so losing one does not break the
    other. SQLite: a job_leases row claimed in a write transaction, taken over when its holder
    process is gone (same box) or the lease ran out."""
    if store.dialect == "postgresql":
        import psycopg

        key = _advisory_key(name)
        conn = psycopg.connect(store.url, autocommit=True)
        try:
            got = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])
            yield Lead(got, lambda: conn.execute("SELECT 1").fetchone())
        finally:
            try:
                if got and not conn.closed:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            except psycopg.Error:
                pass  # the connection broke: the server freed the lock with it
            conn.close()
        return
    got = _claim_lease(store, name, holder, lease_seconds)
    try:
        yield Lead(got, lambda: store.query_one("SELECT 1 FROM job_leases WHERE name = ? AND holder = ?",
                                                (name, holder)))
    finally:
        if got:
            with store.transaction() as conn:
                conn.execute("DELETE FROM job_leases WHERE name = ? AND holder = ?", (name, holder))


def _claim_lease(store, name: str, holder: str, lease_seconds: float) -> bool:
    now = datetime.now(timezone.utc)
    with store.transaction() as conn:
        row = conn.execute("SELECT holder, expires_at FROM job_leases WHERE name = ?", (name,)).fetchone()
        if row is not None and row[1] > _iso(now) and holder_alive(row[0]):
            return False
        conn.execute(
            "INSERT INTO job_leases(name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, "
            "expires_at = excluded.expires_at",
            (name, holder, _iso(now), _iso(now + timedelta(seconds=lease_seconds))))
        return True


# --- once per day ---------------------------------------------------------------------------------

HEARTBEAT_SECONDS = 5.0  # a running day's job writes job_runs.heartbeat_at this often
STALE_SECONDS = 30.0  # a 'running' day not heard from for this long is a run that died


def start_run(store, name: str, day: str, holder: str, again: bool = False,
              stale_seconds: float = STALE_SECONDS) -> str:
    """Record that `holder` runs job `name` for `day`: 'started', 'done' when a run for that day
    already finished (unless `again`), or 'busy' when another run of that day is still going.
    Call it holding the job's leader lock.

    Holding the lock does not prove the last holder stopped: a PostgreSQL leader whose lock
    connection dropped keeps working until it notices (between stages, between messages). So a
    'running' row of another holder is taken over only when that run is over: its process is
    gone (same box), or it has not written its heartbeat for `stale_seconds` (another host, or
    a process that hangs); otherwise 'busy'."""
    with store.transaction() as conn:
        row = conn.execute("SELECT status, holder, heartbeat_at, started_at FROM job_runs WHERE name = ? AND day = ?",
                           (name, day)).fetchone()
        if row is not None and row[0] == "done" and not again:
            return "done"
        if row is not None and row[0] == "running" and row[1] != holder and holder_alive(row[1]):
            heard = datetime.fromisoformat((row[2] or row[3]).replace("Z", "+00:00"))
            if (datetime.now(timezone.utc) - heard).total_seconds() < stale_seconds:
                return "busy"
        conn.execute(
            "INSERT INTO job_runs(name, day, status, holder, started_at, heartbeat_at) "
            "VALUES (?, ?, 'running', ?, ?, ?) "
            "ON CONFLICT(name, day) DO UPDATE SET status = 'running', holder = excluded.holder, "
            "started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, finished_at = NULL, "
            "result = NULL",
            (name, day, holder, utcnow(), _now_iso()))
    return "started"


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run_holder(store, name: str, day: str) -> str | None:
    """Who runs (or last ran) job `name` for `day`."""
    row = store.query_one("SELECT holder FROM job_runs WHERE name = ? AND day = ?", (name, day))
    return row[0] if row else None


def heartbeat(store, name: str, day: str, holder: str) -> bool:
    """The running `holder` says it is still at work; False when the day is no longer its own."""
    with store.transaction() as conn:
        return conn.execute("UPDATE job_runs SET heartbeat_at = ? WHERE name = ? AND day = ? AND holder = ? "
                            "AND status = 'running'", (_now_iso(), name, day, holder)).rowcount == 1


@contextmanager
def heartbeats(store, name: str, day: str, holder: str, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Write `holder`'s heartbeat every `every` seconds from a thread while the block runs."""
    stop = threading.Event()

    def beat():
        while not stop.wait(every):
            try:
                if not heartbeat(store, name, day, holder):
                    return
            except Exception as exc:  # the database is unreachable: the silence says so to the others
                log.warning("daily job heartbeat not written: %s", exc)

    t = threading.Thread(target=beat, name=f"heartbeat-{name}", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(every + 5)


def finish_run(store, name: str, day: str, holder: str, ok: bool, result: dict) -> None:
    """Record how `holder`'s run ended; nothing when the day is no longer its own (another run
    took it over)."""
    with store.transaction() as conn:
        conn.execute("UPDATE job_runs SET status = ?, finished_at = ?, result = ? "
                     "WHERE name = ? AND day = ? AND holder = ?",
                     ("done" if ok else "failed", utcnow(), json.dumps(result, default=str), name, day, holder))


def runs(store, name: str) -> list[dict]:
    return [dict(r) for r in store.query(
        "SELECT name, day, status, holder, started_at, finished_at, result FROM job_runs WHERE name = ? "
        "ORDER BY day", (name,))]


# --- outbox claims ----------------------------------------------------------------------------------

def claim_message(store, owner: str, now: str, lease_until: str, ids: list[int] | None = None) -> int | None:
    """Take the oldest message that is due -- pending and due, or 'sending' with its lease run
    out (its sender died or hung) -- for `owner` until `lease_until`, and return its id (None:
    nothing due). Counts the attempt.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so concurrent senders on any host take different
    messages without waiting on each other. SQLite: the same select-and-update inside one
    BEGIN IMMEDIATE transaction, which the database's write lock makes atomic."""
    where = "((status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND next_attempt_at <= ?))"
    params: list = [now, now]
    if ids is not None:
        if not ids:
            return None
        where += f" AND id IN ({','.join('?' * len(ids))})"
        params += list(ids)
    lock = " FOR UPDATE SKIP LOCKED" if store.dialect == "postgresql" else ""
    with store.transaction() as conn:
        row = conn.execute(f"SELECT id FROM outbox WHERE {where} ORDER BY id LIMIT 1{lock}", params).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE outbox SET status = 'sending', attempts = attempts + 1, claimed_by = ?, "
                     "next_attempt_at = ? WHERE id = ?", (owner, lease_until, row[0]))
        return int(row[0])


def orphaned_messages(store, ids: list[int] | None = None) -> list[tuple[int, str, int]]:
    """(id, claimed_by, attempts) of 'sending' messages (of `ids`, when given) whose sender
    process is gone from this host (killed midway) while their lease still runs: the caller may
    take them over at once."""
    rows = store.query("SELECT id, claimed_by, attempts FROM outbox WHERE status = 'sending' ORDER BY id")
    wanted = None if ids is None else set(ids)
    return [(int(r[0]), r[1], int(r[2])) for r in rows
            if (wanted is None or int(r[0]) in wanted) and not holder_alive(r[1])]


def take_over(store, msg_id: int, was_held_by: str, owner: str, lease_until: str) -> bool:
    """Claim a message from a dead sender: only if it is still that sender's (compare-and-swap)."""
    with store.transaction() as conn:
        return conn.execute(
            "UPDATE outbox SET claimed_by = ?, attempts = attempts + 1, next_attempt_at = ? "
            "WHERE id = ? AND status = 'sending' AND claimed_by = ?",
            (owner, lease_until, msg_id, was_held_by)).rowcount == 1


def mark_sent(store, msg_id: int, owner: str, sent_at: str) -> bool:
    """Record that the SMTP server accepted the message, in one UPDATE: status, time and sender.
    False when `owner` had lost the message (its lease ran out and another run took it over):
    the caller then knows a second copy may go out, with the same Message-ID."""
    with store.transaction() as conn:
        mine = conn.execute("UPDATE outbox SET status = 'sent', sent_at = ?, sent_by = ?, last_error = NULL, "
                            "claimed_by = NULL WHERE id = ? AND status = 'sending' AND claimed_by = ?",
                            (sent_at, owner, msg_id, owner)).rowcount == 1
        if not mine:
            conn.execute("UPDATE outbox SET status = 'sent', sent_at = ?, sent_by = ?, claimed_by = NULL "
                         "WHERE id = ? AND status <> 'sent'", (sent_at, owner, msg_id))
    return mine


def held_by_others(store, owner: str, ids: list[int] | None = None) -> bool:
    """Does another run hold (status 'sending') any message -- of `ids`, when given?"""
    sql = "SELECT id FROM outbox WHERE status = 'sending' AND COALESCE(claimed_by, '') <> ?"
    params: list = [owner]
    if ids is not None:
        if not ids:
            return False
        sql += f" AND id IN ({','.join('?' * len(ids))})"
        params += list(ids)
    return store.query_one(sql + " LIMIT 1", params) is not None


def queued_ids(store, to_addr: str | None = None) -> list[int]:
    """Ids of the messages still to go out (pending, or held by a sending run), oldest first;
    with `to_addr`, only those to that address (compared without case)."""
    sql = "SELECT id FROM outbox WHERE status IN ('pending', 'sending')"
    params: list = []
    if to_addr is not None:
        sql += " AND lower(to_addr) = ?"
        params.append(to_addr.lower())
    return [int(r[0]) for r in store.query(sql + " ORDER BY id", params)]
