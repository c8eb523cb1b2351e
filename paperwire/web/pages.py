"""HTML pages: daily lists (day/week/month), trending, search, paper, author, category, user.

Handlers only parse the request and call the store/search/rank libraries; SQL lives in
paperwire/store/*.py. Anonymous page views come from a short-lived page cache (see
web_common.render) because a fresh morning list is read far more often than it changes.
"""

from __future__ import annotations

import logging
import math
import re
import time
from datetime import date, timedelta

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from paperwire.store import listings, users
from paperwire.store.papers import get_paper
from paperwire.text import canonical_id
from paperwire.web.render import cached_render, flash_redirect, render
from paperwire.web.security import current_user, rate_limit, require_user, safe_next, verify_csrf

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 30
TRENDING_TTL = 60.0
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WEEK_RE = re.compile(r"^\d{4}-W\d{2}$")
MONTH_RE = re.compile(r"^\d{4}-\d{2}$")


def _ttl(request: Request) -> float:
    return request.app.state.settings.page_cache_seconds


def _page(p: int) -> int:
    return max(1, min(p, 10_000))


def _list_context(request: Request, ids: list[str], total: int, page: int) -> dict:
    store = request.app.state.store
    cs = listings.cards(store, ids)
    user = current_user(request)
    voted = users.upvoted_by(store, user.id, [c.id for c in cs]) if user else set()
    return {"cards": cs, "voted": voted, "total": total, "page": page,
            "pages": max(1, math.ceil(total / PAGE_SIZE)), "offset": (page - 1) * PAGE_SIZE}


# --- daily lists ---------------------------------------------------------------------------------

def _daily(request: Request, kind: str, key: str, start: str, end: str, page: int):
    store = request.app.state.store

    def build():
        ids, total = listings.list_ids(store, start, end, "upvotes", PAGE_SIZE, (page - 1) * PAGE_SIZE)
        ctx = _list_context(request, ids, total, page)
        d = date.fromisoformat(start)
        if kind == "day":
            prev, nxt = listings.neighbour_days(store, start)
            ctx.update(prev_url=prev and f"/papers/date/{prev}", next_url=nxt and f"/papers/date/{nxt}",
                       heading=d.strftime("%A, %-d %B %Y"), week=f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}",
                       month=start[:7], day=start)
        elif kind == "week":
            pw, nw = d - timedelta(days=7), d + timedelta(days=7)
            ctx.update(prev_url=f"/papers/week/{pw.isocalendar()[0]}-W{pw.isocalendar()[1]:02d}",
                       next_url=f"/papers/week/{nw.isocalendar()[0]}-W{nw.isocalendar()[1]:02d}",
                       heading=f"Week {key} ({start} – {end})", week=key, month=start[:7], day=start)
        else:
            pm = (d - timedelta(days=1)).strftime("%Y-%m")
            nm = (date.fromisoformat(end) + timedelta(days=1)).strftime("%Y-%m")
            ctx.update(prev_url=f"/papers/month/{pm}", next_url=f"/papers/month/{nm}",
                       heading=d.strftime("%B %Y"), week=None, month=key, day=start)
        ctx.update(kind=kind, title=f"Daily papers: {ctx['heading']}", base_url=request.url.path)
        return ctx

    return cached_render(request, "daily.html", build, _ttl(request))


@router.get("/")
def front(request: Request, p: int = Query(1, ge=1, le=10_000)):
    day = listings.latest_day(request.app.state.store)
    if day is None:
        return render(request, "empty.html", {"title": "No papers yet"})
    return _daily(request, "day", day, day, day, _page(p))


@router.get("/papers/date/{day}")
def by_day(request: Request, day: str, p: int = Query(1, ge=1, le=10_000)):
    try:
        if not DAY_RE.match(day):
            raise ValueError
        date.fromisoformat(day)
    except ValueError:
        raise HTTPException(404, f"{day!r} is not a date (YYYY-MM-DD).")
    return _daily(request, "day", day, day, day, _page(p))


