"""Paper commands: ingest files, harvest the live sources, look at the store."""

from __future__ import annotations

import dataclasses
import json
import sys

import click

from paperwire.cli.base import Context, cli, pass_ctx
from paperwire.models import CODE_KINDS
from paperwire.store.papers import get_paper, latest_papers
from paperwire.store.papers import stats as store_stats
from paperwire.text import canonical_id, tex_to_text


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["snapshot", "listing", "hf", "oai", "arxiv_api", "smart", "abs"]),
              help="Input format (detected from the file when omitted).")
@click.option("--strict", is_flag=True, help="Exit 1 if any record was skipped.")
@click.option("--batch-size", type=int, default=None, help="Records per transaction [default: 2000; 10000 with --bulk].")
@click.option("--bulk/--no-bulk", default=None,
              help="Store new papers first, then add them to the search, author and category indexes in one pass "
                   "instead of one by one (~2x faster imports; default: on for files of 32 MB or more).")
@pass_ctx
def ingest(c: Context, sources: tuple[str, ...], fmt: str | None, strict: bool, batch_size: int | None,
           bulk: bool | None) -> None:
    """Import paper metadata from files (snapshot / listing JSON lines, optionally .gz;
    Hugging Face daily-papers JSON; OAI-PMH or Atom XML; SMART collections; arXiv .abs files,
    a folder or a .tar(.gz) of them).

    An interrupted import resumes after its last committed batch when run again. Files of 8 MB
    or more are parsed in a second process. With --bulk, papers stored by the import become
    findable by words, and listed on their author and category pages, when it finishes (by
    meaning after `paperwire index`, as always); a bulk import that was interrupted is
    finished, indexes included, by the next `paperwire ingest` or `paperwire index`.
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

            def on_catch_up(stage, n, task=task):
                progress.update(task, stats=f"{stage}: {n} papers")

            summary = import_file(c.store, src, kind, batch_size=batch_size, on_progress=on_progress,
                                  on_problem=on_problem if sys.stderr.isatty() else None, bulk=bulk,
                                  on_catch_up=on_catch_up)
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


@cli.command()
@click.argument("paper_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def show(c: Context, paper_id: str, as_json: bool) -> None:
    """Show one paper by arXiv id (any version suffix is ignored)."""
    p = get_paper(c.store, canonical_id(paper_id) or paper_id)
    if p is None:
        click.echo(f"error: no paper {paper_id!r} in {c.settings.db}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(p), indent=2, ensure_ascii=False))
        return
    click.echo(f"{p.id}  {tex_to_text(p.title_display)}")  # a terminal shows text, not TeX
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
    click.echo(tex_to_text(p.abstract_display))


@cli.command()
@click.option("--limit", default=10, show_default=True)
@pass_ctx
def latest(c: Context, limit: int) -> None:
    """The most recently listed papers."""
    for p in latest_papers(c.store, limit=limit):
        code = " [code]" if any(link.kind in CODE_KINDS for link in p.links) else ""
        click.echo(f"{p.listed or (p.published or '')[:10]}  {p.id:<12} {tex_to_text(p.title_display)[:90]}{code}")


# --- harvest: oai / arxiv / hf ---------------------------------------------------------------

@cli.group()
def harvest() -> None:
    """Fetch paper metadata from arXiv (OAI-PMH, query API) and Hugging Face into the store."""


def _report(summary, what: str) -> None:
    for p in summary.problems:
        click.echo(f"skipped {p.position}: {p.reason}", err=True)
    click.echo(f"{what}: {summary.line()}")
    if summary.read == 0 and summary.skipped > 0:
        click.echo("error: nothing could be read", err=True)
        sys.exit(1)


@harvest.command("oai")
@click.option("--from", "from_", metavar="YYYY-MM-DD", help="First datestamp (default: the day of the last completed harvest).")
@click.option("--until", metavar="YYYY-MM-DD", help="Last datestamp (default: today).")
@click.option("--set", "set_", metavar="SET", help="OAI set, e.g. cs or physics:hep-th (default: all of arXiv).")
@click.option("--url", help="OAI-PMH endpoint (default: settings.oai_url).")
@click.option("--max-pages", type=int, help="Stop after this many pages (the next run continues).")
@pass_ctx
def harvest_oai_cmd(c: Context, from_: str | None, until: str | None, set_: str | None, url: str | None,
                    max_pages: int | None) -> None:
    """ListRecords (metadataPrefix=arXiv), page by page; an interrupted harvest resumes from its
    last stored page when run again (with the same or no options)."""
    from paperwire.ingest.http import HarvestError
    from paperwire.ingest.oaipmh import harvest_oai

    s = c.settings
    try:
        summary = harvest_oai(c.store, url or s.oai_url, from_, until, set_, delay=s.http_delay, timeout=s.http_timeout,
                              max_pages=max_pages,
                              on_progress=lambda x: click.echo(f"  ... {x.line()}", err=True))
    except HarvestError as exc:
        click.echo(f"error: {exc} (stored pages are kept; run again to resume)", err=True)
        sys.exit(1)
    _report(summary, "oai")


@harvest.command("arxiv")
@click.option("--id", "ids", multiple=True, metavar="ID", help="arXiv id (repeatable).")
@click.option("--query", help="arXiv API search query, e.g. 'cat:cs.CL AND ti:retrieval'.")
@click.option("--max", "max_results", type=int, help="Most entries to fetch (default: all ids, or 100 for a query).")
@click.option("--start", default=0, show_default=True, help="Offset of the first result.")
@click.option("--page-size", default=100, show_default=True, help="Entries per request.")
@click.option("--url", help="Query API endpoint (default: settings.arxiv_api_url).")
@pass_ctx
def harvest_arxiv_cmd(c: Context, ids: tuple[str, ...], query: str | None, max_results: int | None, start: int,
                      page_size: int, url: str | None) -> None:
    """Papers from the arXiv query API, by id or by search query, paged."""
    from paperwire.ingest import run_import
    from paperwire.ingest.arxiv_api import fetch_arxiv
    from paperwire.ingest.http import HarvestError

    if not ids and not query:
        raise click.UsageError("give --id ID (repeatable) or --query Q")
    s = c.settings
    base = url or s.arxiv_api_url
    try:
        parsed = fetch_arxiv(list(ids) or None, query, start, max_results, page_size, base_url=base,
                             delay=s.http_delay, timeout=s.http_timeout)
        summary = run_import(c.store, parsed, source="arxiv_api", source_ref=base, batch_size=page_size)
    except HarvestError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    _report(summary, "arxiv")


@harvest.command("hf")
@click.option("--date", metavar="YYYY-MM-DD", help="Day featured on Hugging Face (default: HF's latest).")
@click.option("--url", help="Hugging Face base URL (default: settings.hf_api_url).")
@pass_ctx
def harvest_hf_cmd(c: Context, date: str | None, url: str | None) -> None:
    """Hugging Face daily papers of one day: the papers, their upvotes and linked code."""
    from paperwire.ingest import run_import
    from paperwire.ingest.hf import fetch_hf_daily
    from paperwire.ingest.http import HarvestError

    s = c.settings
    base = url or s.hf_api_url
    try:
        summary = run_import(c.store, fetch_hf_daily(base, date, timeout=s.http_timeout), source="hf", source_ref=base)
    except HarvestError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    _report(summary, "hf")
