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
@click.option("--format", "fmt", type=click.Choice(["snapshot", "listing", "hf", "oai", "arxiv_api", "smart", "abs"]),
              help="Input format (detected from the file when omitted).")
@click.option("--strict", is_flag=True, help="Exit 1 if any record was skipped.")
@click.option("--batch-size", type=int, default=None, help="Records per transaction [default: 2000; 10000 with --bulk].")
@click.option("--bulk/--no-bulk", default=None,
              help="Add new papers to the full-text index in one pass after they are stored instead of one by one "
                   "(~2x faster imports; default: on for files of 32 MB or more).")
@pass_ctx
def ingest(c: Context, sources: tuple[str, ...], fmt: str | None, strict: bool, batch_size: int | None,
           bulk: bool | None) -> None:
    """Import paper metadata from files (snapshot / listing JSON lines, optionally .gz;
    Hugging Face daily-papers JSON; OAI-PMH or Atom XML; SMART collections; arXiv .abs files,
    a folder or a .tar(.gz) of them).

    An interrupted import resumes after its last committed batch when run again. Files of 8 MB
    or more are parsed in a second process. With --bulk, papers stored by the import become
    findable by words when it finishes (by meaning after `paperwire index`, as always); a bulk
    import that was interrupted is finished, index included, by the next `paperwire ingest`.
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

            def on_catch_up(n, task=task):
                progress.update(task, stats=f"full-text index: {n} added")

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


# --- harvest: oai / arxiv / hf (issue 2, ingestion) ------------------------------------------

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


# --- search: index / search (issue 3) -----------------------------------------------------

@cli.command()
@click.option("--rebuild", is_flag=True, help="Rebuild the lexical index and the vector index from the store.")
@click.option("--model", help="Embedding model for this run (overrides settings.embed_model): minilm, static or a folder.")
@pass_ctx
def index(c: Context, rebuild: bool, model: str | None) -> None:
    """Embed new and changed papers and update the search indexes (resumable).

    The lexical index follows the store by itself; this command computes paper vectors
    (only for papers without one or whose text changed) and updates the vector index.
    """
    import dataclasses
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from paperwire.search import SearchEngine
    from paperwire.store import search_index

    settings = dataclasses.replace(c.settings, embed_model=model) if model else c.settings
    engine = SearchEngine(c.store, settings)
    if rebuild:
        n = search_index.rebuild_lexical(c.store)
        click.echo(f"lexical index rebuilt: {n} papers")
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                  disable=not sys.stderr.isatty()) as progress:
        tasks: dict = {}
        t0 = time.perf_counter()

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total, rate="")
            rate = done / max(time.perf_counter() - t0, 1e-9)
            progress.update(tasks[stage], completed=done, total=total, rate=f"{rate:,.0f} papers/s")

        try:
            result = engine.refresh(progress=on_progress, rebuild_lexical=rebuild)
            if rebuild:
                result.update(engine.vectors.rebuild(progress=on_progress))
        except Exception as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    rate = f" ({result['rate']} papers/s)" if result.get("rate") else ""
    click.echo(f"model {result['model']}: embedded {result['embedded']} papers in {result['seconds']}s{rate}; "
               f"{result['index']} index of {result['vectors']} vectors")
    if "lexical_added" in result:
        click.echo(f"tantivy lexical index: {result['lexical_added']} added, {result['lexical_changed']} changed")


def _read_batch(path: str) -> list[tuple[str, str]]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if "\t" not in line:
                raise click.UsageError(f"{path}:{n}: expected 'qid<TAB>query'")
            qid, query = line.split("\t", 1)
            out.append((qid.strip(), query))
    return out


@cli.command()
@click.argument("query", required=False)
@click.option("--mode", type=click.Choice(["hybrid", "lexical", "semantic"]), default="hybrid", show_default=True)
@click.option("--limit", default=10, show_default=True, help="Number of results (per query with --batch).")
@click.option("--offset", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--batch", "batch_file", type=click.Path(exists=True, dir_okay=False),
              help="Run every 'qid<TAB>query' line of this file (the model is loaded once).")
@click.option("--run-out", type=click.Path(dir_okay=False), help="With --batch: write a TREC run file here.")
@click.option("--tag", default=None, help="Run tag in the TREC run file (default: paperwire-<mode>).")
@pass_ctx
def search(c: Context, query: str | None, mode: str, limit: int, offset: int, as_json: bool, batch_file: str | None,
           run_out: str | None, tag: str | None) -> None:
    """Search papers by words and meaning.

    QUERY understands "phrases", prefix*, author:NAME, cat:cs.CL, has:code,
    from:YYYY-MM-DD, to:YYYY-MM-DD and date:listed; an arXiv id or an exact title comes first.
    """
    import dataclasses

    from paperwire.search import SearchEngine

    if bool(query) == bool(batch_file):
        raise click.UsageError("give a QUERY or --batch FILE (not both)")
    if run_out and not batch_file:
        raise click.UsageError("--run-out needs --batch")
    if batch_file:
        # Offline evaluation: load the model before the first query and give each query
        # time to encode, so a busy machine does not turn semantic runs into lexical ones.
        settings = dataclasses.replace(c.settings, encode_timeout=max(float(c.settings.encode_timeout), 120.0))
        engine = SearchEngine(c.store, settings)
        if mode != "lexical":
            try:
                engine.vectors.size()
            except Exception as exc:
                click.echo(f"note: encoder unavailable ({exc}); {mode} queries fall back to lexical", err=True)
        queries = _read_batch(batch_file)
        tag = tag or f"paperwire-{mode}"
        out = open(run_out, "w", encoding="utf-8") if run_out else sys.stdout
        modes_used: dict[str, int] = {}
        try:
            for qid, q in queries:
                res = engine.search(q, mode=mode, limit=limit)
                modes_used[res.mode] = modes_used.get(res.mode, 0) + 1
                for rank, h in enumerate(res.hits, 1):
                    out.write(f"{qid} Q0 {h.paper_id} {rank} {h.score:.6f} {tag}\n")
        finally:
            if run_out:
                out.close()
        if run_out:
            click.echo(f"{len(queries)} queries -> {run_out} (modes used: "
                       + ", ".join(f"{k} {v}" for k, v in modes_used.items()) + ")", err=True)
        return
    engine = SearchEngine(c.store, c.settings)
    if mode != "lexical":
        try:  # a command-line user waits for the model to load; encode_timeout then applies
            engine.warm(wait=True)
        except Exception:
            pass  # the search below reports the fallback
    res = engine.search(query, mode=mode, limit=limit, offset=offset)
    if as_json:
        click.echo(json.dumps({"query": res.query, "mode": res.mode, "fallback": res.fallback, "total": res.total,
                               "hits": [dataclasses.asdict(h) for h in res.hits]}, indent=2, ensure_ascii=False))
        return
    if res.fallback:
        click.echo(f"note: {res.mode} search ({res.fallback})", err=True)
    click.echo(f"{res.total} matches ({res.mode})")
    for n, h in enumerate(res.hits, offset + 1):
        pin = " *" if h.parts.get("pinned") else ""
        click.echo(f"{n:>3}. {h.paper_id:<14} {h.score:8.4f}  {h.title[:100]}{pin}")


# --- site: serve / user / token (issue 4) -------------------------------------------------

@cli.command()
@click.option("--host", help="Address to listen on (default: settings.host).")
@click.option("--port", type=int, help="Port (default: settings.port).")
@click.option("--workers", type=int, help="Worker processes (default: settings.workers).")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@pass_ctx
def serve(c: Context, host: str | None, port: int | None, workers: int | None, log_level: str) -> None:
    """Run the web site and API (uvicorn) and print its URL."""
    import os

    import uvicorn

    s = c.settings
    host, port, workers = host or s.host, port or s.port, workers or s.workers
    c.store  # apply migrations once here, not in every worker at the same time
    # workers re-create the app from settings: pass the resolved ones through the environment
    os.environ["PAPERWIRE_DB"] = str(s.db)
    cfg = click.get_current_context().find_root().params.get("config_path")
    if cfg:
        os.environ["PAPERWIRE_CONFIG"] = os.path.abspath(cfg)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"paperwire is serving {s.db} at http://{shown}:{port}/  (Ctrl+C stops)", err=True)
    uvicorn.run("paperwire.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=log_level in ("info", "debug"), proxy_headers=True)


def _user_or_exit(c: Context, username: str):
    from paperwire.store import users

    u = users.get_user_by_name(c.store, username)
    if u is None:
        click.echo(f"error: no user {username!r}", err=True)
        sys.exit(1)
    return u


@cli.group()
def user() -> None:
    """Manage site accounts."""


@user.command("create")
@click.argument("email")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the account an administrator (can hide papers and comments).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="PAPERWIRE_NEW_PASSWORD", help="Password (prompted when omitted).")
@pass_ctx
def user_create(c: Context, email: str, username: str, admin: bool, password: str) -> None:
    """Create an account (or use the site's sign-up page)."""
    from paperwire.store import users

    try:
        u = users.create_user(c.store, email, username, password, is_admin=admin)
    except users.AccountError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"created {'administrator' if u.is_admin else 'user'} {u.username} <{u.email}>")


