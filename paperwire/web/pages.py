"""HTML pages: daily lists (day/week/month), trending, search, paper, author, category, user,
and the writes made from them (upvote, comment, submit).

Handlers parse the request, ask queries.py (or the store) for the data and render it; SQL lives
in paperwire/store/*.py. Anonymous page views come from a short-lived page cache (see
render.cached_render) because a fresh morning list is read far more often than it changes.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import threading
import time
from datetime import date, timedelta

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from paperwire.store import listings, signals, users
from paperwire.store.papers import get_paper
from paperwire.store.sqlite import utcnow
from paperwire.text import canonical_id
from paperwire.web.deps import (CurrentUser, EngineDep, OptionalUser, PageCacheDep, SettingsDep,
                                StoreDep, TrendingMemoDep)
from paperwire.web.queries import (PERIOD_FORMS, Period, card_keywords, latest_listing_period, latest_period,
                                   new_period_ids, paper_markdown_text, parse_period, period_ids, run_search,
                                   submit_by_id, trending_as_of, trending_list, with_cards)
from paperwire.web.render import cached_render, flash_redirect, render
from paperwire.web.security import rate_limit, require_csrf, require_user, safe_next

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 30


def _page(p: int) -> int:
    return max(1, min(p, 10_000))


def _voted(store, user, ids) -> set[str]:
    """The papers among `ids` the visitor has upvoted (their buttons show it)."""
    return users.upvoted_by(store, user.id, list(ids)) if user else set()


def _list_context(store, user, ids: list[str], total: int, page: int) -> dict:
    cs = listings.cards(store, ids)
    return {"cards": cs, "voted": _voted(store, user, [c.id for c in cs]), "total": total, "page": page,
            "pages": max(1, math.ceil(total / PAGE_SIZE)), "offset": (page - 1) * PAGE_SIZE}


# --- daily lists ---------------------------------------------------------------------------------

def _iso_week(d: date) -> str:
    year, week, _ = d.isocalendar()
    return f"{year}-W{week:02d}"


def _period_nav(store, period: Period, listing: str) -> dict:
    """Heading and previous / next links of a day's, week's or month's list; `listing` is
    'curated' (Daily papers) or 'new' (All new on arXiv), whose days differ."""
    d = date.fromisoformat(period.start)
    tail = "/new" if listing == "new" else ""
    if period.kind == "day":
        near = listings.listing_neighbours if listing == "new" else listings.curated_neighbours
        prev, nxt = near(store, period.start)
        return dict(prev_url=prev and f"/papers/date/{prev}{tail}", next_url=nxt and f"/papers/date/{nxt}{tail}",
                    heading=d.strftime("%A, %-d %B %Y"), week=_iso_week(d), month=period.start[:7], day=period.start)
    if period.kind == "week":
        return dict(prev_url=f"/papers/week/{_iso_week(d - timedelta(days=7))}{tail}",
                    next_url=f"/papers/week/{_iso_week(d + timedelta(days=7))}{tail}",
                    heading=f"Week {period.key} ({period.start} – {period.end})", week=period.key,
                    month=period.start[:7], day=period.start)
    prev_month = (d - timedelta(days=1)).strftime("%Y-%m")
    next_month = (date.fromisoformat(period.end) + timedelta(days=1)).strftime("%Y-%m")
    return dict(prev_url=f"/papers/month/{prev_month}{tail}", next_url=f"/papers/month/{next_month}{tail}",
                heading=d.strftime("%B %Y"), week=None, month=period.key, day=period.start)


def _daily(request: Request, store, settings, user, period: Period, page: int, listing: str = "curated",
           fallback: bool = False):
    """A period's curated list ("Daily papers") or its new arXiv papers ("All new", ranked by
    interest, each card saying why), with the other list's count on its tab."""
    def build():
        offset = (page - 1) * PAGE_SIZE
        if listing == "new":
            ids, total = new_period_ids(store, period, PAGE_SIZE, offset)
            curated_total = period_ids(store, period, "upvotes", 1, 0)[1]
            new_total = total
        else:
            ids, total = period_ids(store, period, "upvotes", PAGE_SIZE, offset)
            curated_total, new_total = total, new_period_ids(store, period, 0, 0)[1]
        ctx = _list_context(store, user, ids, total, page)
        ctx.update(_period_nav(store, period, listing))
        path = {"day": f"/papers/date/{period.key}", "week": f"/papers/week/{period.key}",
                "month": f"/papers/month/{period.key}"}[period.kind]
        reasons = {c.id: listings.interest_reasons(c) for c in ctx["cards"]} if listing == "new" else {}
        ctx.update(kind=period.kind, listing=listing, base_url=request.url.path, fallback=fallback, reasons=reasons,
                   curated_url=path, new_url=path + "/new", curated_total=curated_total, new_total=new_total,
                   # Hugging Face's keywords on list cards; the derived ones only on a paper's page
                   # (reading 30 abstracts would cost a list page far more than its queries)
                   keywords={c.id: (c.ai_keywords[:6], "hf") for c in ctx["cards"] if c.ai_keywords},
                   title=f"{'All new on arXiv' if listing == 'new' else 'Daily papers'}: {ctx['heading']}")
        return ctx

    return cached_render(request, "daily.html", build, settings.page_cache_seconds)


