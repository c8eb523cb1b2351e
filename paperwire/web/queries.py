"""What the site computes, once, for every way it is shown: HTML pages (pages.py), the Hugging
Face-shaped and v1 JSON (api.py) and the feeds (feeds.py) call these and only shape the answer.

No request objects here: each function takes the store, settings or engine it reads, so the
same answer comes out of a page, an API route and a feed.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta

from paperwire.ingest import run_import
from paperwire.ingest.arxiv_api import fetch_arxiv
from paperwire.ranking import trending as rank
from paperwire.search.engine import SearchEngine, SearchResult
from paperwire.search.keyphrases import keyphrases
from paperwire.search.query import parse_query
from paperwire.store import listings, users
from paperwire.text import canonical_id, tex_to_text

log = logging.getLogger(__name__)


# --- lists by day, week and month ----------------------------------------------------------------

PERIOD_PATTERNS = {"day": re.compile(r"^\d{4}-\d{2}-\d{2}$"), "week": re.compile(r"^\d{4}-W\d{2}$"),
                   "month": re.compile(r"^\d{4}-\d{2}$")}
# what a malformed key should have been, for error messages
PERIOD_FORMS = {"day": "a date (YYYY-MM-DD)", "week": "an ISO week (YYYY-Www)", "month": "a month (YYYY-MM)"}


@dataclass(frozen=True)
class Period:
    """A listing period: a day, an ISO week or a month, as the first and last day it covers."""
    kind: str  # day | week | month
    key: str   # 2026-06-15 | 2026-W25 | 2026-06
    start: str
    end: str


def parse_period(kind: str, key: str) -> Period:
    """The period `key` names; ValueError unless it is a well-formed, real day, week or month."""
    if not PERIOD_PATTERNS[kind].match(key):
        raise ValueError(f"{key!r} is not {PERIOD_FORMS[kind]}")
    if kind == "day":
        start = end = date.fromisoformat(key).isoformat()
    else:
        start, end = listings.week_range(key) if kind == "week" else listings.month_range(key)
    # pages link the period before and after: both must be dates too (not so at year 1 or 9999)
    if not (_FIRST <= date.fromisoformat(start) and date.fromisoformat(end) <= _LAST):
        raise ValueError(f"{key!r} is too far from today")
    return Period(kind, key, start, end)


_FIRST, _LAST = date.min + timedelta(days=40), date.max - timedelta(days=40)


def latest_period(store) -> Period | None:
    """The newest day with a curated list; on a fresh install with no curation yet, the newest
    listing day (the data may be historical, so not 'today')."""
    day = listings.latest_curated_day(store) or listings.latest_listing_day(store)
    return Period("day", day, day, day) if day else None


def latest_listing_period(store) -> Period | None:
    day = listings.latest_listing_day(store)
    return Period("day", day, day, day) if day else None


def period_ids(store, period: Period, order: str, limit: int, offset: int,
               submitter: str | None = None) -> tuple[list[str], int]:
    """(paper ids, total) of the period's curated list in `order` ('upvotes' or 'published')."""
    return listings.curated_ids(store, period.start, period.end, order, limit, offset, submitter=submitter)


def new_period_ids(store, period: Period, limit: int, offset: int) -> tuple[list[str], int]:
    """(paper ids, total) of the papers first listed in the period, ranked by interest."""
    return listings.new_ids(store, period.start, period.end, limit, offset)


def submission_day(store, today: str | None = None, max_age_days: int = 7) -> str:
    """The day a submission goes to: today on a live install; on a store whose newest data is
    older than the submission window (the demo, an archive), its newest day, so that a paper of
    that data can still be put on a list and the newest list is the one it joins."""
    today = today or users.today()
    newest = max(filter(None, [listings.latest_listing_day(store), listings.latest_curated_day(store)]), default=None)
    if newest and newest < (date.fromisoformat(today) - timedelta(days=max_age_days)).isoformat():
        return newest
    return today


