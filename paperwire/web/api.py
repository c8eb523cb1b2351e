"""JSON API: the Hugging Face Hub papers routes (same paths, parameters and field names, so
``huggingface_hub.HfApi(endpoint=<paperwire>)`` works) plus paperwire's own ``/api/v1``.

HF routes (read from huggingface_hub's hf_api.py: list_daily_papers, list_papers,
paper_info, read_paper, PaperInfo):
  GET /api/daily_papers?date=&week=&month=&submitter=&sort=&p=&limit=
  GET /api/papers/search?q=&limit=
  GET /api/papers/{id}
  GET /papers/{id}.md            (in web.py, next to the HTML paper page)
  GET /api/arxiv/{id}/repos
"upvotes" is the site's own upvotes plus those imported from Hugging Face.
Errors are JSON: {"error": "..."} with the HTTP status.
"""

from __future__ import annotations

import re
from datetime import date

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from paperwire.store import listings, users
from paperwire.text import canonical_id
from paperwire.web.security import rate_limit

router = APIRouter(prefix="/api")
bearer = HTTPBearer(auto_error=False, description="An API token from `paperwire token create` or /settings/tokens.")

DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WEEK_RE = re.compile(r"^\d{4}-W\d{2}$")
MONTH_RE = re.compile(r"^\d{4}-\d{2}$")


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
    p = card.paper
    return {
        "id": p.id,
        "authors": [{"name": a, "hidden": False} for a in p.authors],
        "publishedAt": _iso(p.published or p.listed),  # listing records only know their listing day
        "title": p.title_display,
        "summary": p.abstract_display,
        "upvotes": card.upvotes,
        "numComments": card.comments,
        "submittedOnDailyAt": _iso(card.submitted_on),
        "submittedOnDailyBy": _user_json(card.submitter),
        "githubRepo": card.code_url,
        "githubStars": card.github_stars,
        "projectPage": card.project_page,
        "categories": p.categories,
        "url": f"https://arxiv.org/abs/{p.id}",
    }


def daily_json(card: listings.Card) -> dict:
    """One item of /api/daily_papers and /api/papers/search, shaped like the Hub's."""
    paper = paper_json(card)
    return {
        "paper": paper,
        "publishedAt": paper["submittedOnDailyAt"] or paper["publishedAt"],
        "title": paper["title"],
        "summary": paper["summary"],
        "numComments": card.comments,
        "submittedBy": paper["submittedOnDailyBy"],
        "isAuthorParticipating": False,
    }


def _pid(raw: str) -> str:
    pid = canonical_id(raw)
    if pid is None:
        raise HTTPException(404, f"{raw[:80]!r} is not an arXiv id.")
    return pid


# --- Hugging Face compatible ---------------------------------------------------------------------

@router.get("/daily_papers", tags=["huggingface"])
def daily_papers(request: Request,
                 date_: str | None = Query(None, alias="date", description="YYYY-MM-DD"),
                 week: str | None = Query(None, description="ISO week, e.g. 2025-W09"),
                 month: str | None = Query(None, description="YYYY-MM"),
                 submitter: str | None = Query(None, max_length=100, description="User name of the submitter"),
                 sort: str = Query("publishedAt", pattern="^(publishedAt|trending)$"),
                 p: int = Query(0, ge=0, le=10_000, description="Page, from 0"),
                 limit: int = Query(50, ge=1, le=100)) -> list[dict]:
    store = request.app.state.store
    try:
        if date_:
            if not DAY_RE.match(date_):
                raise ValueError(date_)
            date.fromisoformat(date_)
            start = end = date_
        elif week:
            if not WEEK_RE.match(week):
                raise ValueError(week)
            start, end = listings.week_range(week)
        elif month:
            if not MONTH_RE.match(month):
                raise ValueError(month)
            start, end = listings.month_range(month)
        else:
            start = end = listings.latest_day(store) or "0000-00-00"
    except ValueError:
        raise HTTPException(400, "date must be YYYY-MM-DD, week YYYY-Www, month YYYY-MM")
    order = "upvotes" if sort == "trending" else "published"
    ids, _ = listings.list_ids(store, start, end, order, limit, p * limit, submitter=submitter)
    return [daily_json(c) for c in listings.cards(store, ids)]