@router.get("/papers/week/{week}")
def by_week(request: Request, week: str, p: int = Query(1, ge=1, le=10_000)):
    try:
        if not WEEK_RE.match(week):
            raise ValueError
        start, end = listings.week_range(week)
    except ValueError:
        raise HTTPException(404, f"{week!r} is not an ISO week (YYYY-Www).")
    return _daily(request, "week", week, start, end, _page(p))


@router.get("/papers/month/{month}")
def by_month(request: Request, month: str, p: int = Query(1, ge=1, le=10_000)):
    try:
        if not MONTH_RE.match(month):
            raise ValueError
        start, end = listings.month_range(month)
    except ValueError:
        raise HTTPException(404, f"{month!r} is not a month (YYYY-MM).")
    return _daily(request, "month", month, start, end, _page(p))


# --- trending ------------------------------------------------------------------------------------

def trending_list(request: Request, window: str, limit: int, offset: int):
    """[(Trend, Card)] for the window ending at the newest listing day (the data may be historical)."""
    try:
        from paperwire.ranking import trending as rank
    except ImportError:
        return None
    store = request.app.state.store
    # Scores move slowly (votes, stars, a decay over days) and take ~1 s to compute over 1M
    # papers, so they are reused for TRENDING_TTL seconds; any write on the site drops them.
    memo = request.app.state.__dict__.setdefault("trending_memo", {})
    key = (window, limit, offset, request.app.state.page_cache.generation)
    hit = memo.get(key)
    if hit and time.monotonic() - hit[0] < TRENDING_TTL:
        trends = hit[1]
    else:
        now = rank.latest_now(store)
        trends = rank.trending(store, window=window, now=now, limit=limit, offset=offset,
                               settings=request.app.state.settings)
        if len(memo) > 200:
            memo.clear()
        memo[key] = (time.monotonic(), trends)
    by_id = {c.id: c for c in listings.cards(store, [t.paper_id for t in trends])}
    return [(t, by_id[t.paper_id]) for t in trends if t.paper_id in by_id]


@router.get("/papers/trending")
def trending_page(request: Request, window: str = Query("week", pattern="^(day|week|month)$"),
                  p: int = Query(1, ge=1, le=1000)):
    def build():
        rows = trending_list(request, window, PAGE_SIZE, (p - 1) * PAGE_SIZE)
        user = current_user(request)
        voted = users.upvoted_by(request.app.state.store, user.id, [c.id for _, c in rows or []]) if user else set()
        return {"rows": rows, "window": window, "page": p, "voted": voted, "offset": (p - 1) * PAGE_SIZE,
                "title": f"Trending this {window}"}

    return cached_render(request, "trending.html", build, _ttl(request))


# --- search --------------------------------------------------------------------------------------

def search_engine(request_or_app):
    """The app's one SearchEngine (built on first use), or None while search is not installed."""
    app = getattr(request_or_app, "app", request_or_app)
    if app.state.search_engine is None:
        try:
            from paperwire.search.engine import SearchEngine
        except ImportError:
            return None
        app.state.search_engine = SearchEngine(app.state.store, app.state.settings)
    return app.state.search_engine


def run_search(request: Request, q: str, limit: int, offset: int, mode: str = "hybrid"):
    engine = search_engine(request)
    if engine is None:
        return None
    from paperwire.search.query import parse_query

    text, filters = parse_query(q)
    return engine.search(text, filters=filters, mode=mode, limit=limit, offset=offset)


