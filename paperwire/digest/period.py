"""Building one period's digests into the outbox: who gets one, which papers are new to them,
what is trending, how each interest scores, then one DigestBuilder (digest/builder.py) renders
every subscriber's message. Delivery is digest/outbox.py's.

Each subscriber's digest for a period is written once: the outbox key (subscriber, period) is
unique, and the subscriber's "new since" mark moves in the same transaction. Building again,
or after a crash, adds only the missing ones.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import time
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from paperwire.config import Settings
from paperwire.digest.builder import Digest, DigestBuilder, distinct, lexical_rows, norm_topic, vector_rows
from paperwire.digest.foryou import Recommendations
from paperwire.digest.outbox import new_message_id, write_dry_run
from paperwire.digest.subscriptions import PERIOD_DAYS, LinkSigner, list_id, normalise_email
from paperwire.models import Paper
from paperwire.ranking import trending as rank
from paperwire.search.query import Filters
from paperwire.search.topics import floor_for, holds_words, is_about
from paperwire.store import signals
from paperwire.store import subscriptions as subs
from paperwire.store.papers import get_papers
from paperwire.store.sqlite import Store
from paperwire.validate import find_problem

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


def period_key(kind: str, as_of: date) -> str:
    if kind == "daily":
        return f"daily:{as_of.isoformat()}"
    if kind == "weekly":
        y, w, _ = as_of.isocalendar()
        return f"weekly:{y}-W{w:02d}"
    raise ValueError(f"period must be 'daily' or 'weekly', not {kind!r}")


def resolve_as_of(store: Store, value: str | date | None) -> date:
    """'latest' -> the newest listing day in the store (for historical data such as the demo);
    None -> today (UTC); else an ISO date."""
    if isinstance(value, date):
        return value
    if value in (None, "", "today"):
        return datetime.now(timezone.utc).date()
    if value == "latest":
        day = signals.latest_day(store)
        if not day:
            raise ValueError("the store has no listed papers yet")
        return date.fromisoformat(day)
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"--as-of must be YYYY-MM-DD, 'today' or 'latest', not {value!r}")


@dataclass
class BuildReport:
    period: str
    subscribers: int = 0
    queued: int = 0
    empty: int = 0
    already: int = 0
    papers: int = 0
    written: list[str] = field(default_factory=list)  # dry run: files
    seconds: float = 0.0
    topic_method: str = ""
    failed: list[str] = field(default_factory=list)  # "subscriber <id>: <reason>", skipped this run

    def line(self) -> str:
        s = (f"{self.period}: {self.subscribers} subscriber(s), {self.papers} new paper(s); "
             f"queued {self.queued}, nothing new for {self.empty}")
        if self.written:
            s += f"; wrote {len(self.written)} file(s)"
        if self.failed:
            s += f"; FAILED for {len(self.failed)} (skipped; see below)"
        return s

    def add(self, counts: "_Counts") -> None:
        self.queued += counts.queued
        self.empty += counts.empty
        self.already += counts.already
        self.written += counts.written
        self.failed += counts.failed


# --- who, and which papers ---------------------------------------------------------------------

def _candidates(store: Store, kind: str, period: str, to: str | None, dry_run: bool) -> list[subs.Subscriber]:
    """The active subscribers of `kind` still without this period's digest (a dry run: all of
    them); with `to`, only that address, which must be one of them."""
    candidates = subs.list_subscribers(store, status="active", frequency=kind, period=None if dry_run else period)
    if to:
        to_norm = normalise_email(to)
        who = subs.get_by_email(store, to_norm)
        if who is None or who.status != "active" or who.frequency != kind:
            raise ValueError(f"{to_norm} is not an active {kind} subscriber")
        candidates = [s for s in candidates if s.id == who.id]
    return candidates


def _window_start(candidates: list[subs.Subscriber], kind: str, day: date) -> str:
    """The first listing day any candidate has not seen. A first digest covers the last
    period; later ones everything since the subscriber's last digest."""
    first_since = (day - timedelta(days=PERIOD_DAYS[kind])).isoformat()
    for s in candidates:
        if not s.last_until or s.last_until < first_since:
            s.last_until = first_since
    return min(s.last_until for s in candidates)


def _window_papers(store: Store, since: str, until: str) -> list[Paper]:
    papers = [p for p in get_papers(store, signals.window_papers(store, since, until)).values() if not p.hidden]
    papers.sort(key=lambda p: (p.listed or "", p.id))
    return papers