@user.command("admin")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Take administrator rights away instead.")
@pass_ctx
def user_admin(c: Context, username: str, revoke: bool) -> None:
    """Give (or take) administrator rights."""
    from paperwire.store import users

    u = _user_or_exit(c, username)
    users.set_admin(c.store, u.id, not revoke)
    click.echo(f"{u.username}: {'not ' if revoke else ''}administrator")


@cli.group()
def token() -> None:
    """API tokens for /api/v1 writes."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="", help="A label to recognise the token by.")
@pass_ctx
def token_create(c: Context, username: str, name: str) -> None:
    """Create an API token for a user and print it (it is shown only once)."""
    from paperwire.store import users

    u = _user_or_exit(c, username)
    click.echo(users.create_token(c.store, u.id, name))


# --- digests: subscribe / digest build|send / schedule (issue 5) ----------------------------

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
    from paperwire import digest

    prefs = {"categories": list(categories), "authors": list(authors), "topics": list(topics),
             "seeds": list(seeds), "frequency": frequency}
    if size:
        prefs["size"] = size
    try:
        out = digest.subscribe(c.store, c.settings, email, prefs)
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
        from paperwire.mailer import DISABLED_MESSAGE, mail_enabled

        if not mail_enabled(c.settings):
            click.echo(DISABLED_MESSAGE, err=True)
        click.echo(f"confirmation queued for {out.subscriber.email}; confirm with:\n  {out.confirm_url}")


@cli.group()
def digest() -> None:
    """Build and send the e-mail digests (see docs/deployment.md for scheduling)."""


def _digest_engine(c: Context):
    try:
        from paperwire.search import SearchEngine

        return SearchEngine(c.store, c.settings)
    except ImportError:
        return None


def _digest_build(c: Context, period: str, as_of: str, to: str | None, out: str | None, dry_run: bool,
                  workers: int = 1):
    from paperwire import digest as dg

    if dry_run and not out:
        out = "digest-dry-run"
    engine = _digest_engine(c)
    with click.progressbar(length=1, label="building digests", file=sys.stderr) as bar:
        last = [0]

        def progress(n, total):
            if bar.length != total:
                bar.length = total
            bar.update(n - last[0])
            last[0] = n

        try:
            report = dg.build_period(c.store, c.settings, period, as_of=as_of, to=to,
                                     dry_run_dir=out if dry_run else None, engine=engine, progress=progress,
                                     workers=workers)
        except ValueError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    click.echo(report.line() + (f" (topics: {report.topic_method})" if report.topic_method else ""))
    if dry_run:
        click.echo(f"dry run: messages written to {out}/ (nothing queued, nothing sent)")
    return report


_period_opt = click.option("--period", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True)
_asof_opt = click.option("--as-of", default="today", show_default=True,
                         help="Day the period ends: YYYY-MM-DD, 'today' (UTC) or 'latest' (newest listing day in the store).")
_dry_opt = click.option("--dry-run", is_flag=True, help="Write the rendered messages (.eml, .html, .txt) to --out; queue and send nothing.")
_to_opt = click.option("--to", help="Only this subscriber's address.")
_out_opt = click.option("--out", type=click.Path(file_okay=False), help="Folder for --dry-run output (default ./digest-dry-run).")
_workers_opt = click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
                            help="Processes building digests in parallel (one per CPU core is plenty).")


@digest.command("build")
@_period_opt
@_asof_opt
@_dry_opt
@_to_opt
@_out_opt
@_workers_opt
@pass_ctx
def digest_build(c: Context, period: str, as_of: str, dry_run: bool, to: str | None, out: str | None,
                 workers: int) -> None:
    """Build this period's digests into the outbox (each subscriber at most once per period)."""
    _digest_build(c, period, as_of, to, out, dry_run, workers)


