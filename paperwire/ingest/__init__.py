"""Ingestion: sources -> normalised records -> the store, in atomic, resumable batches.

Each source module parses its format into ``(position, item)`` pairs where the item
is a ``Paper``, an ``HFEntry`` or a ``Problem`` (a record that could not be read,
with where and why). No source module writes SQL; ``run_import`` (paperwire.ingest.importer)
stores them, one transaction per batch together with the checkpoint, so a kill at any moment
leaves whole batches only and a re-run starts after the last committed one.

This module is the package's front: ``import_file`` (one file, any format; paperwire.ingest.formats
tells which) and ``harvest`` (the scheduled harvest of the live sources).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from paperwire.ingest.formats import FORMATS, detect_format, parser_for
from paperwire.ingest.hf import fetch_hf_daily
from paperwire.ingest.importer import BATCH, BULK_BATCH, ImportSummary, Item, Parsed, run_import
from paperwire.ingest.oaipmh import harvest_oai
from paperwire.ingest.parallel import parse_in_child
from paperwire.store import Store

__all__ = ["BATCH", "BULK_BATCH", "FORMATS", "ImportSummary", "Item", "Parsed", "detect_format", "file_checkpoint_key",
           "harvest", "import_file", "parser_for", "run_import"]


def file_checkpoint_key(path: str | Path, fmt: str) -> str:
    st = os.stat(path)
    return f"file:{fmt}:{Path(path).resolve()}:{st.st_size}:{int(st.st_mtime)}"


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
    for part in parts:
        total.add(part)
    return total
