"""Ingestion: sources -> normalised records -> the store, in atomic, resumable batches.

Each source module parses its format into ``(position, item)`` pairs where the item
is a ``Paper``, an ``HFEntry`` or a ``Problem`` (a record that could not be read,
with where and why). No source module writes SQL; ``run_import`` does the writing,
one transaction per batch together with the checkpoint, so a kill at any moment
leaves whole batches only and a re-run starts after the last committed one.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Iterable, Iterator

from paperwire.models import HFEntry, Paper, Problem
from paperwire.store import Store
from paperwire.store.bulk import catch_up, deferred_batch, import_session
from paperwire.store.papers import upsert_papers

log = logging.getLogger(__name__)

Item = Paper | HFEntry | Problem
Parsed = Iterator[tuple[int, Item]]


@dataclasses.dataclass
class ImportSummary:
    read: int = 0
    stored: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    resumed_from: int = 0
    indexed: int = 0  # documents added to the full-text index after a bulk import
    problems: list[Problem] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        return self.line()

    def line(self) -> str:
        s = f"read {self.read}, stored {self.stored}, updated {self.updated}, skipped {self.skipped}"
        if self.unchanged:
            s += f" (unchanged {self.unchanged})"
        if self.indexed:
            s += f"; {self.indexed} added to the full-text index"
        if self.resumed_from:
            s += f"; resumed after position {self.resumed_from}"
        return s


def run_import(
    store: Store,
    parsed: Iterable[tuple[int, Item]],
    source: str,
    source_ref: str | None = None,
    checkpoint_key: str | None = None,
    batch_size: int | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    on_progress: Callable[[ImportSummary], None] | None = None,
    max_problems_kept: int = 1000,
    bulk: bool = False,
    on_catch_up: Callable[[str, int], None] | None = None,
) -> ImportSummary:
    """Store ``parsed`` in batches, each one transaction together with its checkpoint.

    ``bulk``: new papers are stored without their search document, author and category rows
    and full-text entry (together ~3x the cost of storing them), which are written set-based
    when the records are stored (paperwire.store.bulk). Whether bulk or not, an import that
    finds work still waiting from an earlier, interrupted bulk import finishes it before it
    returns, so every stored paper is searchable when an import returns.
    """
    with import_session(store, bulk):
        return _run_import(store, parsed, source, source_ref, checkpoint_key,
                           batch_size or (BULK_BATCH if bulk else BATCH), on_problem, on_progress,
                           max_problems_kept, bulk, on_catch_up)


BATCH = 2000  # records per transaction
BULK_BATCH = 10000  # in bulk mode: fewer, larger commits write each b-tree page fewer times


def _run_import(store, parsed, source, source_ref, checkpoint_key, batch_size, on_problem, on_progress,
                max_problems_kept, bulk, on_catch_up) -> ImportSummary:
    summary = ImportSummary()
    batch: list[Paper | HFEntry] = []
    last_pos = 0

    def flush() -> None:
        with store.transaction() as conn, (deferred_batch(conn) if bulk else nullcontext()):
            res = upsert_papers(store, batch, source, source_ref, conn=conn, bulk=bulk)
            if checkpoint_key:
                store.set_checkpoint(checkpoint_key, str(last_pos), conn=conn)
        summary.stored += res.stored
        summary.updated += res.updated
        summary.unchanged += res.unchanged
        batch.clear()
        if on_progress:
            on_progress(summary)

    for pos, item in parsed:
        last_pos = pos
        if isinstance(item, Problem):
            summary.skipped += 1
            if len(summary.problems) < max_problems_kept:
                summary.problems.append(item)
            log.warning("skipped %s: %s", item.position, item.reason)
            if on_problem:
                on_problem(item)
            continue
        summary.read += 1
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    if batch or checkpoint_key:
        flush()
    if checkpoint_key:
        store.set_checkpoint(checkpoint_key, None)  # finished: the next run starts from the top
    summary.indexed = catch_up(store, on_progress=on_catch_up)
    return summary


# -- files -----------------------------------------------------------------------------------

FORMATS = ("snapshot", "listing", "hf", "oai", "arxiv_api", "smart", "abs")


def file_checkpoint_key(path: str | Path, fmt: str) -> str:
    st = os.stat(path)
    return f"file:{fmt}:{Path(path).resolve()}:{st.st_size}:{int(st.st_mtime)}"


def detect_format(path: str | Path) -> str:
    """Guess a file's format from its first bytes (after gunzip)."""
    from paperwire.ingest.files import peek

    name = Path(path).name.lower()
    if Path(path).is_dir() or name.endswith((".abs", ".tar", ".tar.gz", ".tgz")):
        return "abs"  # arXiv .abs files: one, a folder of them, or an archive of them
    head = peek(path, 4096).lstrip()
    if head.startswith(".I "):
        return "smart"
    if head.startswith("<"):
        if "OAI-PMH" in head[:1000]:
            return "oai"
        if "<feed" in head:
            return "arxiv_api"
        raise ValueError(f"{path}: XML that is neither OAI-PMH nor an Atom feed")
    first = head.split("\n", 1)[0]
    if head.startswith("[") or (head.startswith("{") and (first.rstrip().endswith("{") or '"url"' in head[:300] and '"publication_date"' in head or '"paper"' in first[:20])):
        return "hf"
    if '"versions"' in first or '"update_date"' in first or '"authors_parsed"' in first:
        return "snapshot"
    if '"listing_date"' in first or '"summary"' in first:
        return "listing"
    if head.startswith("{"):
        return "hf"
    raise ValueError(f"{path}: cannot tell the format; pass --format ({', '.join(FORMATS)})")