def _period_page(request: Request, store, settings, user, kind: str, key: str, p: int, listing: str = "curated"):
    try:
        period = parse_period(kind, key)
    except ValueError:
        raise HTTPException(404, f"{key!r} is not {PERIOD_FORMS[kind]}.")
    return _daily(request, store, settings, user, period, _page(p), listing)


@router.get("/")
def front(request: Request, store: StoreDep, settings: SettingsDep, user: OptionalUser,
          p: int = Query(1, ge=1, le=10_000)):
    """The newest day's curated list; with no curation yet (a fresh install), the newest listing
    day ranked by interest, saying so."""
    if listings.latest_curated_day(store):
        return _daily(request, store, settings, user, latest_period(store), _page(p))
    period = latest_listing_period(store)
    if period is None:
        return render(request, "empty.html", {"title": "No papers yet"})
    return _daily(request, store, settings, user, period, _page(p), "new", fallback=True)


def _period_route(kind: str, listing: str):
    """The page of one period kind's list (curated or all new) for the period in the path."""
    def view(request: Request, key: str, store: StoreDep, settings: SettingsDep, user: OptionalUser,
             p: int = Query(1, ge=1, le=10_000)):
        return _period_page(request, store, settings, user, kind, key, p, listing)
    return view


# /papers/date|week|month/{key} and .../new: one handler each, registered here so they keep
# their place among the routes (and their former names: by_day, new_by_day, ...)
for _kind, _segment in (("day", "date"), ("week", "week"), ("month", "month")):
    router.add_api_route(f"/papers/{_segment}/{{key}}", _period_route(_kind, "curated"), name=f"by_{_kind}")
    router.add_api_route(f"/papers/{_segment}/{{key}}/new", _period_route(_kind, "new"), name=f"new_by_{_kind}")


@router.get("/new")
def new_front(request: Request, store: StoreDep, settings: SettingsDep, user: OptionalUser,
              p: int = Query(1, ge=1, le=10_000)):
    """All new papers of the newest listing day."""
    period = latest_listing_period(store)
    if period is None:
        return render(request, "empty.html", {"title": "No papers yet"})
    return _daily(request, store, settings, user, period, _page(p), "new")


# --- trending and search -------------------------------------------------------------------------

@router.get("/papers/trending")
def trending_page(request: Request, store: StoreDep, settings: SettingsDep, memo: TrendingMemoDep,
                  user: OptionalUser, window: str = Query("week", pattern="^(day|week|month)$"),
                  p: int = Query(1, ge=1, le=1000)):
    def build():
        rows = trending_list(store, settings, memo, window, PAGE_SIZE, (p - 1) * PAGE_SIZE)
        return {"rows": rows, "window": window, "page": p, "voted": _voted(store, user, [c.id for _, c in rows]),
                "offset": (p - 1) * PAGE_SIZE, "title": f"Trending this {window}",
                "as_of": trending_as_of(store, window)}

    return cached_render(request, "trending.html", build, settings.page_cache_seconds)


@router.get("/papers", dependencies=[Depends(rate_limit("search", 120, 60))])
def search_page(request: Request, store: StoreDep, settings: SettingsDep, engine: EngineDep, user: OptionalUser,
                q: str = Query("", max_length=500), p: int = Query(1, ge=1, le=100),
                mode: str = Query("hybrid", pattern="^(hybrid|lexical|semantic)$")):
    q = q.strip()
    if not q:
        return render(request, "search.html", {"q": "", "title": "Search", "result": None})

    def build():
        try:
            result = run_search(engine, q, PAGE_SIZE, (p - 1) * PAGE_SIZE, mode)
        except ValueError as exc:  # a malformed filter: show why, keep the query
            return {"q": q, "title": f"Search: {q}", "result": None, "error": str(exc)}
        rows = with_cards(store, result.hits)
        return {"q": q, "title": f"Search: {q}", "result": result, "rows": rows, "page": p, "mode": mode,
                "voted": _voted(store, user, [c.id for _, c in rows]),
                "pages": max(1, math.ceil(result.total / PAGE_SIZE)), "offset": (p - 1) * PAGE_SIZE}

    return cached_render(request, "search.html", build, settings.page_cache_seconds)