# --- cards for ranked items ----------------------------------------------------------------------

def with_cards(store, items: list) -> list[tuple]:
    """[(item, Card)] for items with a `paper_id` (search hits, trends, recommendations), in
    their order; hidden and unknown papers are dropped."""
    by_id = {c.id: c for c in listings.cards(store, [it.paper_id for it in items])}
    return [(it, by_id[it.paper_id]) for it in items if it.paper_id in by_id]


# --- search --------------------------------------------------------------------------------------

def run_search(engine: SearchEngine, q: str, limit: int, offset: int, mode: str = "hybrid") -> SearchResult:
    """A query with its filters (author:, cat:, ...); ValueError on a malformed filter."""
    text, filters = parse_query(q)
    return engine.search(text, filters=filters, mode=mode, limit=limit, offset=offset)


def search_cards(store, engine: SearchEngine, q: str, limit: int) -> list[listings.Card]:
    """The first `limit` matches of a query as cards (the HF search route and the search feed)."""
    result = run_search(engine, q, limit, 0)
    return listings.cards(store, [h.paper_id for h in result.hits])


# --- trending ------------------------------------------------------------------------------------

class TrendingMemo:
    """Trending scores move slowly (votes, stars, a decay over days) and cost a query over every
    paper with a signal, so a list is reused for `ttl` seconds; any write on the site (a new
    page-cache generation) drops them all. Readers do not queue behind a computation: a list
    older than `ttl` is served while one thread computes its successor, and readers missing
    the same list wait for the one computing it instead of each computing their own."""

    def __init__(self, page_cache, ttl: float = 60.0, max_items: int = 200):
        self.page_cache, self.ttl, self.max_items = page_cache, ttl, max_items
        self._items: dict[tuple, tuple[float, list]] = {}
        self._computing: dict[tuple, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, compute) -> list:
        key = (*key, self.page_cache.generation)
        hit = self._items.get(key)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        with self._lock:
            running = self._computing.get(key)
            if running is None:
                running = self._computing[key] = threading.Event()
                mine = True
            else:
                mine = False
        if not mine:
            if hit:
                return hit[1]  # being refreshed by another reader
            running.wait(60)
            hit = self._items.get(key)
            return hit[1] if hit else compute()
        if hit:
            threading.Thread(target=self._fill, args=(key, compute, running), daemon=True).start()
            return hit[1]
        return self._fill(key, compute, running)

    def _fill(self, key: tuple, compute, running: threading.Event) -> list:
        try:
            value = compute()
            with self._lock:
                if len(self._items) > self.max_items:
                    self._items.clear()
                self._items[key] = (time.monotonic(), value)
            return value
        finally:
            with self._lock:
                self._computing.pop(key, None)
            running.set()


def trending_list(store, settings, memo: TrendingMemo, window: str, limit: int, offset: int) -> list[tuple]:
    """[(Trend, Card)] for the window ending now, or as of the store's newest day when its data
    is older than the window (trending_as_of says which)."""
    def compute():
        end = rank.window_end(store, window)
        return rank.trending(store, window=window, now=end.now, local_now=end.local_now, limit=limit,
                             offset=offset, settings=settings)

    return with_cards(store, memo.get((window, limit, offset), compute))


def trending_as_of(store, window: str):
    """The day a trending window is scored as of (a store older than the window), else None."""
    return rank.window_end(store, window).as_of


def trending_note(t) -> str:
    """A trending score in words, for feeds: "212 upvotes on Hugging Face; +1,240 GitHub stars this week"."""
    return "; ".join(r.text for r in t.reasons)


# --- a paper -------------------------------------------------------------------------------------