@router.get("/papers", dependencies=[Depends(rate_limit("search", 120, 60))])
def search_page(request: Request, q: str = Query("", max_length=500), p: int = Query(1, ge=1, le=100),
                mode: str = Query("hybrid", pattern="^(hybrid|lexical|semantic)$")):
    q = q.strip()
    if not q:
        return render(request, "search.html", {"q": "", "title": "Search", "result": None, "unavailable": False})

    def build():
        try:
            result = run_search(request, q, PAGE_SIZE, (p - 1) * PAGE_SIZE, mode)
        except ValueError as exc:  # a malformed filter: show why, keep the query
            return {"q": q, "title": f"Search: {q}", "result": None, "error": str(exc), "unavailable": False}
        if result is None:
            return {"q": q, "title": f"Search: {q}", "result": None, "unavailable": True}
        cs = {c.id: c for c in listings.cards(request.app.state.store, [h.paper_id for h in result.hits])}
        rows = [(h, cs[h.paper_id]) for h in result.hits if h.paper_id in cs]
        user = current_user(request)
        voted = users.upvoted_by(request.app.state.store, user.id, list(cs)) if user else set()
        return {"q": q, "title": f"Search: {q}", "result": result, "rows": rows, "page": p, "mode": mode, "voted": voted,
                "pages": max(1, math.ceil(result.total / PAGE_SIZE)), "unavailable": False,
                "offset": (p - 1) * PAGE_SIZE}

    return cached_render(request, "search.html", build, _ttl(request))


# --- paper ---------------------------------------------------------------------------------------

def _canonical_or_404(raw: str) -> str:
    pid = canonical_id(raw) or raw
    if len(pid) > 64:
        raise HTTPException(404, "No such paper.")
    return pid


@router.get("/papers/{arxiv_id:path}.md")
def paper_markdown(request: Request, arxiv_id: str):
    """The paper page as Markdown (Hugging Face's `read_paper` reads this)."""
    from paperwire.web.api import paper_markdown_text

    pid = _canonical_or_404(arxiv_id)
    text = paper_markdown_text(request, pid)
    if text is None:
        raise HTTPException(404, f"No paper {pid}.")
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


def similar_cards(request: Request, pid: str, limit: int = 6):
    """Similar papers within a time budget (app.state.similar_timeout seconds; 0 turns them off).
    The first call of a worker loads the embedding model; the page does not wait for that."""
    budget = getattr(request.app.state, "similar_timeout", 1.0)
    if not budget:
        return None
    engine = search_engine(request)
    if engine is None:
        return None
    import concurrent.futures

    pool = request.app.state.__dict__.setdefault(
        "similar_pool", concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="similar"))
    fut = pool.submit(engine.similar, pid, limit)
    try:
        hits = fut.result(timeout=budget)
    except concurrent.futures.TimeoutError:
        return None
    except Exception:  # similar papers are an extra: the page must render without them
        log.exception("similar(%s) failed", pid)
        return None
    return listings.cards(request.app.state.store, [h.paper_id for h in hits if h.paper_id != pid], with_details=False)


class ViewCounter:
    """Paper page views for trending ('view' signals), counted in memory and written in one
    transaction every `every` seconds: a write per page view would queue every reader behind
    SQLite's single writer."""

    def __init__(self, every: float = 30.0):
        import threading

        self.every, self.counts, self.lock = every, {}, threading.Lock()
        self.last = time.monotonic()

    def add(self, store, pid: str) -> None:
        with self.lock:
            self.counts[pid] = self.counts.get(pid, 0) + 1
            if time.monotonic() - self.last < self.every:
                return
            counts, self.counts, self.last = self.counts, {}, time.monotonic()
        self.flush(store, counts)

    @staticmethod
    def flush(store, counts: dict) -> None:
        try:
            from paperwire.store import signals
            from paperwire.store.sqlite import utcnow
        except ImportError:
            return
        try:
            now = utcnow()
            signals.add_signals(store, [(pid, "view", "", float(n), now) for pid, n in counts.items()])
        except Exception:  # views are a hint for trending; losing a batch must not fail a page
            log.exception("could not record %d page views", len(counts))


