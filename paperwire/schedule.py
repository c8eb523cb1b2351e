"""The daily job: harvest new papers, refresh the search indexes and GitHub stars, drop expired
sign-ups, build the digests (daily ones every day, weekly ones on settings.digest_weekday) and
send them. `paperwire schedule` runs it every day at settings.digest_hour_utc (next_run).

Each stage before the digests may fail without stopping them: the digests then go out over
what is stored, with the indexes or stars as they were.

Several hosts may all run `paperwire schedule` (or `schedule --once` from cron): run_daily_once
lets one of them run the day's job -- the one holding the leader lock
(paperwire.store.shared_state.leader: an advisory lock on PostgreSQL, a lease row on SQLite) --
and records the day as done, so a host that starts later that day skips it too.

A leader can lose its lock while it works (on PostgreSQL the lock goes with its connection: a
server restart, a dropped network, an ended backend). It checks between stages and between
digest messages, and stops there, recording the day as stopped; while it still runs, its
heartbeat keeps a new leader waiting instead of running the same day beside it. The new
leader then resumes the day (each stage carries on from what is stored: messages already
sent are not sent again).
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta, timezone
from typing import Callable

from paperwire import ingest
from paperwire.config import Settings
from paperwire.digest.outbox import deliver
from paperwire.digest.period import build_period
from paperwire.digest.subscriptions import expire_unconfirmed
from paperwire.mailer import DISABLED_MESSAGE, mail_enabled
from paperwire.ranking.stars import refresh_github_stars
from paperwire.search import indexer
from paperwire.search.engine import SearchEngine
from paperwire.store import shared_state
from paperwire.store.sqlite import Store

log = logging.getLogger(__name__)

Echo = Callable[[str], None]


class LeaderLost(Exception):
    """The daily job's leader lock is no longer this process's: stop before the next step."""


Check = Callable[[], None]


def _stage(result: dict, key: str, run: Callable[[], object], echo: Echo, done: str, failed: str) -> bool:
    """Run one stage, recording its outcome under result[key] and echoing "`done`: outcome"; a
    failure is logged and echoed as `failed` (formatted with {exc}), not raised. True when it
    succeeded."""
    try:
        result[key] = str(run())
    except LeaderLost:
        raise
    except Exception as exc:
        log.exception("%s failed", key)
        result[key] = f"failed: {exc}"
        echo(failed.format(exc=exc))
        return False
    echo(f"{done}: {result[key]}")
    return True


def _send(store: Store, settings: Settings, result: dict, echo: Echo, check: Check) -> None:
    if mail_enabled(settings):
        report = deliver(store, settings, on_sent=lambda _row: check())
        result["deliver"] = report.line()
        echo(report.line())
    else:
        result["deliver"] = DISABLED_MESSAGE
        echo(DISABLED_MESSAGE + " (digests stay queued in the outbox)")


def _no_check() -> None:
    return None


def run_daily(store: Store, settings: Settings, day: date | None = None, harvest: bool = True,
              refresh: bool = True, echo: Echo = log.info, engine: SearchEngine | None = None,
              check: Check = _no_check) -> dict:
    """One scheduled run for `day` (today, UTC, by default); returns what each stage did.

    `engine` runs digest topics as saved searches (one is made for the store when not given);
    when the index refresh fails, topics fall back to word matching. `check` is called before
    each stage and after each message sent, and may raise LeaderLost to stop the run there."""
    day = day or datetime.now(timezone.utc).date()
    result: dict = {"day": day.isoformat()}
    if harvest:
        check()
        # a failed harvest must not stop the digests of what we have
        _stage(result, "harvest", lambda: ingest.harvest(store, settings), echo,
               "harvest", "harvest failed: {exc}")
    if engine is None:
        engine = SearchEngine(store, settings)
    check()
    if refresh and not _stage(result, "index", lambda: indexer.refresh(store, settings, engine=engine), echo,
                              "index refresh",
                              "index refresh failed ({exc}); topics fall back to word matching"):
        engine = None
    if settings.github_token:
        check()
        # star velocity feeds the trending part of the digests; a failed refresh (network, rate
        # limit) only makes it older, so the digests go out anyway
        _stage(result, "stars", lambda: refresh_github_stars(store, settings), echo,
               "github stars", "github star refresh failed: {exc}")
    check()
    result["expired"] = expire_unconfirmed(store, settings)
    kinds = ["daily"] + (["weekly"] if day.weekday() == settings.digest_weekday else [])
    for kind in kinds:
        check()
        report = build_period(store, settings, kind, as_of=day, engine=engine)
        result[kind] = report.line()
        echo(report.line())
    check()
    _send(store, settings, result, echo, check)
    return result


JOB = "daily"


WAIT_FOR_RUNNING = 600.0  # seconds a new leader waits for a day's run still going elsewhere


def run_daily_once(store: Store, settings: Settings, day: date | None = None, again: bool = False,
                   echo: Echo = log.info, wait: float = WAIT_FOR_RUNNING, **options) -> dict:
    """run_daily for `day`, at most once however many processes and hosts call it: the caller
    that holds the leader lock runs it unless a run for that day already finished (`again`
    runs it anyway); the others return at once with "skipped" in the result. A run that died
    midway (killed, host lost) is run again by the next caller; one that is still going on
    after its leader lost the lock is waited for (up to `wait` s), then resumed, never run
    beside it. A leader that loses its lock stops at the next step and returns "stopped" in the
    result. `options` go to run_daily."""
    day = day or datetime.now(timezone.utc).date()
    key = day.isoformat()
    holder = shared_state.new_holder()
    with shared_state.leader(store, JOB, holder) as lead:
        if not lead:
            echo(f"daily job for {day}: skipped, another process or host is running the daily job")
            return {"day": key, "skipped": "running elsewhere"}
        state = _start(store, key, holder, again, wait, echo, lead)
        if state == "done":
            echo(f"daily job for {day}: skipped, it already ran (use --again to run it anyway)")
            return {"day": key, "skipped": "already done"}
        if state == "busy":
            echo(f"daily job for {day}: skipped, a run started by {shared_state.run_holder(store, JOB, key)} "
                 f"is still going; it is not started twice")
            return {"day": key, "skipped": "still running elsewhere"}

        def check() -> None:
            if not lead.held():
                raise LeaderLost()

        result: dict = {"day": key, "error": "stopped midway"}
        ok = False
        try:
            with shared_state.heartbeats(store, JOB, key, holder):
                result = run_daily(store, settings, day=day, echo=echo, check=check, **options)
            ok = True
        except LeaderLost:
            result = {"day": key, "stopped": "lost the leader lock"}
            log.warning("daily job for %s: stopped, the leader lock was lost", day)
            echo(f"daily job for {day}: stopped, this process lost the leader lock (its database connection "
                 f"dropped or its lease was taken over); the next leader resumes the day")
        except Exception as exc:
            result = {"day": key, "error": f"{type(exc).__name__}: {exc}"}
            raise
        finally:
            shared_state.finish_run(store, JOB, key, holder, ok, result)
        return result


def _start(store: Store, day: str, holder: str, again: bool, wait: float, echo: Echo, lead) -> str:
    """shared_state.start_run, waiting up to `wait` s while another run of the day is still
    going (its leader lost the lock but works on until it notices); 'busy' if it still is."""
    deadline = time.monotonic() + wait
    told = False
    while True:
        state = shared_state.start_run(store, JOB, day, holder, again=again)
        if state != "busy" or time.monotonic() >= deadline or not lead.held():
            return state
        if not told:
            echo(f"daily job for {day}: waiting for the run started by {shared_state.run_holder(store, JOB, day)}, "
                 f"which is still going, to finish or stop")
            told = True
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def next_run(now: datetime, hour: int) -> datetime:
    """The next time `hour`:00 UTC comes round after `now`."""
    t = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return t if t > now else t + timedelta(days=1)