def card_keywords(card: listings.Card, limit: int = 6) -> tuple[list[str], str]:
    """(keywords, where from) for a paper's chips: Hugging Face's AI keywords ('hf') when it has
    them, else key phrases paperwire derives from the abstract ('derived')."""
    if card.ai_keywords:
        return card.ai_keywords[:limit], "hf"
    # from the text a reader sees: "mathbb R" is no key phrase
    return keyphrases(tex_to_text(card.paper.abstract_display or card.paper.abstract), limit=limit), "derived"


def paper_markdown_text(store, pid: str) -> str | None:
    """The paper page as Markdown (Hugging Face's `read_paper` reads this), or None."""
    cs = listings.cards(store, [pid])
    if not cs:
        return None
    c, p = cs[0], cs[0].paper
    lines = [f"# {p.title_display}", "", f"**arXiv:** [{p.id}](https://arxiv.org/abs/{p.id})  ",
             f"**Authors:** {', '.join(p.authors)}  "]
    # a listing-only record knows the day arXiv listed it, not its first version's date
    published = (p.published or "")[:10] or (f"{p.listed} (listed on arXiv)" if p.listed else "")
    if published:
        lines.append(f"**Published:** {published}  ")
    lines += [f"**Categories:** {' '.join(p.categories)}  ", f"**Upvotes:** {c.upvotes}  "]
    if c.code_url:
        lines.append(f"**Code:** {c.code_url}" + (f" (★ {c.github_stars:,} on GitHub)" if c.github_stars else "") + "  ")
    if c.project_page:
        lines.append(f"**Project page:** {c.project_page}  ")
    if c.organization:
        lines.append(f"**Organization:** {c.organization.get('fullname') or c.organization.get('name')}  ")
    if c.curated_on:
        lines.append(f"**On the daily list of:** {c.curated_on}" + (f", submitted by {c.submitter}" if c.submitter else "")
                     + "  ")
    if p.listed and p.published:
        lines.append(f"**Listed on arXiv:** {p.listed}  ")
    keywords, source = card_keywords(c, limit=12)
    if keywords:
        label = "AI keywords (Hugging Face)" if source == "hf" else "Keywords (from the abstract)"
        lines.append(f"**{label}:** {', '.join(keywords)}  ")
    if c.ai_summary:
        lines += ["", "## AI summary (Hugging Face)", "", c.ai_summary]
    lines += ["", "## Abstract", "", p.abstract_display, ""]
    return "\n".join(lines)


def submit_by_id(store, settings, user, raw_id: str) -> tuple[str, str]:
    """Put a paper on the current curated list for `user` (submission_day): (paper id, day). Unknown papers are fetched from
    arXiv first. users.AccountError says why not (not an id, daily limit, not found). The
    caller drops the page cache."""
    pid = canonical_id(raw_id or "")
    if pid is None:
        raise users.AccountError(f"{raw_id!r} is not an arXiv id (like 2501.01234 or hep-th/9901001).")
    if not users.paper_exists(store, pid, include_hidden=True):
        fetch_from_arxiv(store, settings, pid)
    try:
        day = users.submit_paper(store, user.id, pid, day=submission_day(store, max_age_days=settings.submit_max_age_days),
                                 daily_limit=settings.submit_daily_limit, max_age_days=settings.submit_max_age_days)
    except KeyError:
        raise users.AccountError(f"{pid} is not in this collection and could not be fetched from arXiv.")
    return pid, day


def fetch_from_arxiv(store, settings, pid: str) -> None:
    """Import one paper from the arXiv query API (settings.arxiv_api_url); a failure only means
    the submission says the paper could not be found."""
    try:
        parsed = fetch_arxiv(ids=[pid], base_url=settings.arxiv_api_url, delay=0,
                             timeout=min(settings.http_timeout, 15.0), max_retries=1)
        summary = run_import(store, parsed, source="arxiv_api", source_ref=settings.arxiv_api_url)
        log.info("fetched %s from arXiv: %s", pid, summary.line())
    except Exception as exc:  # network or parse errors: reported to the user as "could not be fetched"
        log.warning("fetching %s from arXiv failed: %s", pid, exc)
