"""The daily job: harvest new papers, refresh the search indexes and GitHub stars, drop expired
sign-ups, build the digests (daily ones every day, weekly ones on settings.digest_weekday) and
send them. `paperwire schedule` runs it every day at settings.digest_hour_utc (next_run).

Each stage before the digests may fail without stopping them: the digests then go out over
what is stored, with the indexes or stars as they were.

Several hosts may all run `paperwire schedule` (or `schedule --once` from cron): run_daily_once
lets one of them run the day's job -- the one holding the leader lock
(paperwire.store.shared_state.leader: an advisory lock on PostgreSQL, a lease row on SQLite) --
and records the day as done, so a host that starts later that day skips it too.
"""

from __future__ import annotations

import logging
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


def _stage(result: dict, key: str, run: Callable[[], object], echo: Echo, done: str, failed: str) -> bool:
    """Run one stage, recording its outcome under result[key] and echoing "`done`: outcome"; a
    failure is logged and echoed as `failed` (formatted with {exc}), not raised. True when it
    succeeded."""
    try:
        result[key] = str(run())
    except Exception as exc:
        log.exception("%s failed", key)
        result[key] = f"failed: {exc}"
        echo(failed.format(exc=exc))
        return False
    echo(f"{done}: {result[key]}")
    return True


def _send(store: Store, settings: Settings, result: dict, echo: Echo) -> None:
    if mail_enabled(settings):
        report = deliver(store, settings)
        result["deliver"] = report.line()
        echo(report.line())
    else:
        result["deliver"] = DISABLED_MESSAGE
        echo(DISABLED_MESSAGE + " (digests stay queued in the outbox)")


def run_daily(store: Store, settings: Settings, day: date | None = None, harvest: bool = True,
              refresh: bool = True, echo: Echo = log.info, engine: SearchEngine | None = None) -> dict:
    """One scheduled run for `day` (today, UTC, by default); returns what each stage did.

    `engine` runs digest topics as saved searches (one is made for the store when not given);
    when the index refresh fails, topics fall back to word matching."""
    day = day or datetime.now(timezone.utc).date()
    result: dict = {"day": day.isoformat()}
    if harvest:
        # a failed harvest must not stop the digests of what we have
        _stage(result, "harvest", lambda: ingest.harvest(store, settings), echo,
               "harvest", "harvest failed: {exc}")
    if engine is None:
        engine = SearchEngine(store, settings)
    if refresh and not _stage(result, "index", lambda: indexer.refresh(store, settings, engine=engine), echo,
                              "index refresh",
                              "index refresh failed ({exc}); topics fall back to word matching"):
        engine = None
    if settings.github_token:
        # star velocity feeds the trending part of the digests; a failed refresh (network, rate
        # limit) only makes it older, so the digests go out anyway
        _stage(result, "stars", lambda: refresh_github_stars(store, settings), echo,
               "github stars", "github star refresh failed: {exc}")
    result["expired"] = expire_unconfirmed(store, settings)
    kinds = ["daily"] + (["weekly"] if day.weekday() == settings.digest_weekday else [])
    for kind in kinds:
        report = build_period(store, settings, kind, as_of=day, engine=engine)
        result[kind] = report.line()
        echo(report.line())
    _send(store, settings, result, echo)
    return result


JOB = "daily"


def run_daily_once(store: Store, settings: Settings, day: date | None = None, again: bool = False,
                   echo: Echo = log.info, **options) -> dict:
    """run_daily for `day`, at most once however many processes and hosts call it: the caller
    that holds the leader lock runs it unless a run for that day already finished (`again`
    runs it anyway); the others return at once with "skipped" in the result. A run that died
    midway (killed, host lost) is run again by the next caller. `options` go to run_daily."""
    day = day or datetime.now(timezone.utc).date()
    holder = shared_state.new_holder()
    with shared_state.leader(store, JOB, holder) as lead:
        if not lead:
            echo(f"daily job for {day}: skipped, another process or host is running the daily job")
            return {"day": day.isoformat(), "skipped": "running elsewhere"}
        if shared_state.start_run(store, JOB, day.isoformat(), holder, again=again) == "done":
            echo(f"daily job for {day}: skipped, it already ran (use --again to run it anyway)")
            return {"day": day.isoformat(), "skipped": "already done"}
        result: dict = {"day": day.isoformat(), "error": "stopped midway"}
        ok = False
        try:
            result = run_daily(store, settings, day=day, echo=echo, **options)
            ok = True
        except Exception as exc:
            result = {"day": day.isoformat(), "error": f"{type(exc).__name__}: {exc}"}
            raise
        finally:
            shared_state.finish_run(store, JOB, day.isoformat(), holder, ok, result)
        return result


def next_run(now: datetime, hour: int) -> datetime:
    """The next time `hour`:00 UTC comes round after `now`."""
    t = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return t if t > now else t + timedelta(days=1)