@digest.command("send")
@_period_opt
@_asof_opt
@_dry_opt
@_to_opt
@_out_opt
@_workers_opt
@click.option("--no-wait", is_flag=True, help="Do not wait in-process for retries of temporary failures.")
@pass_ctx
def digest_send(c: Context, period: str, as_of: str, dry_run: bool, to: str | None, out: str | None,
                workers: int, no_wait: bool) -> None:
    """Build this period's digests (if not built yet), then send everything due in the outbox.

    Safe to re-run at any time, also after a crash: every message goes out once.
    Exit code 1 when e-mail is off or messages failed permanently.
    """
    from paperwire import digest as dg
    from paperwire.mailer import MailDisabled, mail_enabled, DISABLED_MESSAGE

    if not dry_run and not mail_enabled(c.settings):
        click.echo(f"error: {DISABLED_MESSAGE}", err=True)
        sys.exit(1)
    _digest_build(c, period, as_of, to, out, dry_run, workers)
    if dry_run:
        return
    try:
        report = dg.deliver(c.store, c.settings, ids=dg.due_for(c.store, to) if to else None, wait=not no_wait)
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
    from paperwire.store import subscriptions as subs

    s = subs.counts(c.store)
    click.echo("subscribers: " + (", ".join(f"{k} {v}" for k, v in sorted(s["subscribers"].items())) or "none"))
    click.echo("outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(s["outbox"].items())) or "empty"))


@cli.command()
@click.option("--once", is_flag=True, help="Run the job once now and exit (for cron or a systemd timer).")
@click.option("--no-harvest", is_flag=True, help="Skip harvesting; digest what is stored.")
@click.option("--no-refresh", is_flag=True, help="Skip the index refresh (topics then match by words only if no vectors exist).")
@click.option("--as-of", help="With --once: run the job for this day (YYYY-MM-DD or 'latest'), e.g. to catch up.")
@pass_ctx
def schedule(c: Context, once: bool, no_harvest: bool, no_refresh: bool, as_of: str | None) -> None:
    """Every day at settings.digest_hour_utc: harvest new papers, refresh the indexes, build and
    send the daily digests (and the weekly ones on settings.digest_weekday).

    Runs in the foreground until interrupted; --once runs the job immediately and exits.
    """
    import time as _time
    from datetime import datetime, timezone

    from paperwire import digest as dg

    def job(day=None):
        dg.run_daily(c.store, c.settings, day=day, harvest=not no_harvest, refresh=not no_refresh, echo=click.echo)

    if as_of and not once:
        raise click.UsageError("--as-of needs --once")
    if once:
        if as_of:
            try:
                job(dg.resolve_as_of(c.store, as_of))
            except ValueError as exc:
                raise click.UsageError(str(exc))
            return
        job()
        return
    while True:
        now = datetime.now(timezone.utc)
        nxt = dg.next_run(now, c.settings.digest_hour_utc)
        click.echo(f"next run at {nxt:%Y-%m-%d %H:%M} UTC")
        while datetime.now(timezone.utc) < nxt:
            _time.sleep(min(300.0, max(1.0, (nxt - datetime.now(timezone.utc)).total_seconds())))
        try:
            job()
        except Exception as exc:  # keep the schedule alive; the next day retries what is left
            logging.getLogger("paperwire.schedule").exception("scheduled run failed")
            click.echo(f"run failed: {exc}", err=True)


# --- trending / signals / recommendations / profiles (issue 6) -------------------------------

def _profile_key(user_id: str | None, subscriber: str | None) -> str:
    if bool(user_id) == bool(subscriber):
        raise click.UsageError("give exactly one of --user ID and --subscriber ID")
    from paperwire.store import profiles

    key = profiles.user_key(user_id) if user_id else profiles.subscriber_key(subscriber)
    try:
        return profiles.check_key(key)
    except ValueError as exc:
        raise click.UsageError(str(exc))


def _now_option(c: Context, now: str | None):
    """'latest' (default for historical data: the newest listing day), 'real', or a day/time."""
    from paperwire import rank

    if now in (None, "latest"):
        return rank.latest_now(c.store)
    if now == "real":
        return None
    try:
        return rank._as_utc(now)
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
    from paperwire.signals import refresh_github_stars

    rep = refresh_github_stars(c.store, c.settings, limit=limit, since_day=since_day)
    click.echo(str(rep))
    for p in rep.problems[:20]:
        click.echo(f"  {p}", err=True)


@cli.command()
@click.option("--window", type=click.Choice(["day", "week", "month"]), default="week", show_default=True)
@click.option("--now", help="End of the window: 'latest' (newest listing day; default), 'real', or YYYY-MM-DD.")
@click.option("--limit", default=20, show_default=True)
@click.option("--offset", default=0)
@click.option("--json", "as_json", is_flag=True, help="JSON lines with the score breakdown.")
@pass_ctx
def trending(c: Context, window: str, now: str | None, limit: int, offset: int, as_json: bool) -> None:
    """Trending papers with their score breakdown (formula: docs/ranking.md)."""
    from paperwire import rank
    from paperwire.store.papers import get_papers

    trends = rank.trending(c.store, window, _now_option(c, now), limit=limit, offset=offset, settings=c.settings)
    titles = {pid: p.title_display for pid, p in get_papers(c.store, [t.paper_id for t in trends], False).items()}
    for i, t in enumerate(trends, offset + 1):
        if as_json:
            click.echo(json.dumps({"rank": i, "id": t.paper_id, "title": titles.get(t.paper_id), "score": t.score,
                                   "parts": t.parts, "inputs": t.inputs}))
        else:
            why = ", ".join(f"{k} {v:.3f}" for k, v in t.parts.items() if v)
            click.echo(f"{i:3d}. {t.paper_id:<16} {t.score:7.3f}  {titles.get(t.paper_id, '')[:70]}\n      {why}")


@cli.command()
@click.option("--user", "user_id", help="Account id (profile user:<id>).")
@click.option("--subscriber", help="Digest subscriber id (profile sub:<id>).")
@click.option("--since", help="First day of the window (default: --days before the newest listing day).")
@click.option("--until", help="Last day of the window (default: the newest listing day).")
@click.option("--days", default=7, show_default=True)
@click.option("--method", type=click.Choice(["similarity", "classifier", "blend"]),
              help="Recommender (default: setting rec_method).")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def recommend(c: Context, user_id, subscriber, since, until, days, method, limit, as_json) -> None:
    """Recommendations for one reader, with reasons."""
    from datetime import timedelta

    from paperwire import rank
    from paperwire import recommend as rec
    from paperwire.store.papers import get_papers

    key = _profile_key(user_id, subscriber)
    end = rank._as_utc(until) if until else rank.latest_now(c.store)
    if end is None:
        raise click.ClickException("the store has no papers")
    start = since or (end - timedelta(days=days - 1)).date().isoformat()
    recs = rec.recommend(c.store, c.settings, key, start, end.date().isoformat(), limit=limit, method=method)
    titles = {pid: p.title_display for pid, p in get_papers(c.store, [r.paper_id for r in recs], False).items()}
    for i, r in enumerate(recs, 1):
        if as_json:
            click.echo(json.dumps({"rank": i, "id": r.paper_id, "title": titles.get(r.paper_id), "score": r.score,
                                   "reasons": r.reasons}))
        else:
            click.echo(f"{i:3d}. {r.paper_id:<16} {r.score:7.3f}  {titles.get(r.paper_id, '')[:70]}\n"
                       f"      {'; '.join(r.reasons)}")


@cli.group()
def profile() -> None:
    """Reader profiles: import a library, follow categories/authors, show."""


@profile.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "user_id")
@click.option("--subscriber")
@click.option("--format", "fmt", type=click.Choice(["bibtex", "ris", "zotero_csv", "ids"]),
              help="Detected from the file when omitted.")
@click.option("--show-unmatched", is_flag=True)
@pass_ctx
def profile_import(c: Context, file: str, user_id, subscriber, fmt, show_unmatched: bool) -> None:
    """Add a library (BibTeX, RIS, Zotero CSV, arXiv ids/DOIs) to a profile as liked papers."""
    from paperwire.ingest.library import LibraryError, import_library

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
    from paperwire.store import profiles

    profiles.follow(c.store, _profile_key(user_id, subscriber), "author" if is_author else "category", value)
    click.echo(f"following {value}")


@profile.command("show")
@click.option("--user", "user_id")
@click.option("--subscriber")
@pass_ctx
def profile_show(c: Context, user_id, subscriber) -> None:
    from paperwire.store import profiles

    p = profiles.load_profile(c.store, _profile_key(user_id, subscriber))
    click.echo(json.dumps({"key": p.key, "positives": {k: v[0] for k, v in p.positives.items()},
                           "negatives": sorted(p.negatives), "categories": p.categories, "authors": p.authors},
                          indent=2))


if __name__ == "__main__":
    main()
