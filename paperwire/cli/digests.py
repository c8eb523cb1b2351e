"""Digest commands: subscriptions, building and sending digests, the daily schedule."""

from __future__ import annotations

import functools
import logging
import sys
import time
from datetime import datetime, timezone

import click

from paperwire.cli.base import Context, cli, pass_ctx
from paperwire.mailer import DISABLED_MESSAGE, MailDisabled, mail_enabled
from paperwire.store import subscriptions as subscription_table
from paperwire.store.base import is_postgres_url

# The digest, schedule and search modules are imported inside the commands: they load numpy,
# scikit-learn and the templates, which `paperwire --help` and every other command need not wait for.


@functools.lru_cache(maxsize=4)
def _postgres_store(url: str):
    from paperwire.store import open_store

    return open_store(url)


def _store(c: Context):
    """The command's store: a postgresql:// URL is opened as it is (Context.store looks for a
    SQLite file by that name), so these commands run on every app host of a PostgreSQL install."""
    db = str(c.settings.db)
    return _postgres_store(db) if is_postgres_url(db) else c.store


@cli.command()
@click.argument("email")
@click.option("--category", "categories", multiple=True, help="arXiv category to follow (repeatable; 'cs' = all cs).")
@click.option("--author", "authors", multiple=True, help="Author to follow (repeatable).")
@click.option("--topic", "topics", multiple=True, help="Topic, run as a saved search (repeatable).")
@click.option("--seed", "seeds", multiple=True, help="arXiv id of a paper whose neighbours you want (repeatable).")
@click.option("--frequency", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True)
@click.option("--size", type=click.IntRange(1, 50), help="Papers per digest (default: settings.digest_size).")
@pass_ctx
def subscribe(c: Context, email: str, categories, authors, topics, seeds, frequency: str, size: int | None) -> None:
    """Subscribe EMAIL (double opt-in: a confirmation e-mail is sent; nothing else until it is clicked).

    While e-mail is off (no smtp_host) the confirmation link is printed instead.
    """
    from paperwire.digest import subscriptions

    prefs = {"categories": list(categories), "authors": list(authors), "topics": list(topics),
             "seeds": list(seeds), "frequency": frequency}
    if size:
        prefs["size"] = size
    try:
        out = subscriptions.subscribe(_store(c), c.settings, email, prefs)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if out.action == "reminder":
        click.echo(f"{out.subscriber.email} is already subscribed; a reminder with its preferences link was queued.")
    elif out.action == "limited":
        click.echo(f"{out.subscriber.email}: {c.settings.confirm_per_address_day} confirmation mails in the last "
                   "24 hours already; none sent now.")
    elif out.sent:
        click.echo(f"confirmation sent to {out.subscriber.email}")
    else:
        if not mail_enabled(c.settings):
            click.echo(DISABLED_MESSAGE, err=True)
        click.echo(f"confirmation queued for {out.subscriber.email}; confirm with:\n  {out.confirm_url}")


@cli.group()
def digest() -> None:
    """Build and send the e-mail digests (see docs/deployment.md for scheduling)."""


def _digest_build(c: Context, period: str, as_of: str, to: str | None, out: str | None, dry_run: bool,
                  workers: int = 1):
    from paperwire.digest.period import build_period
    from paperwire.search.engine import SearchEngine

    if dry_run and not out:
        out = "digest-dry-run"
    with click.progressbar(length=1, label="building digests", file=sys.stderr) as bar:
        last = [0]

        def progress(n, total):
            if bar.length != total:
                bar.length = total
            bar.update(n - last[0])
            last[0] = n

        try:
            report = build_period(_store(c), c.settings, period, as_of=as_of, to=to,
                                  dry_run_dir=out if dry_run else None, engine=SearchEngine(_store(c), c.settings),
                                  progress=progress, workers=workers)
        except ValueError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    topics = f" (topics: {report.topic_method})" if report.topic_method else ""
    click.echo((dry_run_line(report, out) if dry_run else report.line()) + topics)
    for failure in report.failed:
        click.echo(f"skipped {failure}", err=True)
    return report


def dry_run_line(report, out: str) -> str:
    """What a dry run did, in its own words: the report's 'queued' counts the digests built,
    and a dry run queues none of them."""
    s = (f"dry run, {report.period}: {report.subscribers} subscriber(s), {report.papers} new paper(s); "
         f"built {report.queued} digest(s), nothing new for {report.empty}")
    if report.failed:
        s += f"; FAILED for {len(report.failed)} (skipped; see below)"
    files = len(report.written)
    s += f"; wrote {files} file(s) to {out}/" if files else "; no file written"
    return s + "; nothing queued, nothing sent"


_period_opt = click.option("--period", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True)
_asof_opt = click.option("--as-of", default="today", show_default=True,
                         help="Day the period ends: YYYY-MM-DD, 'today' (UTC) or 'latest' (newest listing day in the store).")
