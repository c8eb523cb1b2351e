"""Ranking commands: trending, signals, recommendations and reading profiles."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import click

from paperwire.cli.base import Context, cli, pass_ctx
from paperwire.ranking import trending as rank
from paperwire.ranking.library import FORMATS as LIBRARY_FORMATS, LibraryError, import_library
from paperwire.store import profiles
from paperwire.store.papers import get_papers


def _profile_key(user_id: str | None, subscriber: str | None) -> str:
    if bool(user_id) == bool(subscriber):
        raise click.UsageError("give exactly one of --user ID and --subscriber ID")
    key = profiles.user_key(user_id) if user_id else profiles.subscriber_key(subscriber)
    try:
        return profiles.check_key(key)
    except ValueError as exc:
        raise click.UsageError(str(exc))


def _now_option(c: Context, now: str | None):
    """'latest' (default for historical data: the newest listing day), 'real', or a day/time."""
    if now in (None, "latest"):
        return rank.latest_now(c.store)
    if now == "real":
        return None
    try:
        return rank.as_utc(now)
    except ValueError:
        raise click.UsageError(f"--now must be 'latest', 'real', YYYY-MM-DD or an ISO time, not {now!r}")


@cli.group()
def signals() -> None:
    """Collect trending signals (GitHub stars of linked repositories)."""


@signals.command("refresh")
@click.option("--limit", type=int, help="Repositories to poll this run (default: setting github_refresh_limit).")
@click.option("--since", "since_day", help="Only repositories of papers from this day on (YYYY-MM-DD).")
@pass_ctx
def signals_refresh(c: Context, limit: int | None, since_day: str | None) -> None:
    """Ask GitHub for the stars of the N most relevant linked repositories (conditional requests;
    stops cleanly at the rate limit and continues next run)."""
    from paperwire.ranking.stars import refresh_github_stars

    rep = refresh_github_stars(c.store, c.settings, limit=limit, since_day=since_day)
    click.echo(str(rep))
    for p in rep.problems[:20]:
        click.echo(f"  {p}", err=True)
    # a rate limit stops the run cleanly (the next run continues); failures are an error
    if rep.errors or rep.unreachable:
        sys.exit(1)


@cli.command()
@click.option("--window", type=click.Choice(list(rank.WINDOWS)), default="week", show_default=True)
@click.option("--now", help="End of the window: 'latest' (newest listing day; default), 'real', or YYYY-MM-DD.")
@click.option("--limit", default=20, show_default=True)
@click.option("--offset", default=0)
@click.option("--json", "as_json", is_flag=True, help="JSON lines with the score breakdown.")
@pass_ctx
def trending(c: Context, window: str, now: str | None, limit: int, offset: int, as_json: bool) -> None:
    """Trending papers with their score breakdown (formula: docs/ranking.md)."""
    trends = rank.trending(c.store, window, _now_option(c, now), limit=limit, offset=offset, settings=c.settings)
    titles = {pid: p.title_display for pid, p in get_papers(c.store, [t.paper_id for t in trends], False).items()}
    for i, t in enumerate(trends, offset + 1):
        if as_json:
            click.echo(json.dumps({"rank": i, "id": t.paper_id, "title": titles.get(t.paper_id), "score": t.score,
                                   "parts": t.parts, "reasons": [r.text for r in t.reasons], "inputs": t.inputs}))
        else:
            why = "; ".join(f"{r.text} ({r.points:.2f})" for r in t.reasons)
            click.echo(f"{i:3d}. {t.paper_id:<16} {t.score:7.3f}  {titles.get(t.paper_id, '')[:70]}\n      {why}")


@cli.command()
@click.option("--user", "user_id", help="Account id (profile user:<id>).")
@click.option("--subscriber", help="Digest subscriber id (profile sub:<id>).")
@click.option("--since", help="First day of the window (default: --days before the newest listing day).")
@click.option("--until", help="Last day of the window (default: the newest listing day).")
@click.option("--days", default=7, show_default=True)
@click.option("--method", type=click.Choice(["fused", "similarity", "classifier", "blend"]),
              help="Recommender (default: setting rec_method).")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--batch", "batch_file", type=click.Path(exists=True, dir_okay=False),
              help="READERS.jsonl: rank every candidate for each reader (needs --from, --to, --run-out); one line "
                   "per reader: {\"reader\": \"r1\", \"profile\": [{\"id\": \"2506.01234\", \"added\": \"2026-05-30\"}], "
                   "\"negatives\": [\"...\"]}.")
@click.option("--from", "from_day", help="With --batch: first listing day of the candidates (YYYY-MM-DD).")
@click.option("--to", "to_day", help="With --batch: last listing day of the candidates (inclusive).")
@click.option("--run-out", type=click.Path(dir_okay=False),
              help="With --batch: write a TREC run here (reader Q0 paper_id rank score tag).")
@pass_ctx
def recommend(c: Context, user_id, subscriber, since, until, days, method, limit, as_json, batch_file, from_day,
              to_day, run_out) -> None:
    """Recommendations for one reader, with reasons; or, with --batch, a TREC run ranking every
    candidate listed from --from to --to for each reader of READERS.jsonl (same recommender and
    settings as the site and the digests)."""
    from paperwire.ranking import recommend as rec

    if batch_file:
        _recommend_batch(c, batch_file, from_day, to_day, run_out, method)
        return
    if from_day or to_day or run_out:
        raise click.UsageError("--from, --to and --run-out go with --batch READERS.jsonl")
    key = _profile_key(user_id, subscriber)
    end = rank.as_utc(until) if until else rank.latest_now(c.store)
    if end is None:
        raise click.ClickException("the store has no papers")
    start = since or (end - timedelta(days=days - 1)).date().isoformat()
    engine = None
    if c.settings.rec_features == "embeddings":  # the index's vectors serve as features
        from paperwire.search.engine import SearchEngine

        engine = SearchEngine(c.store, c.settings)
    recs = rec.recommend(c.store, c.settings, key, start, end.date().isoformat(), limit=limit, method=method,
                         engine=engine)
    titles = {pid: p.title_display for pid, p in get_papers(c.store, [r.paper_id for r in recs], False).items()}
    for i, r in enumerate(recs, 1):
        if as_json:
            click.echo(json.dumps({"rank": i, "id": r.paper_id, "title": titles.get(r.paper_id), "score": r.score,
                                   "reasons": r.reasons}))
        else:
            click.echo(f"{i:3d}. {r.paper_id:<16} {r.score:7.3f}  {titles.get(r.paper_id, '')[:70]}\n"
                       f"      {'; '.join(r.reasons)}")


def _recommend_batch(c: Context, batch_file: str, from_day, to_day, run_out, method) -> None:
    import os
    import tempfile
    import time

    from paperwire.ranking.batch import BatchError, run_batch

    if not (from_day and to_day and run_out):
        raise click.UsageError("--batch needs --from D1, --to D2 and --run-out RUN.txt")
    t0 = time.perf_counter()
    out_dir = os.path.dirname(os.path.abspath(run_out))
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".run-")
    try:
        with open(batch_file, encoding="utf-8") as src, os.fdopen(fd, "w", encoding="utf-8") as out:
            rep = run_batch(c.store, c.settings, src, from_day, to_day, method, out)
        os.replace(tmp, run_out)  # a failed run leaves no half-written file behind
    except BatchError as exc:
        os.unlink(tmp)
        raise click.ClickException(f"{batch_file}: {exc}; no run written")
    except BaseException:
        os.unlink(tmp)
        raise
    click.echo(f"{rep['readers']} readers x {rep['candidates']} candidates ({from_day} .. {to_day}, "
               f"{rep['method']}) -> {run_out} in {time.perf_counter() - t0:.1f} s"
               + (f"; {rep['unknown_profile_papers']} profile papers not in the store" if rep["unknown_profile_papers"] else ""),
               err=True)


@cli.group()
def profile() -> None:
    """Reader profiles: import a library, follow categories/authors, show."""


@profile.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "user_id")
@click.option("--subscriber")
@click.option("--format", "fmt", type=click.Choice(LIBRARY_FORMATS),
              help="Detected from the file when omitted.")
@click.option("--show-unmatched", is_flag=True)
@pass_ctx
def profile_import(c: Context, file: str, user_id, subscriber, fmt, show_unmatched: bool) -> None:
    """Add a library (BibTeX, RIS, Zotero CSV, arXiv ids/DOIs) to a profile as liked papers."""
    key = _profile_key(user_id, subscriber)
    try:
        rep = import_library(c.store, key, file, fmt)
    except LibraryError as exc:
        click.echo(f"error: {exc}; nothing imported", err=True)
        sys.exit(1)
    click.echo(str(rep))
    if show_unmatched:
        for e in rep.unmatched:
            click.echo(f"  unmatched {e.position}: {e.title or e.arxiv_id or e.doi}")


@profile.command("follow")
@click.argument("value")
@click.option("--author", "is_author", is_flag=True, help="VALUE is an author name (default: a category).")
@click.option("--user", "user_id")
@click.option("--subscriber")
@pass_ctx
def profile_follow(c: Context, value: str, is_author: bool, user_id, subscriber) -> None:
    profiles.follow(c.store, _profile_key(user_id, subscriber), "author" if is_author else "category", value)
    click.echo(f"following {value}")


@profile.command("show")
@click.option("--user", "user_id")
@click.option("--subscriber")
@pass_ctx
def profile_show(c: Context, user_id, subscriber) -> None:
    p = profiles.load_profile(c.store, _profile_key(user_id, subscriber))
    click.echo(json.dumps({"key": p.key, "positives": {k: v[0] for k, v in p.positives.items()},
                           "negatives": sorted(p.negatives), "categories": p.categories, "authors": p.authors},
                          indent=2))
