"""JSON API: the Hugging Face Hub papers routes (same paths, parameters and field names, so
``huggingface_hub.HfApi(endpoint=<paperwire>)`` works) plus paperwire's own ``/api/v1``.

HF routes (read from huggingface_hub's hf_api.py: list_daily_papers, list_papers,
paper_info, read_paper, PaperInfo):
  GET /api/daily_papers?date=&week=&month=&submitter=&sort=&p=&limit=
  GET /api/papers/search?q=&limit=
  GET /api/papers/{id}
  GET /papers/{id}.md            (in pages.py, next to the HTML paper page)
  GET /api/arxiv/{id}/repos
"upvotes" is the site's own upvotes plus those imported from Hugging Face.
Errors are JSON: {"error": "..."} with the HTTP status.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.convertors import Convertor, register_url_convertor

from paperwire.models import CODE_KINDS
from paperwire.store import listings, users
from paperwire.text import canonical_id
from paperwire.validate import (ARXIV_ID, ARXIV_ID_PATTERN, ARXIV_ID_TEXT_PATTERN, DAY_PATTERN, ISO_WEEK_PATTERN,
                                MONTH_PATTERN, NONBLANK_TEXT_PATTERN)
from paperwire.web.deps import EngineDep, PageCacheDep, SettingsDep, StoreDep, TokenUser, TrendingMemoDep
from paperwire.web.queries import (latest_period, parse_period, period_ids, run_search, search_cards,
                                   submission_day, submit_by_id, trending_as_of, trending_list)
from paperwire.web.security import rate_limit



class ArxivIdConvertor(Convertor):
    """`{paper_id:arxiv_id}`: a route matches only a path whose id segment is an arXiv id, so
    /api/papers/submit is the submit route's alone (a POST), and a method the path does not
    take gets 405 with that path's methods, not another route's 404."""
    regex = ARXIV_ID

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("arxiv_id", ArxivIdConvertor())

router = APIRouter(prefix="/api")
# the path parameter as the document states it (the converter above enforces the same pattern)
PaperIdPath = Path(pattern=ARXIV_ID_PATTERN, description="arXiv id, e.g. 2501.01234, 2501.01234v2 or hep-th/9901001")


def _iso(ts: str | None) -> str | None:
    """Our stored UTC times ('2024-01-02T03:04:05Z' or a day) in the Hub's millisecond form."""
    if not ts:
        return None
    if len(ts) == 10:
        return ts + "T00:00:00.000Z"
    return ts[:19] + ".000Z"


def _user_json(name: str | None) -> dict | None:
    if not name:
        return None
    return {"user": name, "fullname": name, "avatarUrl": "", "type": "user"}


def paper_json(card: listings.Card) -> dict:
    """The `paper` object of the Hub (also the answer of /api/papers/{id}). A paper Hugging Face
    reported is answered with its item as received (every field, e.g. discussionId, mediaUrls,
    ai_summary_model), with the counts made current: upvotes are Hugging Face's plus the site's,
    and 0 is written as 0."""
    p = card.paper
    hf = dict((card.hf_item or {}).get("paper") or {})
    out = {
        "id": p.id,
        "authors": hf.get("authors") or [{"name": a, "hidden": False} for a in p.authors],
        "publishedAt": hf.get("publishedAt") or _iso(p.published or p.listed),  # listing records know only their day
        "submittedOnDailyAt": hf.get("submittedOnDailyAt") or _iso(card.curated_on),
        "title": hf.get("title") or p.title_display,
        "submittedOnDailyBy": hf.get("submittedOnDailyBy") or _user_json(card.submitter if card.curated_on else None),
        "summary": hf.get("summary") or p.abstract_display,
        "upvotes": card.upvotes,
        "numComments": card.comments + card.hf_comments,
        "githubRepo": card.code_url,
        "githubStars": card.github_stars,
        "projectPage": card.project_page,
        "ai_summary": card.ai_summary,
        "ai_keywords": card.ai_keywords or None,
        "organization": card.organization,
    }
    for key, value in hf.items():  # the fields paperwire has no column for, as Hugging Face sent them
        out.setdefault(key, value)
    out["categories"], out["url"] = p.categories, f"https://arxiv.org/abs/{p.id}"
    # AI fields and the organisation only where known (as the Hub leaves them out); the rest as null
    return {k: v for k, v in out.items() if v is not None or k not in _WHEN_KNOWN}


_WHEN_KNOWN = {"ai_summary", "ai_keywords", "organization"}