_dry_opt = click.option("--dry-run", is_flag=True, help="Write the rendered messages (.eml, .html, .txt) to --out; queue and send nothing.")
_to_opt = click.option("--to", help="Only this subscriber's address.")
_out_opt = click.option("--out", type=click.Path(file_okay=False), help="Folder for --dry-run output (default ./digest-dry-run).")
_workers_opt = click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
                            help="Processes building digests in parallel (one per CPU core is plenty).")


def _digest_options(f):
    """The options `digest build` and `digest send` share, in the order --help lists them."""
    for opt in reversed((_period_opt, _asof_opt, _dry_opt, _to_opt, _out_opt, _workers_opt)):
        f = opt(f)
    return f


@digest.command("build")
@_digest_options
@pass_ctx
def digest_build(c: Context, period: str, as_of: str, dry_run: bool, to: str | None, out: str | None,
                 workers: int) -> None:
    """Build this period's digests into the outbox (each subscriber at most once per period)."""
    _digest_build(c, period, as_of, to, out, dry_run, workers)


@digest.command("send")
@_digest_options
@click.option("--no-wait", is_flag=True, help="Do not wait in-process for retries of temporary failures.")
@pass_ctx
def digest_send(c: Context, period: str, as_of: str, dry_run: bool, to: str | None, out: str | None,
                workers: int, no_wait: bool) -> None:
    """Build this period's digests (if not built yet), then send everything due in the outbox.

    Safe to re-run at any time, also after a crash: every message goes out once.
    Exit code 1 when e-mail is off or messages failed permanently.
    """
    from paperwire.digest import outbox, subscriptions

    if not dry_run and not mail_enabled(c.settings):
        click.echo(f"error: {DISABLED_MESSAGE}", err=True)
        sys.exit(1)
    _digest_build(c, period, as_of, to, out, dry_run, workers)
    if dry_run:
        return
    try:
        ids = outbox.due_for(_store(c), subscriptions.normalise_email(to)) if to else None
        report = outbox.deliver(_store(c), c.settings, ids=ids, wait=not no_wait)
    except MailDisabled as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(report.line())
    if report.failed:
        sys.exit(1)


@digest.command("status")
@pass_ctx
def digest_status(c: Context) -> None:
    """Subscribers by status and outbox messages by status."""
    s = subscription_table.counts(_store(c))
    click.echo("subscribers: " + (", ".join(f"{k} {v}" for k, v in sorted(s["subscribers"].items())) or "none"))
    click.echo("outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(s["outbox"].items())) or "empty"))


@cli.command()
@click.option("--once", is_flag=True, help="Run the job once now and exit (for cron or a systemd timer).")
@click.option("--no-harvest", is_flag=True, help="Skip harvesting; digest what is stored.")
@click.option("--no-refresh", is_flag=True, help="Skip the index refresh (topics then match by words only if no vectors exist).")
@click.option("--as-of", help="With --once: run the job for this day (YYYY-MM-DD or 'latest'), e.g. to catch up.")
@click.option("--again", is_flag=True, help="With --once: run even if this day's job already finished (here or on another host).")
@pass_ctx
def schedule(c: Context, once: bool, no_harvest: bool, no_refresh: bool, as_of: str | None, again: bool) -> None:
    """Every day at settings.digest_hour_utc: harvest new papers, refresh the indexes, build and
    send the daily digests (and the weekly ones on settings.digest_weekday).

    Runs in the foreground until interrupted; --once runs the job immediately and exits.
    However many hosts run it, each day's job runs once: one host takes the leader lock, the
    others skip it, and a finished day is not run again (see --again).
    """
    from paperwire.digest.period import resolve_as_of
    from paperwire.schedule import next_run, run_daily_once
    from paperwire.search.engine import SearchEngine

    engine = SearchEngine(_store(c), c.settings)  # one for every run: its model loads once

    def job(day=None) -> dict:
        return run_daily_once(_store(c), c.settings, day=day, again=again, harvest=not no_harvest,
                              refresh=not no_refresh, echo=click.echo, engine=engine)

    if (as_of or again) and not once:
        raise click.UsageError("--as-of and --again need --once")
    if once:
        if as_of:
            try:
                result = job(resolve_as_of(_store(c), as_of))
            except ValueError as exc:
                raise click.UsageError(str(exc))
        else:
            result = job()
        if (result or {}).get("stopped"):  # lost the leader lock midway: the day is another host's now
            sys.exit(1)
        return
    while True:
        now = datetime.now(timezone.utc)
        nxt = next_run(now, c.settings.digest_hour_utc)
        click.echo(f"next run at {nxt:%Y-%m-%d %H:%M} UTC")
        while datetime.now(timezone.utc) < nxt:
            time.sleep(min(300.0, max(1.0, (nxt - datetime.now(timezone.utc)).total_seconds())))
        try:
            job()
        except Exception as exc:  # keep the schedule alive; the next day retries what is left
            logging.getLogger("paperwire.schedule").exception("scheduled run failed")
            click.echo(f"run failed: {exc}", err=True)
