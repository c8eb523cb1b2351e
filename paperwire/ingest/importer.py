"""Storing parsed records: ``run_import`` writes ``(position, item)`` pairs to the store in
atomic, resumable batches.

Each batch is one transaction together with its checkpoint, so a kill at any moment leaves
whole batches only and a re-run starts after the last committed one. Items that could not be
read (``Problem``) are counted, logged and kept for the report, never stored.
"""

from __future__ import annotations

import dataclasses
import logging
from contextlib import nullcontext
from typing import Callable, Iterable, Iterator

from paperwire.models import HFEntry, Paper, Problem
from paperwire.store import Store
from paperwire.store.bulk import catch_up, deferred_batch, import_session
from paperwire.store.papers import UpsertResult, upsert_papers
from paperwire.validate import checked_record

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

    def skip(self, problem: Problem, on_problem: Callable[[Problem], None] | None = None,
             max_problems_kept: int = 1000) -> None:
        """Count and log a record that could not be read; the first `max_problems_kept` are kept."""
        self.skipped += 1
        if len(self.problems) < max_problems_kept:
            self.problems.append(problem)
        log.warning("skipped %s: %s", problem.position, problem.reason)
        if on_problem:
            on_problem(problem)

    def count_stored(self, result: UpsertResult) -> None:
        self.stored += result.stored
        self.updated += result.updated
        self.unchanged += result.unchanged

    def add(self, other: "ImportSummary", max_problems_kept: int = 1000) -> None:
        """Add another run's counts and problems (the harvest of several sources)."""
        self.read += other.read
        self.count_stored(other)
        self.skipped += other.skipped
        self.problems.extend(other.problems[: max(0, max_problems_kept - len(self.problems))])


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
    and full-text entry (together several times the cost of storing them), which are written set-based
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

    def write(items: list, checkpoint: bool) -> UpsertResult:
        with store.transaction() as conn, (deferred_batch(conn) if bulk else nullcontext()):
            res = upsert_papers(store, items, source, source_ref, conn=conn, bulk=bulk)
            if checkpoint and checkpoint_key:
                store.set_checkpoint(checkpoint_key, str(last_pos), conn=conn)
        return res

    def flush() -> None:
        try:
            summary.count_stored(write(batch, True))
        except (TypeError, ValueError, OverflowError) as exc:
            # a record the checks above let through and the store refuses: the batch was rolled
            # back, so store its records one by one and report only the one that fails
            log.warning("batch ending at position %s refused (%s); storing it record by record", last_pos, exc)
            for item in batch:
                try:
                    summary.count_stored(write([item], False))
                except (TypeError, ValueError, OverflowError) as one:
                    summary.skip(Problem(f"{source_ref or source}: record {_record_id(item)}",
                                         f"not stored ({one.__class__.__name__}: {one})"), on_problem, max_problems_kept)
            summary.count_stored(write([], True))
        batch.clear()
        if on_progress:
            on_progress(summary)

    for pos, item in parsed:
        last_pos = pos
        if isinstance(item, Problem):
            summary.skip(item, on_problem, max_problems_kept)
            continue
        problem = checked_record(item)
        if problem:
            summary.skip(Problem(f"{source_ref or source}: position {pos} ({_record_id(item)})", problem),
                         on_problem, max_problems_kept)
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


def _record_id(item) -> str:
    paper = item.paper if isinstance(item, HFEntry) else item
    pid = getattr(paper, "id", None)
    return pid if isinstance(pid, str) else "?"
