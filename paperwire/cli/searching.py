"""Search commands: build the indexes, search from the shell or in batch."""

from __future__ import annotations

import json
import sys

import click

from paperwire.cli.base import Context, cli, pass_ctx


@cli.command()
@click.option("--rebuild", is_flag=True, help="Rebuild the lexical index and the vector index from the store.")
@click.option("--model", help="Embedding model for this run (overrides settings.embed_model): minilm, static or a folder.")
@click.option("--vectors", "vectors_file", type=click.Path(exists=True, dir_okay=False),
              help="Take paper vectors from this file (written by --export-vectors; the demo ships one) for "
                   "the papers whose text and model match; embed the rest.")
@click.option("--export-vectors", "export_file", type=click.Path(dir_okay=False),
              help="After indexing, write every paper vector of the model to this .npz file.")
@pass_ctx
def index(c: Context, rebuild: bool, model: str | None, vectors_file: str | None, export_file: str | None) -> None:
    """Embed new and changed papers and update the search indexes (resumable).

    The lexical index follows the store by itself; this command computes paper vectors
    (only for papers without one or whose text changed) and updates the vector index.
    """
    import dataclasses
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from paperwire.search import indexer

    settings = dataclasses.replace(c.settings, embed_model=model) if model else c.settings
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                  disable=not sys.stderr.isatty()) as progress:
        tasks: dict = {}
        t0 = time.perf_counter()
        # Not a terminal (a log file, as in scripts/demo.sh): a plain line now and then instead.
        lines = PlainProgress() if progress.disable else None

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total, rate="")
            rate = done / max(time.perf_counter() - t0, 1e-9)
            progress.update(tasks[stage], completed=done, total=total, rate=f"{rate:,.0f} papers/s")
            if lines is not None:
                lines.update(stage, done, total)

        try:
            if rebuild:
                result = indexer.rebuild(c.store, settings, progress=on_progress)
            else:
                result = indexer.refresh(c.store, settings, progress=on_progress, vectors_file=vectors_file)
        except Exception as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    if "vectors_imported" in result:
        if result["vectors_file_model"] != result["model"]:
            click.echo(f"{vectors_file}: vectors of model {result['vectors_file_model']}, not {result['model']}: "
                       "none used", err=True)
        else:
            click.echo(f"{vectors_file}: {result['vectors_imported']} paper vectors taken from the file")
    if "lexical_rebuilt" in result:
        click.echo(f"lexical index rebuilt: {result['lexical_rebuilt']} papers")
    rate = f" ({result['rate']} papers/s)" if result.get("rate") else ""
    click.echo(f"model {result['model']}: embedded {result['embedded']} papers in {result['seconds']}s{rate}; "
               f"{result['index']} index of {result['vectors']} vectors")
    if "lexical_added" in result:
        click.echo(f"tantivy lexical index: {result['lexical_added']} added, {result['lexical_changed']} changed")
    if export_file:
        n = indexer.export_vectors(c.store, result["model"], export_file)
        click.echo(f"wrote {n} paper vectors of model {result['model']} to {export_file}")


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

    from paperwire.search.engine import SearchEngine

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
                               "coverage": res.coverage_note, "hits": [dataclasses.asdict(h) for h in res.hits]}, indent=2, ensure_ascii=False))
        return
    if res.fallback:
        click.echo(f"note: {res.mode} search ({res.fallback})", err=True)
    if res.coverage_note:
        click.echo(f"note: {res.coverage_note} (run `paperwire index` for the rest)", err=True)
    click.echo(f"{res.total} matches ({res.mode})")
    for n, h in enumerate(res.hits, offset + 1):
        pin = " *" if h.parts.get("pinned") else ""
        click.echo(f"{n:>3}. {h.paper_id:<14} {h.score:8.4f}  {h.title[:100]}{pin}")


class PlainProgress:
    """Progress lines on stderr for logs: done/total, rate and time left, every few seconds."""

    def __init__(self, every: float = 5.0):
        import time

        self.clock = time.perf_counter
        self.every = every
        self.started: dict[str, tuple[float, int]] = {}
        self.last = 0.0

    def update(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        t_first, done_first = self.started.setdefault(stage, (now, done))
        if now - self.last < self.every and done < total:
            return
        self.last = now
        rate = (done - done_first) / (now - t_first) if now > t_first and done > done_first else 0.0
        left = f", about {format_seconds((total - done) / rate)} left" if rate > 0 and total > done else ""
        speed = f" ({rate:,.1f} papers/s{left})" if rate > 0 else ""
        click.echo(f"{stage}: {done:,}/{total:,}{speed}", err=True)


def format_seconds(secs: float) -> str:
    secs = int(round(secs))
    return f"{secs // 60}m{secs % 60:02d}s" if secs >= 60 else f"{secs}s"