def daily_json(card: listings.Card) -> dict:
    """One item of /api/daily_papers and /api/papers/search, shaped like the Hub's: the item as
    Hugging Face sent it where it did, with current counts."""
    paper = paper_json(card)
    item = dict(card.hf_item or {})
    item.update({
        "paper": paper,
        "publishedAt": item.get("publishedAt") or paper.get("submittedOnDailyAt") or paper["publishedAt"],
        "title": paper["title"],
        "summary": paper["summary"],
        "numComments": paper["numComments"],
        "submittedBy": item.get("submittedBy") or paper.get("submittedOnDailyBy"),
        "isAuthorParticipating": item.get("isAuthorParticipating", False),
    })
    # The Hub keeps these inside `paper` only, where huggingface_hub's PaperInfo does not look
    # for a daily item (it reads them from the item's top level); repeated here so that the
    # unmodified client reads every field back. Nothing of the Hub's shape is changed.
    for key in ("ai_summary", "ai_keywords", "githubRepo", "githubStars", "projectPage", "organization",
                "discussionId", "upvotes"):
        if paper.get(key) is not None:
            item.setdefault(key, paper[key])
    return item


def _pid(raw: str) -> str:
    pid = canonical_id(raw)
    if pid is None:
        raise HTTPException(404, f"{raw[:80]!r} is not an arXiv id.")
    return pid


# --- Hugging Face compatible ---------------------------------------------------------------------

DAILY_LIMIT_MAX = 100


@router.get("/daily_papers", tags=["huggingface"])
def daily_papers(request: Request, response: Response, store: StoreDep,
                 date_: str | None = Query(None, alias="date", pattern=DAY_PATTERN, description="YYYY-MM-DD"),
                 week: str | None = Query(None, pattern=ISO_WEEK_PATTERN,
                                          description="ISO week, e.g. 2025-W09 (Monday to Sunday)"),
                 month: str | None = Query(None, pattern=MONTH_PATTERN, description="YYYY-MM"),
                 submitter: str | None = Query(None, max_length=100, description="User name of the submitter"),
                 sort: str = Query("publishedAt", pattern="^(publishedAt|trending)$",
                                   description="publishedAt: newest first; trending: most upvotes first"),
                 p: int = Query(0, ge=0, le=10_000, description="Page, from 0"),
                 limit: int = Query(50, ge=1, le=10_000, description="Papers per page (at most 100 are sent)")) -> list[dict]:
    """The curated lists (featured on Hugging Face or submitted here) of a day, week or month
    (default: the newest day with a list). A `Link: <...>; rel="next"` header points to the next
    page when there is one. A malformed key is a 422; a well-formed one that names no day, week or
    month a list can have (2025-02-30, 2025-W53, 9999-W52) is a 404."""
    asked = [(kind, key) for kind, key in (("day", date_), ("week", week), ("month", month)) if key]
    try:
        period = parse_period(*asked[0]) if asked else latest_period(store)
    except ValueError as exc:  # the pattern held, so the key is well formed: there is no such period
        raise HTTPException(404, f"No list for {asked[0][1]}: {exc}")
    if period is None:  # nothing listed yet
        return []
    limit = min(limit, DAILY_LIMIT_MAX)
    order = "upvotes" if sort == "trending" else "published"
    ids, total = period_ids(store, period, order, limit, p * limit, submitter=submitter)
    if (p + 1) * limit < total:
        nxt = request.url.include_query_params(p=p + 1, limit=limit)
        response.headers["Link"] = f'<{nxt}>; rel="next"'
    return [daily_json(c) for c in listings.cards(store, ids)]


@router.get("/papers/search", tags=["huggingface"], dependencies=[Depends(rate_limit("search", 120, 60))])
def papers_search(store: StoreDep, engine: EngineDep, q: str = Query("", max_length=500),
                  limit: int = Query(20, ge=1, le=120)) -> list[dict]:
    if not q.strip():
        return []
    try:
        cards = search_cards(store, engine, q.strip(), limit)
    except ValueError as exc:
        raise HTTPException(400, str(exc))
    return [daily_json(c) for c in cards]


def _card_or_404(store, paper_id: str):
    pid = _pid(paper_id)
    cs = listings.cards(store, [pid])
    if not cs:
        raise HTTPException(404, f"No paper {pid}.")
    return cs[0]


@router.get("/papers/{paper_id:arxiv_id}", tags=["huggingface"])
def paper_info(store: StoreDep, paper_id: str = PaperIdPath) -> dict:
    return paper_json(_card_or_404(store, paper_id))


@router.get("/arxiv/{paper_id:arxiv_id}/repos", tags=["huggingface"])
def arxiv_repos(store: StoreDep, paper_id: str = PaperIdPath) -> dict:
    """Repositories linked to a paper: Hub models, datasets and spaces, plus code repositories."""
    card = _card_or_404(store, paper_id)
    out: dict[str, list] = {"models": [], "datasets": [], "spaces": [], "code": []}
    kinds = {"hf_model": "models", "hf_dataset": "datasets", "hf_space": "spaces"}
    for link in card.paper.links:
        if link.kind in kinds:
            hub_id = re.sub(r"^https?://huggingface\.co/(datasets/|spaces/)?", "", link.url)
            out[kinds[link.kind]].append({"id": hub_id, "url": link.url})
        elif link.kind in CODE_KINDS:
            out["code"].append({"url": link.url, "kind": link.kind, "origin": link.origin})
    return out