def parser_for(fmt: str) -> Callable[..., Parsed]:
    if fmt == "snapshot":
        from paperwire.ingest.snapshot import parse_snapshot as p
    elif fmt == "listing":
        from paperwire.ingest.listing import parse_listing as p
    elif fmt == "hf":
        from paperwire.ingest.hf import parse_hf_file as p
    elif fmt == "oai":
        from paperwire.ingest.oaipmh import parse_oai_file as p
    elif fmt == "arxiv_api":
        from paperwire.ingest.arxiv_api import parse_atom_file as p
    elif fmt == "smart":
        from paperwire.ingest.smart import parse_smart as p
    elif fmt == "abs":
        from paperwire.ingest.abs import parse_abs as p
    else:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return p


PARALLEL_MIN_BYTES = 8 * 2**20  # files from this size are parsed in a child process (on 2+ cores)
BULK_MIN_BYTES = 32 * 2**20  # and from this size imported in bulk mode unless told otherwise


def import_file(store: Store, path: str | Path, fmt: str | None = None, bulk: bool | None = None,
                parallel: bool | None = None, **kw) -> ImportSummary:
    """Import one file, resuming after the last committed batch if an earlier run was cut off.

    ``bulk`` (see run_import) and ``parallel`` (parse in a child process,
    paperwire.ingest.parallel) default to on for large files.
    """
    fmt = fmt or detect_format(path)
    parse = parser_for(fmt)
    key = file_checkpoint_key(path, fmt)
    start = int(store.get_checkpoint(key) or 0)
    size = os.path.getsize(path) if os.path.isfile(path) else 0
    if bulk is None:
        bulk = size >= BULK_MIN_BYTES
    if parallel is None:
        parallel = size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1 and bool(sys.executable)
    if parallel:
        from paperwire.ingest.parallel import parse_in_child
        parsed = parse_in_child(fmt, path, start, db=store.path if store.path != ":memory:" else None)
    else:
        parsed = parse(path, start=start)
    try:
        summary = run_import(store, parsed, source=fmt, source_ref=Path(path).name,
                             checkpoint_key=key, bulk=bulk, **kw)
    finally:
        close = getattr(parsed, "close", None)
        if close:  # on an error too: stops a parser process now, not when the traceback goes
            close()
    summary.resumed_from = start
    return summary


# -- the scheduled harvest ---------------------------------------------------------------------

def harvest(store: Store, settings) -> ImportSummary:
    """What `paperwire schedule` runs each day: an incremental OAI-PMH harvest of each set in
    ``settings.harvest_sets`` (from the day of the last completed one, resuming an interrupted
    one) and Hugging Face's latest daily papers, as ``settings.harvest_sources`` says."""
    from paperwire.ingest.hf import fetch_hf_daily
    from paperwire.ingest.oaipmh import harvest_oai

    total = ImportSummary()
    sources = {x.strip() for x in (settings.harvest_sources or "").split(",") if x.strip()}
    parts = []
    if "oai" in sources:
        for set_ in [x.strip() for x in (settings.harvest_sets or "").split(",") if x.strip()] or [None]:
            parts.append(harvest_oai(store, settings.oai_url, set_=set_, delay=settings.http_delay,
                                     timeout=settings.http_timeout))
    if "hf" in sources:
        parts.append(run_import(store, fetch_hf_daily(settings.hf_api_url, timeout=settings.http_timeout),
                                source="hf", source_ref=settings.hf_api_url))
    for p in parts:
        total.read += p.read
        total.stored += p.stored
        total.updated += p.updated
        total.unchanged += p.unchanged
        total.skipped += p.skipped
        total.problems.extend(p.problems[: max(0, 1000 - len(total.problems))])
    return total