def _trending(store: Store, settings: Settings, kind: str, day: date) -> tuple[dict[str, float], list[Paper]]:
    """Each paper's trending score over the period, and the "trending this week" papers."""
    end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=timezone.utc)
    # only the signals (upvotes, views, HF, stars) count here: the recency part of the trending
    # score is the same for every paper of a day and would make everything look "trending"
    trend = {t.paper_id: t.score - t.parts.get("recency", 0.0)
             for t in rank.trending(store, "week" if kind == "weekly" else "day", now=end, limit=10**6,
                                    settings=settings)}
    # "trending this week" needs signals: recency alone would just list the newest papers
    week = [t for t in rank.trending(store, "week", now=end, limit=200, settings=settings)
            if t.score - t.parts.get("recency", 0.0) > 0][:8]
    week_papers = get_papers(store, [t.paper_id for t in week])
    return trend, [week_papers[t.paper_id] for t in week if t.paper_id in week_papers]


# --- how each interest scores ----------------------------------------------------------------

def _topic_rows_search(engine, topics: list[str], papers: list[Paper], since: str, until: str) -> tuple[dict, str]:
    """Each topic run as a saved search (hybrid) over the papers listed in the window.

    A hit counts as a match only when the paper is about the topic (``is_about``: all its
    words, or a close meaning; sharing one word is not enough); its strength is its fused rank
    position among the matches."""
    index = {p.id: i for i, p in enumerate(papers)}
    flt = Filters(date_from=since, date_to=until, date_field="listed")
    rows = {}
    modes = set()
    limit = min(200, max(20, len(papers)))
    for t in topics:
        row = np.zeros(len(papers), dtype=np.float32)
        res = engine.search(t, filters=flt, mode="hybrid", limit=limit)
        modes.add(res.mode)
        hits = [h for h in res.hits if h.paper_id in index and
                is_about(t, h.parts, _paper_text(papers[index[h.paper_id]]), floor_for(engine.settings.embed_model))]
        for r, h in enumerate(hits):
            row[index[h.paper_id]] = 1.0 - 0.5 * r / max(1, len(hits))
        rows[t] = row
    return rows, ",".join(sorted(modes))


def _paper_text(p: Paper) -> str:
    return f"{p.title_display or p.title} {p.abstract_display or p.abstract}"


def _seed_rows_vectors(engine, seeds: list[str], papers: list[Paper]) -> dict:
    """Seed papers' closeness to the window's papers by their stored vectors; empty unless every
    window paper has one (seeds without a vector are left to word matching)."""
    vecs = engine.paper_vectors([*seeds, *(p.id for p in papers)])
    have = [s for s in seeds if s in vecs]
    if not have or not all(p.id in vecs for p in papers):
        return {}
    pv = np.stack([vecs[p.id] for p in papers])
    return dict(zip(have, vector_rows(np.stack([vecs[s] for s in have]), pv)))


def _seed_rows_words(store: Store, seeds: list[str], papers: list[Paper]) -> dict:
    """Seed papers' closeness to the window's papers by their words (title and abstract)."""
    seed_papers = get_papers(store, seeds, with_details=False)
    have = [s for s in seeds if s in seed_papers]
    if not have:
        return {}
    texts = [f"{seed_papers[s].title_display} {seed_papers[s].abstract_display}" for s in have]
    return dict(zip(have, lexical_rows(texts, papers, min_score=0.15)))


def _interest_rows(store: Store, papers: list[Paper], topics: list[str], seeds: list[str], since: str,
                   until: str, engine=None) -> tuple[dict, dict, str]:
    """Score rows for every distinct topic and seed paper over the window's papers: through the
    search engine when there is one that works, by word matching otherwise."""
    topic_rows: dict = {}
    seed_rows: dict = {}
    method = "lexical"
    if engine is not None and topics:
        try:
            topic_rows, modes = _topic_rows_search(engine, topics, papers, since, until)
            method = f"saved searches ({modes})"
        except Exception as exc:  # no index yet, a broken model: words still work
            log.warning("search unavailable for digest topics (%s); using word matching", exc)
            topic_rows = {}
    if engine is not None and seeds and papers:
        try:
            seed_rows = _seed_rows_vectors(engine, seeds, papers)
        except Exception as exc:
            log.warning("paper vectors unavailable for seed papers (%s); using word matching", exc)
            seed_rows = {}
    if topics and not topic_rows:
        topic_rows = dict(zip(topics, lexical_rows(topics, papers)))
        # word overlap ranks; only a paper holding every word of the topic is about it
        for t, row in topic_rows.items():
            row[[i for i, p in enumerate(papers) if row[i] > 0 and not holds_words(t, _paper_text(p))]] = 0.0
    missing = [s for s in seeds if s not in seed_rows]
    if missing:
        seed_rows.update(_seed_rows_words(store, missing, papers))
    return topic_rows, seed_rows, method