class HubSubmitIn(BaseModel):
    paperId: str = Field(max_length=200, pattern=ARXIV_ID_TEXT_PATTERN,
                         description="arXiv id, e.g. 2501.01234 (Hugging Face's field name)")


# Both submit routes (Hugging Face's and ours) draw on the one "submit" allowance per user.
_SUBMIT_LIMIT = Depends(rate_limit("submit", 20, 3600))


def _submit(store, settings, page_cache, user, raw_id: str) -> tuple[str, str]:
    """Submit `raw_id` for `user`: (paper id, list day). A submission changes the day's list, so
    cached pages are dropped. A refusal says why, with the status of its kind (_refusal)."""
    try:
        submitted = submit_by_id(store, settings, user, raw_id)
    except users.AccountError as exc:
        status, headers = _refusal(store, settings, raw_id)
        raise HTTPException(status, str(exc), headers=headers)
    page_cache.bump()
    return submitted


def _refusal(store, settings, raw_id: str) -> tuple[int, dict | None]:
    """The status of a refused submission, read from the state that refused it: 404, the paper is
    not in the collection (nor on arXiv); 409, it is already on a list (submitted here or
    featured on Hugging Face) or older than the lists still open; else the submitter's daily
    allowance is spent: 429, until midnight UTC. (The body pattern has already refused what is
    not an arXiv id.)"""
    pid = canonical_id(raw_id)
    cards = listings.cards(store, [pid]) if pid else []
    if not cards:
        return 404, None
    paper = cards[0].paper
    day = submission_day(store, max_age_days=settings.submit_max_age_days)
    oldest = (date.fromisoformat(day) - timedelta(days=settings.submit_max_age_days)).isoformat()
    own_day = paper.listed or (paper.published or "")[:10]  # the day submit_paper compares
    if cards[0].curated_on or (own_day and own_day < oldest):
        return 409, None
    now = datetime.now(timezone.utc)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), timezone.utc)
    return 429, {"Retry-After": str(max(1, int((midnight - now).total_seconds())))}


@router.post("/papers/submit", tags=["huggingface"], status_code=201, dependencies=[_SUBMIT_LIMIT])
def hub_submit(store: StoreDep, settings: SettingsDep, page_cache: PageCacheDep, user: TokenUser,
               body: HubSubmitIn = Body(...)) -> dict:
    """Submit a paper to the current daily list, as on Hugging Face (token auth): answers the
    list item it became. Refused with the reason: not an arXiv id (422), not found here or on
    arXiv (404), already submitted or featured or older than `submit_max_age_days` (409), the
    daily limit reached (429)."""
    pid, _ = _submit(store, settings, page_cache, user, body.paperId)
    return daily_json(listings.cards(store, [pid])[0])


class HubCommentIn(BaseModel):
    # stored stripped, at most users.MAX_COMMENT characters: so blank text and longer text are refused here
    comment: str = Field(min_length=1, max_length=users.MAX_COMMENT, pattern=NONBLANK_TEXT_PATTERN,
                         description="Markdown text (not blank)")


@router.post("/papers/{paper_id:arxiv_id}/comment", tags=["huggingface"], status_code=201,
             dependencies=[Depends(rate_limit("comment", 10, 60))])
def hub_comment(store: StoreDep, page_cache: PageCacheDep, user: TokenUser, paper_id: str = PaperIdPath,
                body: HubCommentIn = Body(...)) -> dict:
    """Comment on a paper's discussion, as on Hugging Face (token auth)."""
    pid = _pid(paper_id)
    try:
        cid = users.add_comment(store, user.id, pid, body.comment)
    except KeyError:
        raise HTTPException(404, f"No paper {pid}.")
    except users.AccountError as exc:
        raise HTTPException(400, str(exc))
    page_cache.bump()
    c = next(c for c in users.list_comments(store, pid) if c.id == cid)
    return {"id": str(cid), "paperId": pid, "comment": c.body, "createdAt": _iso(c.created_at),
            "author": _user_json(user.username), "numComments": paper_json(listings.cards(store, [pid])[0])["numComments"]}


# --- paperwire's own /api/v1 ---------------------------------------------------------------------