@router.get("/papers/search", tags=["huggingface"], dependencies=[Depends(rate_limit("search", 120, 60))])
def papers_search(request: Request, q: str = Query("", max_length=500), limit: int = Query(20, ge=1, le=120)) -> list[dict]:
    from paperwire.web.pages import run_search

    if not q.strip():
        return []
    try:
        result = run_search(request, q.strip(), limit, 0)
    except ValueError as exc:
        raise HTTPException(400, str(exc))
    if result is None:
        raise HTTPException(503, "search is not installed on this server")
    return [daily_json(c) for c in listings.cards(request.app.state.store, [h.paper_id for h in result.hits])]


def _card_or_404(request: Request, paper_id: str):
    pid = _pid(paper_id)
    cs = listings.cards(request.app.state.store, [pid])
    if not cs:
        raise HTTPException(404, f"No paper {pid}.")
    return cs[0]


@router.get("/papers/{paper_id:path}", tags=["huggingface"])
def paper_info(request: Request, paper_id: str) -> dict:
    return paper_json(_card_or_404(request, paper_id))


@router.get("/arxiv/{paper_id:path}/repos", tags=["huggingface"])
def arxiv_repos(request: Request, paper_id: str) -> dict:
    """Repositories linked to a paper: Hub models, datasets and spaces, plus code repositories."""
    card = _card_or_404(request, paper_id)
    out: dict[str, list] = {"models": [], "datasets": [], "spaces": [], "code": []}
    kinds = {"hf_model": "models", "hf_dataset": "datasets", "hf_space": "spaces"}
    for link in card.paper.links:
        if link.kind in kinds:
            hub_id = re.sub(r"^https?://huggingface\.co/(datasets/|spaces/)?", "", link.url)
            out[kinds[link.kind]].append({"id": hub_id, "url": link.url})
        elif link.kind in listings.CODE_KINDS:
            out["code"].append({"url": link.url, "kind": link.kind, "origin": link.origin})
    return out


def paper_markdown_text(request: Request, pid: str) -> str | None:
    cs = listings.cards(request.app.state.store, [pid])
    if not cs:
        return None
    c, p = cs[0], cs[0].paper
    lines = [f"# {p.title_display}", "", f"**arXiv:** [{p.id}](https://arxiv.org/abs/{p.id})  ",
             f"**Authors:** {', '.join(p.authors)}  ", f"**Published:** {(p.published or '')[:10]}  ",
             f"**Categories:** {' '.join(p.categories)}  ", f"**Upvotes:** {c.upvotes}  "]
    if c.code_url:
        lines.append(f"**Code:** {c.code_url}  ")
    lines += ["", "## Abstract", "", p.abstract_display, ""]
    return "\n".join(lines)


# --- paperwire's own /api/v1 ---------------------------------------------------------------------

def token_user(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)):
    """The user of the bearer token; 401 without a valid one."""
    user = users.user_for_token(request.app.state.store, creds.credentials) if creds else None
    if user is None:
        raise HTTPException(401, "A valid API token is required (Authorization: Bearer <token>).",
                            headers={"WWW-Authenticate": "Bearer"})
    request.state.api_user = user
    return user


@router.get("/v1/trending", tags=["paperwire"])
def v1_trending(request: Request, window: str = Query("week", pattern="^(day|week|month)$"),
                limit: int = Query(20, ge=1, le=100), offset: int = Query(0, ge=0, le=10_000)) -> dict:
    """Trending papers with the score broken into its parts (they sum to the score)."""
    from paperwire.web.pages import trending_list

    rows = trending_list(request, window, limit, offset)
    if rows is None:
        raise HTTPException(503, "trending is not installed on this server")
    return {"window": window, "papers": [
        {"id": t.paper_id, "title": c.paper.title_display, "score": t.score, "parts": t.parts,
         "inputs": getattr(t, "inputs", {}), "upvotes": c.upvotes, "githubRepo": c.code_url} for t, c in rows]}