@router.get("/papers/{arxiv_id:path}")
def paper_page(request: Request, arxiv_id: str):
    pid = _canonical_or_404(arxiv_id)
    if pid != arxiv_id:  # one URL per paper: /papers/2501.01234v2 -> /papers/2501.01234
        return RedirectResponse(f"/papers/{pid}", status_code=301)
    store = request.app.state.store
    views = request.app.state.__dict__.setdefault("view_counter", ViewCounter())

    def build():
        cs = listings.cards(store, [pid])
        user = current_user(request)
        if not cs:
            p = get_paper(store, pid)
            if p is not None and p.hidden and not (user and user.is_admin):
                raise HTTPException(404, f"{pid} was hidden by a moderator.")
            if p is None:
                raise HTTPException(404, f"No paper {pid} in this collection.")
            cs = [listings.Card(p)]
        card = cs[0]
        comments = users.list_comments(store, pid, include_hidden=bool(user and user.is_admin))
        return {"card": card, "p": card.paper, "title": card.paper.title_display, "comments": comments,
                "voted": users.upvoted_by(store, user.id, [pid]) if user else set(),
                "similar": similar_cards(request, pid)}

    resp = cached_render(request, "paper.html", build, _ttl(request))
    views.add(store, pid)  # after rendering: 404s raise above and are not counted
    return resp


# --- author, category, user ----------------------------------------------------------------------

@router.get("/authors/{name:path}")
def author_page(request: Request, name: str, p: int = Query(1, ge=1, le=10_000)):
    name = name.strip()[:200]

    def build():
        ids, total = listings.author_ids(request.app.state.store, name, PAGE_SIZE, (p - 1) * PAGE_SIZE)
        if total == 0 and p == 1:
            raise HTTPException(404, f"No papers by {name!r}.")
        ctx = _list_context(request, ids, total, p)
        ctx.update(title=f"Papers by {name}", heading=f"Papers by {name}", feed=f"/feeds/author/{name}.atom",
                   base_url=request.url.path)
        return ctx

    return cached_render(request, "list.html", build, _ttl(request))


@router.get("/categories/{category}")
def category_page(request: Request, category: str, p: int = Query(1, ge=1, le=10_000)):
    def build():
        store = request.app.state.store
        if len(category) > 40 or not listings.known_category(store, category):
            raise HTTPException(404, f"No papers in category {category!r}.")
        ids, total = listings.category_ids(store, category, PAGE_SIZE, (p - 1) * PAGE_SIZE)
        ctx = _list_context(request, ids, total, p)
        ctx.update(title=f"{category}: newest papers", heading=f"Newest in {category}",
                   feed=f"/feeds/category/{category}.atom", base_url=request.url.path)
        return ctx

    return cached_render(request, "list.html", build, _ttl(request))


@router.get("/users/{username}")
def user_page(request: Request, username: str):
    store = request.app.state.store
    u = users.get_user_by_name(store, username[:40])
    if u is None:
        raise HTTPException(404, f"No user {username!r}.")
    me = current_user(request)
    upv = listings.cards(store, users.user_upvote_ids(store, u.id), with_details=False)
    subs = listings.cards(store, users.user_submission_ids(store, u.id), with_details=False)
    voted = users.upvoted_by(store, me.id, [c.id for c in upv + subs]) if me else set()
    return render(request, "user.html", {"title": u.username, "profile": u, "upvoted": upv, "submitted": subs,
                                         "voted": voted, "is_me": me is not None and me.id == u.id})


# --- writes from pages: upvote, comment, submit --------------------------------------------------

@router.post("/papers/{arxiv_id:path}/upvote", dependencies=[Depends(rate_limit("upvote", 60, 60))])
def upvote(request: Request, arxiv_id: str, csrf: str = Form(""), next: str = Form("")):
    verify_csrf(request, csrf)
    user = require_user(request)
    try:
        on, _ = users.set_upvote(request.app.state.store, user.id, arxiv_id)
    except KeyError:
        raise HTTPException(404, f"No paper {arxiv_id}.")
    request.app.state.page_cache.bump()
    if "application/json" in request.headers.get("accept", ""):  # the page's script, see static/site.js
        cs = listings.cards(request.app.state.store, [arxiv_id], with_details=False)
        return JSONResponse({"id": arxiv_id, "upvoted": on, "upvotes": cs[0].upvotes if cs else 0})
    return flash_redirect(safe_next(next, f"/papers/{arxiv_id}") + f"#p-{arxiv_id.replace('/', '-')}")