@router.get("/v1/trending", tags=["paperwire"])
def v1_trending(store: StoreDep, settings: SettingsDep, memo: TrendingMemoDep, window: str = Query("week", pattern="^(day|week|month)$"),
                limit: int = Query(20, ge=1, le=100), offset: int = Query(0, ge=0, le=10_000)) -> dict:
    """Trending papers with the score broken into its parts (they sum to the score), each part
    in words (`reasons`). `as_of` is the day the window ends on when the store's data is older
    than the window (else null: the window ends now)."""
    rows = trending_list(store, settings, memo, window, limit, offset)
    as_of = trending_as_of(store, window)
    return {"window": window, "as_of": as_of.isoformat() if as_of else None, "papers": [
        {"id": t.paper_id, "title": c.paper.title_display, "score": t.score, "parts": t.parts,
         "reasons": [{"part": r.part, "text": r.text, "points": r.points} for r in t.reasons],
         "freshness": t.freshness, "inputs": t.inputs, "upvotes": c.upvotes, "githubRepo": c.code_url}
        for t, c in rows]}


@router.get("/v1/search", tags=["paperwire"], dependencies=[Depends(rate_limit("search", 120, 60))])
def v1_search(engine: EngineDep, q: str = Query(..., min_length=1, max_length=500),
              mode: str = Query("hybrid", pattern="^(hybrid|lexical|semantic)$"),
              limit: int = Query(20, ge=1, le=100), offset: int = Query(0, ge=0, le=1000)) -> dict:
    """Search with filters (see the search docs); `snippet` is HTML with <mark> around matches."""
    try:
        result = run_search(engine, q, limit, offset, mode)
    except ValueError as exc:
        raise HTTPException(400, str(exc))
    return {"query": q, "total": result.total, "mode": result.mode, "fallback": result.fallback,
            "hits": [{"id": h.paper_id, "title": h.title, "score": h.score, "snippet": h.snippet, "parts": h.parts}
                     for h in result.hits]}


@router.get("/v1/papers/{paper_id:arxiv_id}/similar", tags=["paperwire"])
def v1_similar(store: StoreDep, engine: EngineDep, paper_id: str = PaperIdPath,
               limit: int = Query(10, ge=1, le=50)) -> list[dict]:
    pid = _pid(paper_id)
    if not users.paper_exists(store, pid):
        raise HTTPException(404, f"No paper {pid}.")
    hits = [h for h in engine.similar(pid, limit=limit) if h.paper_id != pid]
    return [{"id": h.paper_id, "title": h.title, "score": h.score} for h in hits]


class UpvoteOut(BaseModel):
    id: str
    upvoted: bool
    upvotes: int = Field(description="The site's upvotes of the paper (without Hugging Face's)")


def _vote(store, page_cache, paper_id: str, user, on: bool) -> UpvoteOut:
    pid = _pid(paper_id)
    try:
        now_on, count = users.set_upvote(store, user.id, pid, on=on)
    except KeyError:
        raise HTTPException(404, f"No paper {pid}.")
    page_cache.bump()
    return UpvoteOut(id=pid, upvoted=now_on, upvotes=count)


@router.post("/v1/papers/{paper_id:arxiv_id}/upvote", tags=["paperwire"], response_model=UpvoteOut,
             dependencies=[Depends(rate_limit("upvote", 60, 60))])
def v1_upvote(store: StoreDep, page_cache: PageCacheDep, user: TokenUser, paper_id: str = PaperIdPath):
    """Upvote a paper (idempotent: a second call changes nothing)."""
    return _vote(store, page_cache, paper_id, user, True)


@router.delete("/v1/papers/{paper_id:arxiv_id}/upvote", tags=["paperwire"], response_model=UpvoteOut,
               dependencies=[Depends(rate_limit("upvote", 60, 60))])
def v1_unvote(store: StoreDep, page_cache: PageCacheDep, user: TokenUser, paper_id: str = PaperIdPath):
    """Withdraw an upvote (idempotent)."""
    return _vote(store, page_cache, paper_id, user, False)


class SubmitIn(BaseModel):
    id: str = Field(max_length=200, pattern=ARXIV_ID_TEXT_PATTERN, description="arXiv id, e.g. 2501.01234 or hep-th/9901001")


@router.post("/v1/submissions", tags=["paperwire"], status_code=201, dependencies=[_SUBMIT_LIMIT])
def v1_submit(store: StoreDep, settings: SettingsDep, page_cache: PageCacheDep, user: TokenUser,
              body: SubmitIn = Body(...)) -> dict:
    """Submit a paper to today's list (limited per user per day). Refused as the Hugging Face
    route refuses: 422, 404, 409 or 429 with the reason."""
    pid, day = _submit(store, settings, page_cache, user, body.id)
    return {"id": pid, "day": day, "submittedBy": user.username}


@router.get("/v1/me", tags=["paperwire"])
def v1_me(user: TokenUser) -> dict:
    return {"user": user.username, "isAdmin": user.is_admin}
