"""Store commands: move an install from SQLite to PostgreSQL, and keep a host's index folders
current from the store (each app host of a multi-host install runs one)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from paperwire.cli.base import Context, cli, pass_ctx


@cli.group()
def store() -> None:
    """Move the store to PostgreSQL; follow it with this host's index folders."""


@store.command("copy")
@click.argument("sqlite_path", type=click.Path(exists=True, dir_okay=False))
@click.argument("url")
def copy_cmd(sqlite_path: str, url: str) -> None:
    """Copy every table of the SQLite store at SQLITE_PATH into the new, empty PostgreSQL
    database at URL (postgresql://...), in one transaction, and check each table's row count.

    Both stores are migrated to the current version first. Exit code 1 when the counts differ
    or the copy is refused (a target that already holds papers or users, an unfinished bulk
    import in the source)."""
    from paperwire.store import open_store
    from paperwire.store.copy import CopyError, copy_store

    if not url.startswith(("postgresql://", "postgres://")):
        raise click.UsageError("URL must be a postgresql:// URL")
    src = open_store(str(Path(sqlite_path)))
    dst = open_store(url)
    t0 = time.perf_counter()
    shown: dict[str, float] = {}

    def progress(table: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done >= total or now - shown.get(table, 0) > 2:
            shown[table] = now
            click.echo(f"{table}: {done:,} / {total:,} rows", err=True)

    try:
        report = copy_store(src, dst, progress=progress)
    except CopyError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    finally:
        src.close()
        dst.close()
    width = max(len(t) for t in report.counts) if report.counts else 5
    for table, (a, b) in report.counts.items():
        mark = "" if a == b else "   MISMATCH"
        click.echo(f"{table:<{width}}  {a:>10,}  {b:>10,}{mark}")
    secs = time.perf_counter() - t0
    click.echo(f"copied {report.rows:,} rows of {len(report.counts)} tables in {secs:.1f}s "
               f"({report.rows / max(secs, 1e-9):,.0f} rows/s)")
    if not report.ok:
        click.echo(f"error: row counts differ: {', '.join(report.mismatches())}", err=True)
        sys.exit(1)


@store.command("follow")
@click.option("--once", is_flag=True, help="One pass, then exit (a build from scratch, or one catch-up).")
@click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds between passes.")
@click.option("--embed", is_flag=True, help="Also embed papers that have no vector yet (one host is enough).")
@pass_ctx
def follow_cmd(c: Context, once: bool, interval: float, embed: bool) -> None:
    """Keep this host's index folders (tantivy, vectors) current with the store: built from the
    database when the host starts empty (printing how far it is), then updated from the store's
    change sequence every INTERVAL seconds until interrupted."""
    from paperwire.search import indexer
    from paperwire.store import open_store
    from paperwire.store.base import is_postgres_url

    last: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done >= total or now - last.get(stage, 0) > 2:
            last[stage] = now
            click.echo(indexer.progress_line(stage, done, total), err=True)

    # a PostgreSQL URL is opened as it is (Context.store looks for a SQLite file of that name)
    store = open_store(c.settings) if is_postgres_url(str(c.settings.db)) else c.store
    follower = indexer.Follower(store, c.settings, interval=interval, embed=embed, progress=progress)
    try:
        result = follower.run_once()
    except Exception as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(_summary(result))
    if once:
        return
    follower._loop()  # until Ctrl-C (the group's main turns that into exit code 130)


def _summary(result: dict) -> str:
    parts = [f"{result.get('index', '?')} vector index of {result.get('vectors', 0):,} vectors"]
    if "embedded" in result:
        parts.append(f"{result['embedded']:,} embedded")
    if "lexical_added" in result:
        parts.append(f"tantivy: {result['lexical_added']:,} added, {result['lexical_changed']:,} changed")
    return "; ".join(parts)