# --- building and queueing ---------------------------------------------------------------------

@dataclass
class _Counts:
    """One worker's tally (travels back from a forked worker pickled)."""

    queued: int = 0
    empty: int = 0
    already: int = 0
    written: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass
class _Job:
    """What every subscriber's digest of one period shares; a forked worker inherits it."""

    settings: Settings
    period: str
    until: str
    builder: DigestBuilder
    links: LinkSigner
    for_you: Recommendations
    out_dir: Path | None  # a dry run's folder: files instead of outbox rows
    batch: int


def _queue(job: _Job, store: Store, built: list[tuple[subs.Subscriber, Digest | None]], counts: _Counts) -> None:
    """Write a batch of built digests into the outbox in one transaction; a subscriber with
    nothing new only has their mark moved. A dry run writes nothing."""
    if job.out_dir or not built:
        return
    try:
        with store.transaction() as conn:
            for s, d in built:
                _queue_one(job, conn, s, d, counts)
    except Exception:
        if len(built) == 1:
            raise
        # one message the database refuses must not cost the batch: the transaction was rolled
        # back, so queue them one by one and report only the one that fails
        for one in built:
            try:
                with store.transaction() as conn:
                    _queue_one(job, conn, *one, counts)
            except Exception as exc:
                _fail(counts, one[0], exc, queued=one[1] is not None)


def _queue_one(job: _Job, conn, s: subs.Subscriber, d: Digest | None, counts: _Counts) -> None:
    if d is None:
        subs.mark_period_done(conn, s.id, job.until)
        return
    mid = subs.add_message(conn, subscriber_id=s.id, period=job.period, kind="digest", to_addr=s.email,
                           subject=d.subject, text_body=d.text, html_body=d.html, headers=d.headers,
                           message_id=new_message_id(job.settings), n_items=len(d.items),
                           last_until=job.until)
    if mid is None:  # another run wrote this one meanwhile
        counts.already += 1
        counts.queued -= 1


def _preference_problem(sub: subs.Subscriber) -> str | None:
    """Why a subscriber's stored preferences cannot be used (text no encoder writes, a topic that
    is not text), or None."""
    for name in ("topics", "seeds", "categories", "authors"):
        values = getattr(sub, name, None) or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return f"{name}: must be a list of text"
    return find_problem(sub.preferences(), "preferences")


def _fail(counts: _Counts, sub: subs.Subscriber, exc: BaseException | str, queued: bool = False) -> None:
    """Skip one subscriber this run, with the reason in the report and the log (everyone else's
    digest still goes out; the next run tries this one again)."""
    reason = exc if isinstance(exc, str) else f"{exc.__class__.__name__}: {exc}"
    reason = reason.encode("utf-8", "backslashreplace").decode("utf-8")
    counts.failed.append(f"subscriber {sub.id}: {reason}")
    if queued:
        counts.queued -= 1
    log.error("digest for subscriber %s skipped: %s", sub.id, reason)


def _build_chunk(job: _Job, store: Store, chunk: list[subs.Subscriber], progress: Progress | None) -> _Counts:
    counts = _Counts()
    built: list[tuple[subs.Subscriber, Digest | None]] = []
    for n, s in enumerate(chunk, 1):
        problem = _preference_problem(s)
        if problem:  # stored before the input check existed: it could fail anyone's batch
            _fail(counts, s, problem)
            continue
        try:
            d = job.builder.build(s, job.links.links(s), for_you=job.for_you(store, s),
                                  for_you_named=job.for_you.named_sections(store, s))
        except Exception as exc:
            _fail(counts, s, exc)
            continue
        if d is None:
            counts.empty += 1
        else:
            counts.queued += 1
            if job.out_dir:
                counts.written += write_dry_run(job.out_dir, job.settings, d)
        built.append((s, d))
        if len(built) >= job.batch:
            _queue(job, store, built, counts)
            built.clear()
        if progress:
            progress(n, len(chunk))
    _queue(job, store, built, counts)
    return counts