# --- paper ---------------------------------------------------------------------------------------

def _canonical_or_404(raw: str) -> str:
    pid = canonical_id(raw) or raw
    if len(pid) > 64:
        raise HTTPException(404, "No such paper.")
    return pid


@router.get("/papers/{arxiv_id:path}.md")
def paper_markdown(arxiv_id: str, store: StoreDep):
    """The paper page as Markdown (Hugging Face's `read_paper` reads this)."""
    pid = _canonical_or_404(arxiv_id)
    text = paper_markdown_text(store, pid)
    if text is None:
        raise HTTPException(404, f"No paper {pid}.")
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


def similar_cards(request: Request, store, engine, pid: str, limit: int = 6):
    """Similar papers within a time budget (app.state.similar_timeout seconds; 0 turns them off).
    The first call of a worker loads the embedding model; the page does not wait for that."""
    budget = request.app.state.similar_timeout
    if not budget:
        return None
    fut = request.app.state.similar_pool.submit(engine.similar, pid, limit)
    try:
        hits = fut.result(timeout=budget)
    except concurrent.futures.TimeoutError:
        return None
    except Exception:  # similar papers are an extra: the page must render without them
        log.exception("similar(%s) failed", pid)
        return None
    return listings.cards(store, [h.paper_id for h in hits if h.paper_id != pid], with_details=False)


class ViewCounter:
    """Paper page views for trending ('view' signals), counted in memory and written in one
    transaction every `every` seconds: a write per page view would queue every reader behind
    the store's one writer. The app's background task writes them (web.app), never a page
    request: a request that wrote them would wait for the write lock, behind every other
    process's writes."""

    def __init__(self, every: float = 30.0):
        self.every, self.counts, self.lock = every, {}, threading.Lock()
        self.last = time.monotonic()

    def add(self, store, pid: str) -> None:
        with self.lock:
            self.counts[pid] = self.counts.get(pid, 0) + 1

    def flush_now(self, store) -> None:
        """Write the views counted so far (the app's shutdown calls this: a graceful stop loses none)."""
        with self.lock:
            counts, self.counts, self.last = self.counts, {}, time.monotonic()
        if counts:
            self.flush(store, counts)

    @staticmethod
    def flush(store, counts: dict) -> None:
        try:
            now = utcnow()
            signals.add_signals(store, [(pid, "view", "", float(n), now) for pid, n in counts.items()])
        except Exception:  # views are a hint for trending; losing a batch must not fail a page
            log.exception("could not record %d page views", len(counts))


@router.get("/papers/{arxiv_id:path}")
def paper_page(request: Request, arxiv_id: str, store: StoreDep, settings: SettingsDep, engine: EngineDep,
               user: OptionalUser):
    pid = _canonical_or_404(arxiv_id)
    if pid != arxiv_id:  # one URL per paper: /papers/2501.01234v2 -> /papers/2501.01234
        return RedirectResponse(f"/papers/{pid}", status_code=301)

    def build():
        cs = listings.cards(store, [pid])
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
                "keywords": card_keywords(card, limit=12), "voted": _voted(store, user, [pid]), "similar": similar_cards(request, store, engine, pid)}

    resp = cached_render(request, "paper.html", build, settings.page_cache_seconds)
    request.app.state.view_counter.add(store, pid)  # after rendering: 404s raise above and are not counted
    return resp


# --- author, category, user ----------------------------------------------------------------------

@router.get("/authors/{name:path}")
def author_page(request: Request, name: str, store: StoreDep, settings: SettingsDep, user: OptionalUser,
                p: int = Query(1, ge=1, le=10_000)):
    name = name.strip()[:200]

    def build():
        ids, total = listings.author_ids(store, name, PAGE_SIZE, (p - 1) * PAGE_SIZE)
        if total == 0 and p == 1:
            raise HTTPException(404, f"No papers by {name!r}.")
        ctx = _list_context(store, user, ids, total, p)
        ctx.update(title=f"Papers by {name}", heading=f"Papers by {name}", feed=f"/feeds/author/{name}.atom",
                   base_url=request.url.path)
        return ctx

    return cached_render(request, "list.html", build, settings.page_cache_seconds)


