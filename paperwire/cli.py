"""The `paperwire` command: a thin skin over the library.

Exit codes: 0 ok (including "nothing new"), 1 error, 2 usage.
Each command group below is kept in its own section; the work happens in the library.
"""

from __future__ import annotations

import json
import logging
import sys

import click

from paperwire.config import Settings


class Context:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._store = None

    @property
    def store(self):
        if self._store is None:
            from paperwire.store import open_store

            self._store = open_store(self.settings)
        return self._store


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="PAPERWIRE_DB", help="SQLite database file (default: paperwire.db).")
@click.option("--config", "config_path", envvar="PAPERWIRE_CONFIG", type=click.Path(exists=True, dir_okay=False),
              help="TOML settings file (default: ./paperwire.toml if present).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="paperwire")
@click.pass_context
def cli(ctx: click.Context, db: str | None, config_path: str | None, verbose: int) -> None:
    """paperwire: find the new papers that matter."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.load(config_path, db=db)
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc))
    ctx.obj = Context(settings)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted; committed work is kept, re-run to continue", err=True)
        sys.exit(130)


# --- ingest / stats / show -----------------------------------------------------------------

@cli.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["snapshot", "listing", "hf", "oai", "arxiv_api", "smart"]),
              help="Input format (detected from the file when omitted).")
@click.option("--strict", is_flag=True, help="Exit 1 if any record was skipped.")
@click.option("--batch-size", default=2000, show_default=True, help="Records per transaction.")
@pass_ctx
def ingest(c: Context, sources: tuple[str, ...], fmt: str | None, strict: bool, batch_size: int) -> None:
    """Import paper metadata from files (snapshot / listing JSON lines, optionally .gz;
    Hugging Face daily-papers JSON; OAI-PMH or Atom XML; SMART collections).

    An interrupted import resumes after its last committed batch when run again.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from paperwire.ingest import detect_format, import_file

    total_read = total_skipped = 0
    for src in sources:
        try:
            kind = fmt or detect_format(src)
        except (ValueError, OSError) as exc:
            click.echo(f"error: {exc}", err=True)
            total_skipped += 1
            continue
        with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.fields[stats]}"),
                      TimeElapsedColumn(), transient=True, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task(f"{src} ({kind})", stats="")

            def on_progress(s, task=task):
                progress.update(task, stats=s.line())

            def on_problem(p):
                progress.console.print(f"[yellow]skipped[/] {p.position}: {p.reason}", highlight=False)

            summary = import_file(c.store, src, kind, batch_size=batch_size, on_progress=on_progress,
                                  on_problem=on_problem if sys.stderr.isatty() else None)
        if not sys.stderr.isatty():
            for p in summary.problems:
                click.echo(f"skipped {p.position}: {p.reason}", err=True)
        click.echo(f"{src}: {summary.line()}")
        total_read += summary.read
        total_skipped += summary.skipped
    if total_read == 0 and total_skipped > 0:
        click.echo("error: nothing could be read", err=True)
        sys.exit(1)
    if strict and total_skipped:
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def stats(c: Context, as_json: bool) -> None:
    """Counts: papers, versions, code links, sources, categories."""
    from paperwire.store.papers import stats as store_stats

    s = store_stats(c.store)
    if as_json:
        click.echo(json.dumps(s, indent=2))
        return
    click.echo(f"database: {c.settings.db}")
    for k, v in s.items():
        if isinstance(v, dict):
            click.echo(f"{k}: " + ", ".join(f"{a} {b}" for a, b in v.items()))
        else:
            click.echo(f"{k}: {v}")


def _paper_dict(p) -> dict:
    import dataclasses

    d = dataclasses.asdict(p)
    return d


@cli.command()
@click.argument("paper_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def show(c: Context, paper_id: str, as_json: bool) -> None:
    """Show one paper by arXiv id (any version suffix is ignored)."""
    from paperwire.store.papers import get_paper
    from paperwire.text import canonical_id

    p = get_paper(c.store, canonical_id(paper_id) or paper_id)
    if p is None:
        click.echo(f"error: no paper {paper_id!r} in {c.settings.db}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(_paper_dict(p), indent=2, ensure_ascii=False))
        return
    click.echo(f"{p.id}  {p.title_display}")
    click.echo(f"authors:    {', '.join(p.authors)}")
    click.echo(f"categories: {' '.join(p.categories)}")
    for label, val in (("published", p.published), ("updated", p.updated), ("listed", p.listed),
                       ("comments", p.comments), ("journal-ref", p.journal_ref), ("doi", p.doi),
                       ("license", p.license)):
        if val:
            click.echo(f"{label + ':':<12}{val}")
    if p.versions:
        click.echo("versions:   " + ", ".join(f"v{v.number} {v.created or '?'}" + (f" ({v.size})" if v.size else "") for v in p.versions))
    for link in p.links:
        click.echo(f"link:       {link.url} [{link.kind}]")
    if p.hf_upvotes is not None:
        click.echo(f"hf:         featured {p.hf_featured_on}, {p.hf_upvotes} upvotes")
    click.echo(f"sources:    {', '.join(p.sources)}")
    click.echo("")
    click.echo(p.abstract_display)


@cli.command()
@click.option("--limit", default=10, show_default=True)
@pass_ctx
def latest(c: Context, limit: int) -> None:
    """The most recently listed papers."""
    from paperwire.store.papers import latest_papers

    for p in latest_papers(c.store, limit=limit):
        code = " [code]" if any(l.kind in ("github", "gitlab") for l in p.links) else ""
        click.echo(f"{p.listed or (p.published or '')[:10]}  {p.id:<12} {p.title_display[:90]}{code}")


if __name__ == "__main__":
    main()