@router.get("/v1/search", tags=["paperwire"], dependencies=[Depends(rate_limit("search", 120, 60))])
def v1_search(request: Request, q: str = Query(..., min_length=1, max_length=500),
              mode: str = Query("hybrid", pattern="^(hybrid|lexical|semantic)$"),
              limit: int = Query(20, ge=1, le=100), offset: int = Query(0, ge=0, le=1000)) -> dict:
    """Search with filters (see the search docs); `snippet` is HTML with <mark> around matches."""
    from paperwire.web.pages import run_search

    try:
        result = run_search(request, q, limit, offset, mode)
    except ValueError as exc:
        raise HTTPException(400, str(exc))
    if result is None:
        raise HTTPException(503, "search is not installed on this server")
    return {"query": q, "total": result.total, "mode": result.mode, "fallback": getattr(result, "fallback", None),
            "hits": [{"id": h.paper_id, "title": h.title, "score": h.score, "snippet": h.snippet, "parts": h.parts}
                     for h in result.hits]}


@router.get("/v1/papers/{paper_id:path}/similar", tags=["paperwire"])
def v1_similar(request: Request, paper_id: str, limit: int = Query(10, ge=1, le=50)) -> list[dict]:
    from paperwire.web.pages import search_engine

    pid = _pid(paper_id)
    if not users.paper_exists(request.app.state.store, pid):
        raise HTTPException(404, f"No paper {pid}.")
    engine = search_engine(request)
    if engine is None:
        raise HTTPException(503, "search is not installed on this server")
    hits = [h for h in engine.similar(pid, limit=limit) if h.paper_id != pid]
    return [{"id": h.paper_id, "title": h.title, "score": h.score} for h in hits]


class UpvoteOut(BaseModel):
    id: str
    upvoted: bool
    upvotes: int = Field(description="The site's upvotes of the paper (without Hugging Face's)")


def _vote(request: Request, paper_id: str, user, on: bool) -> UpvoteOut:
    pid = _pid(paper_id)
    try:
        now_on, count = users.set_upvote(request.app.state.store, user.id, pid, on=on)
    except KeyError:
        raise HTTPException(404, f"No paper {pid}.")
    request.app.state.page_cache.bump()
    return UpvoteOut(id=pid, upvoted=now_on, upvotes=count)


@router.post("/v1/papers/{paper_id:path}/upvote", tags=["paperwire"], response_model=UpvoteOut,
             dependencies=[Depends(rate_limit("upvote", 60, 60))])
def v1_upvote(request: Request, paper_id: str, user=Depends(token_user)):
    """Upvote a paper (idempotent: a second call changes nothing)."""
    return _vote(request, paper_id, user, True)


@router.delete("/v1/papers/{paper_id:path}/upvote", tags=["paperwire"], response_model=UpvoteOut,
               dependencies=[Depends(rate_limit("upvote", 60, 60))])
def v1_unvote(request: Request, paper_id: str, user=Depends(token_user)):
    """Withdraw an upvote (idempotent)."""
    return _vote(request, paper_id, user, False)


class SubmitIn(BaseModel):
    id: str = Field(max_length=200, description="arXiv id, e.g. 2501.01234 or hep-th/9901001")


@router.post("/v1/submissions", tags=["paperwire"], status_code=201,
             dependencies=[Depends(rate_limit("submit", 20, 3600))])
def v1_submit(request: Request, body: SubmitIn = Body(...), user=Depends(token_user)) -> dict:
    """Submit a paper to today's list (limited per user per day)."""
    from paperwire.web.pages import submit_by_id

    try:
        pid, day = submit_by_id(request, user, body.id)
    except users.AccountError as exc:
        raise HTTPException(400, str(exc))
    return {"id": pid, "day": day, "submittedBy": user.username}


@router.get("/v1/me", tags=["paperwire"])
def v1_me(request: Request, user=Depends(token_user)) -> dict:
    return {"user": user.username, "isAdmin": user.is_admin}