@router.get("/categories/{category}")
def category_page(request: Request, category: str, store: StoreDep, settings: SettingsDep, user: OptionalUser,
                  p: int = Query(1, ge=1, le=10_000)):
    def build():
        if len(category) > 40 or not listings.known_category(store, category):
            raise HTTPException(404, f"No papers in category {category!r}.")
        ids, total = listings.category_ids(store, category, PAGE_SIZE, (p - 1) * PAGE_SIZE)
        ctx = _list_context(store, user, ids, total, p)
        ctx.update(title=f"{category}: newest papers", heading=f"Newest in {category}",
                   feed=f"/feeds/category/{category}.atom", base_url=request.url.path)
        return ctx

    return cached_render(request, "list.html", build, settings.page_cache_seconds)


@router.get("/users/{username}")
def user_page(request: Request, username: str, store: StoreDep, me: OptionalUser):
    u = users.get_user_by_name(store, username[:40])
    if u is None:
        raise HTTPException(404, f"No user {username!r}.")
    upv = listings.cards(store, users.user_upvote_ids(store, u.id), with_details=False)
    subs = listings.cards(store, users.user_submission_ids(store, u.id), with_details=False)
    return render(request, "user.html", {"title": u.username, "profile": u, "upvoted": upv, "submitted": subs,
                                         "voted": _voted(store, me, [c.id for c in upv + subs]),
                                         "is_me": me is not None and me.id == u.id})


# --- writes from pages: upvote, comment, submit --------------------------------------------------
# The CSRF check comes before the sign-in check: a forged post is refused whoever is signed in.

@router.post("/papers/{arxiv_id:path}/upvote",
             dependencies=[Depends(rate_limit("upvote", 60, 60)), Depends(require_csrf)])
def upvote(request: Request, arxiv_id: str, store: StoreDep, page_cache: PageCacheDep, user: CurrentUser,
           next: str = Form("")):
    try:
        on, _ = users.set_upvote(store, user.id, arxiv_id)
    except KeyError:
        raise HTTPException(404, f"No paper {arxiv_id}.")
    page_cache.bump()
    if "application/json" in request.headers.get("accept", ""):  # the page's script, see static/site.js
        cs = listings.cards(store, [arxiv_id], with_details=False)
        return JSONResponse({"id": arxiv_id, "upvoted": on, "upvotes": cs[0].upvotes if cs else 0})
    return flash_redirect(safe_next(next, f"/papers/{arxiv_id}") + f"#p-{arxiv_id.replace('/', '-')}")


@router.post("/papers/{arxiv_id:path}/comments",
             dependencies=[Depends(rate_limit("comment", 10, 60)), Depends(require_csrf)])
def comment(arxiv_id: str, store: StoreDep, page_cache: PageCacheDep, user: CurrentUser,
            body: str = Form("", max_length=20000)):
    try:
        cid = users.add_comment(store, user.id, arxiv_id, body)
    except KeyError:
        raise HTTPException(404, f"No paper {arxiv_id}.")
    except users.AccountError as exc:
        return flash_redirect(f"/papers/{arxiv_id}#comment-form", str(exc), notice=True)
    page_cache.bump()
    return flash_redirect(f"/papers/{arxiv_id}#c{cid}", "Comment posted.")


@router.get("/submit", dependencies=[Depends(require_user)])
def submit_form(request: Request, settings: SettingsDep):
    return render(request, "submit.html", {"title": "Submit a paper", "limit": settings.submit_daily_limit})


@router.post("/submit", dependencies=[Depends(rate_limit("submit", 20, 3600)), Depends(require_csrf)])
def submit(request: Request, store: StoreDep, settings: SettingsDep, page_cache: PageCacheDep, user: CurrentUser,
           arxiv_id: str = Form("", max_length=200)):
    try:
        pid, day = submit_by_id(store, settings, user, arxiv_id)
    except users.AccountError as exc:
        return render(request, "submit.html", {"title": "Submit a paper", "error": str(exc), "arxiv_id": arxiv_id,
                                               "limit": settings.submit_daily_limit}, status_code=400)
    page_cache.bump()
    return flash_redirect(f"/papers/{pid}", f"Submitted to the list of {day}.")