def parallel_chunks(fn: Callable[[list], object], items: Sequence, workers: int) -> list:
    """fn(chunk) for `workers` interleaved chunks of `items`, each in a forked process (so the
    builder and its arrays are shared, not copied or pickled); returns the results in chunk
    order. fn's result travels back pickled, so keep it small. A failing child raises here."""
    ctx = multiprocessing.get_context("fork")
    answers = ctx.Queue()
    chunks = [list(items[i::workers]) for i in range(workers)]

    def run(k: int, chunk: list) -> None:
        try:
            answers.put((k, True, fn(chunk)))
        except BaseException:
            answers.put((k, False, traceback.format_exc()))

    procs = [ctx.Process(target=run, args=(k, c), daemon=True) for k, c in enumerate(chunks)]
    for p in procs:
        p.start()
    results: dict[int, object] = {}
    errors = []
    try:
        while len(results) + len(errors) < len(procs):
            try:
                k, ok, value = answers.get(timeout=1.0)
            except queue.Empty:
                # a child killed by a signal never answers: do not wait for it forever
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    errors.append(f"worker exited with code {dead[0].exitcode}")
                    break
                continue
            if ok:
                results[k] = value
            else:
                errors.append(value)
    finally:
        for p in procs:
            p.join()
    if errors:
        raise RuntimeError("a digest worker failed:\n" + errors[0])
    return [results[k] for k in range(len(chunks))]


def _build_all(job: _Job, store: Store, candidates: list[subs.Subscriber], workers: int,
               progress: Progress | None) -> list[_Counts]:
    """Every candidate's digest, in this process or split over `workers` forked processes."""
    if workers <= 1 or len(candidates) < 2 * job.batch:
        return [_build_chunk(job, store, candidates, progress)]

    def child(chunk: list[subs.Subscriber]) -> _Counts:
        # a forked child must not touch the parent's SQLite connection: it opens its own
        own = Store(store.path, migrate=False)
        try:
            return _build_chunk(job, own, chunk, None)
        finally:
            own.close()

    results = parallel_chunks(child, candidates, workers)
    if progress:
        progress(len(candidates), len(candidates))
    return results


def build_period(store: Store, settings: Settings, kind: str = "daily", as_of: str | date | None = None,
                 to: str | None = None, dry_run_dir: str | Path | None = None, engine=None,
                 progress: Progress | None = None, batch: int = 200, workers: int = 1) -> BuildReport:
    """Write this period's digest of every active subscriber of `kind` into the outbox (or,
    with dry_run_dir, into files there, leaving the database as it was). With workers > 1 the
    subscribers are split over that many forked processes, each writing its own batches.

    `engine` (a search engine) runs topics as saved searches and compares seed papers by their
    vectors; without one, or when it fails, interests are matched by their words."""
    t0 = time.perf_counter()
    day = resolve_as_of(store, as_of)
    report = BuildReport(period_key(kind, day))
    candidates = _candidates(store, kind, report.period, to, dry_run=bool(dry_run_dir))
    report.subscribers = len(candidates)
    if candidates:
        until = day.isoformat()
        since = _window_start(candidates, kind, day)
        papers = _window_papers(store, since, until)
        report.papers = len(papers)
        trend, trending_week = _trending(store, settings, kind, day)
        # the interests every digest shares are computed from the subscribers whose stored
        # preferences are sound; the others are reported and skipped one by one (_build_chunk)
        usable = [s for s in candidates if not _preference_problem(s)]
        topic_rows, seed_rows, report.topic_method = _interest_rows(
            store, papers, distinct((s.topics for s in usable), key=norm_topic),
            distinct(s.seeds for s in usable), since, until, engine)
        builder = DigestBuilder(papers, period=report.period, site_name=settings.site_name,
                                base_url=settings.base_url, trend=trend, trending_week=trending_week,
                                topic_rows=topic_rows, seed_rows=seed_rows,
                                send_empty=bool(settings.digest_send_empty), list_id=list_id(settings))
        out_dir = Path(dry_run_dir) if dry_run_dir else None
        if out_dir:
            out_dir.mkdir(parents=True, exist_ok=True)
        job = _Job(settings, report.period, until, builder, LinkSigner(settings),
                   Recommendations(store, settings, since, until, bool(papers), engine), out_dir, batch)
        for counts in _build_all(job, store, candidates, workers, progress):
            report.add(counts)
    report.seconds = time.perf_counter() - t0
    return report