@router.post("/papers/{arxiv_id:path}/comments", dependencies=[Depends(rate_limit("comment", 10, 60))])
def comment(request: Request, arxiv_id: str, csrf: str = Form(""), body: str = Form("", max_length=20000)):
    verify_csrf(request, csrf)
    user = require_user(request)
    try:
        cid = users.add_comment(request.app.state.store, user.id, arxiv_id, body)
    except KeyError:
        raise HTTPException(404, f"No paper {arxiv_id}.")
    except users.AccountError as exc:
        return flash_redirect(f"/papers/{arxiv_id}#comment-form", str(exc))
    request.app.state.page_cache.bump()
    return flash_redirect(f"/papers/{arxiv_id}#c{cid}", "Comment posted.")


@router.get("/submit")
def submit_form(request: Request):
    require_user(request)
    return render(request, "submit.html", {"title": "Submit a paper",
                                           "limit": request.app.state.settings.submit_daily_limit})


def submit_by_id(request: Request, user, raw_id: str) -> tuple[str, str]:
    """Shared by the page and the API: (paper id, day). Fetches unknown papers from arXiv."""
    store = request.app.state.store
    pid = canonical_id(raw_id or "")
    if pid is None:
        raise users.AccountError(f"{raw_id!r} is not an arXiv id (like 2501.01234 or hep-th/9901001).")
    if not users.paper_exists(store, pid, include_hidden=True):
        fetch_from_arxiv(request, pid)
    try:
        day = users.submit_paper(store, user.id, pid, daily_limit=request.app.state.settings.submit_daily_limit)
    except KeyError:
        raise users.AccountError(f"{pid} is not in this collection and could not be fetched from arXiv.")
    request.app.state.page_cache.bump()
    return pid, day


def fetch_from_arxiv(request: Request, pid: str) -> None:
    """Import one paper from the arXiv query API (settings.arxiv_api_url) through the ingest
    library; a failure only means the submit form says the paper could not be found."""
    try:
        from paperwire.ingest import run_import
        from paperwire.ingest.arxiv_api import fetch_arxiv
    except ImportError:
        return
    settings = request.app.state.settings
    try:
        parsed = fetch_arxiv(ids=[pid], base_url=settings.arxiv_api_url, delay=0,
                             timeout=min(settings.http_timeout, 15.0), max_retries=1)
        summary = run_import(request.app.state.store, parsed, source="arxiv_api", source_ref=settings.arxiv_api_url)
        log.info("fetched %s from arXiv: %s", pid, summary.line())
    except Exception as exc:  # network or parse errors: reported to the user as "could not be fetched"
        log.warning("fetching %s from arXiv failed: %s", pid, exc)


@router.post("/submit", dependencies=[Depends(rate_limit("submit", 20, 3600))])
def submit(request: Request, csrf: str = Form(""), arxiv_id: str = Form("", max_length=200)):
    verify_csrf(request, csrf)
    user = require_user(request)
    try:
        pid, day = submit_by_id(request, user, arxiv_id)
    except users.AccountError as exc:
        return render(request, "submit.html", {"title": "Submit a paper", "error": str(exc), "arxiv_id": arxiv_id,
                                               "limit": request.app.state.settings.submit_daily_limit},
                      status_code=400)
    return flash_redirect(f"/papers/{pid}", f"Submitted to the list of {day}.")


# --- subscribe (until the digest subscriptions are installed) ------------------------------------

pending_subscribe_router = APIRouter(include_in_schema=False)


@pending_subscribe_router.post("/subscribe", dependencies=[Depends(rate_limit("subscribe", 10, 3600))])
def subscribe_pending(request: Request, csrf: str = Form(""), email: str = Form("", max_length=300)):
    verify_csrf(request, csrf)
    try:
        users.add_pending_subscriber(request.app.state.store, email)
    except users.AccountError as exc:
        return flash_redirect("/", str(exc))
    return flash_redirect("/", "Thanks! Your address is saved; digests start once e-mail is set up.")
