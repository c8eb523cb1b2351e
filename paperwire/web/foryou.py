""""For you": personal recommendations on a page, in a private Atom feed and in the API, with
feedback (thumbs up / not interested) from pages and from signed digest links.

Routes
  GET  /foryou?profile=<slug>         the page (signed in): recommendations with reasons, profile tools;
                                      one tab per interest profile (no `profile`: the main one)
  POST /foryou/profiles               create a named interest profile (CSRF)
  POST /foryou/profiles/delete        delete one (CSRF)
  POST /foryou/feedback               thumbs up / not interested (signed in, CSRF)
  POST /foryou/follow                 follow / unfollow a category or author (signed in, CSRF)
  POST /foryou/import                 upload a library file: BibTeX, RIS, Zotero CSV, id list (CSRF)
  POST /foryou/feed-token             create or rotate the private feed URL (CSRF)
  GET  /foryou/feed/{token}.atom      the private Atom feed (no login: the token is the key)
  GET  /foryou/f/{signed}             digest feedback link: a confirmation page (no login)
  POST /foryou/f/{signed}             ... applies it (CSRF; a GET never changes anything, because
                                      mail scanners and link previewers fetch every link)
  GET  /foryou/d?t=&p=&a=             the digest's per-item links (one signed per-subscriber token,
                                      paper and action as plain parameters): a confirmation page
  POST /foryou/d                      ... applies it to that subscriber's profile (no login, no CSRF:
                                      the token is the credential, as for one-click unsubscribe)
  GET  /api/v1/recommendations        JSON (Authorization: Bearer <API token>)
  POST /api/v1/recommendations/feedback

Other modules: `feedback_url(settings, profile_key, paper_id, action)` gives the signed link a
digest puts under each paper (valid FEEDBACK_MAX_AGE seconds).
"""

from __future__ import annotations

import logging
import tempfile
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, Body, Depends, File, Form, HTTPException, Query, Request, UploadFile
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel

from paperwire.digest import subscriptions as digest_subscriptions
from paperwire.ranking import library, recommend
from paperwire.ranking import trending as rank
from paperwire.store import listings, profiles, users
from paperwire.web.deps import CurrentUser, EngineDep, SettingsDep, StoreDep, TokenUser
from paperwire.web.feeds import render_feed
from paperwire.web.queries import with_cards
from paperwire.web.render import flash_redirect, render
from paperwire.web.security import rate_limit, verify_csrf

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=True)
FEEDBACK_SALT = "foryou-feedback"
FEEDBACK_MAX_AGE = 60 * 24 * 3600
ACTIONS = {"up": "like", "dismiss": "dismiss"}
MAX_UPLOAD = 5 * 1024 * 1024


# -- signed feedback links ---------------------------------------------------------------------

def _signer(settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt=FEEDBACK_SALT)


def feedback_token(settings, profile_key: str, paper_id: str, action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    return _signer(settings).dumps({"k": profiles.check_key(profile_key), "p": paper_id, "a": action})


def feedback_url(settings, profile_key: str, paper_id: str, action: str) -> str:
    """Absolute signed link for e-mails: no login needed, expires after FEEDBACK_MAX_AGE."""
    return f"{settings.base_url.rstrip('/')}/foryou/f/{feedback_token(settings, profile_key, paper_id, action)}"


def read_feedback_token(settings, token: str) -> dict:
    try:
        data = _signer(settings).loads(token, max_age=FEEDBACK_MAX_AGE)
    except SignatureExpired:
        raise HTTPException(410, "This feedback link has expired; use the buttons on the “For you” page instead.")
    except BadSignature:
        raise HTTPException(400, "This feedback link is not valid.")
    if not isinstance(data, dict) or data.get("a") not in ACTIONS or not data.get("p") or not data.get("k"):
        raise HTTPException(400, "This feedback link is not valid.")
    return data


def apply_feedback(store, profile_key: str, paper_id: str, action: str, source: str) -> None:
    # a hidden paper is out of every list, so feedback on it is refused like an unknown one
    if not profiles.existing_ids(store, [paper_id]) or not users.paper_exists(store, paper_id):
        raise HTTPException(404, f"No paper {paper_id} in this collection.")
    profiles.add_items(store, profile_key, [paper_id], ACTIONS[action], source=source)


# -- recommendations for a request ------------------------------------------------------------------

def _window(store, days: int) -> tuple[str, str] | None:
    """[start, end] days of the last `days` listing days (ends at the newest listing day: the data
    may be historical)."""
    end = rank.latest_now(store)
    if end is None:
        return None
    start = end - timedelta(days=days - 1)
    return start.date().isoformat(), end.date().isoformat()


def _recs(store, settings, engine, key: str, days: int, limit: int, method: str | None):
    win = _window(store, days)
    if win is None:
        return [], None
    return recommend.recommend(store, settings, key, win[0], win[1], limit=limit, method=method, engine=engine), win


# -- interest profiles ---------------------------------------------------------------------------

def _profile(store, user, slug: str) -> tuple[str, str, str]:
    """(profile key, slug, display name) of the signed-in user's profile `slug` ('' = main);
    another reader's profile or an unknown slug is a 404."""
    owner = profiles.user_key(user.id)
    if not slug:
        return owner, "", "Main"
    got = profiles.named_profile(store, owner, slug)
    if got is None:
        raise HTTPException(404, "No such interest profile.")
    return got[0], slug, got[1]


def _back(slug: str) -> str:
    return f"/foryou?profile={slug}" if slug else "/foryou"


SLUG = "^[a-z0-9-]{0,40}$"


# -- page -----------------------------------------------------------------------------------------

@router.get("/foryou", include_in_schema=False)
def foryou_page(request: Request, store: StoreDep, settings: SettingsDep, engine: EngineDep, user: CurrentUser,
                days: int = Query(7, ge=1, le=31), method: str = Query("", pattern="^(|fused|similarity|classifier|blend)$"),
                profile: str = Query("", pattern=SLUG)):
    key, slug, name = _profile(store, user, profile)
    recs, win = _recs(store, settings, engine, key, days, 30, method or None)
    prof = profiles.load_profile(store, key)
    return render(request, "foryou/page.html", {
        "title": "For you" if not slug else f"For you: {name}", "rows": with_cards(store, recs),
        "slug": slug, "profile_name": name, "named": profiles.named_profiles(store, profiles.user_key(user.id)),
        "voted": set(), "days": days, "method": method, "window": win, "profile": prof,
        "has_feed": profiles.has_feed_token(store, key), "feed_url": None})


def _flash(url: str, message: str):
    # the flash message travels in a cookie header (latin-1): user-supplied text (file names,
    # titles in error messages) is reduced to ASCII so it cannot break the response
    return flash_redirect(url, message.encode("ascii", "replace").decode("ascii"))


@router.post("/foryou/feedback", include_in_schema=False,
             dependencies=[Depends(rate_limit("foryou_feedback", 120, 60))])
def foryou_feedback(request: Request, store: StoreDep, user: CurrentUser, csrf: str = Form(""),
                    paper_id: str = Form("", max_length=100), action: str = Form("", pattern="^(up|dismiss|undo)$"),
                    profile: str = Form("", pattern=SLUG)):
    verify_csrf(request, csrf)
    key, slug, _ = _profile(store, user, profile)
    if action == "undo":
        profiles.remove_item(store, key, paper_id)
        return _flash(_back(slug), "Feedback withdrawn.")
    apply_feedback(store, key, paper_id, action, "web")
    msg = "Thanks: more like this." if action == "up" else "Got it: fewer like this."
    return _flash(_back(slug), msg)


@router.post("/foryou/follow", include_in_schema=False, dependencies=[Depends(rate_limit("foryou_follow", 60, 60))])
def foryou_follow(request: Request, store: StoreDep, user: CurrentUser, csrf: str = Form(""),
                  kind: str = Form("", pattern="^(category|author)$"), value: str = Form("", max_length=200),
                  remove: str = Form(""), profile: str = Form("", pattern=SLUG)):
    verify_csrf(request, csrf)
    key, slug, _ = _profile(store, user, profile)
    if remove:
        profiles.unfollow(store, key, kind, value)
        return _flash(_back(slug), f"No longer following {value}.")
    try:
        profiles.follow(store, key, kind, value)
    except ValueError as exc:
        return _flash(_back(slug), str(exc))
    return _flash(_back(slug), f"Following {value.strip()}.")


@router.post("/foryou/import", include_in_schema=False, dependencies=[Depends(rate_limit("foryou_import", 10, 3600))])
async def foryou_import(request: Request, store: StoreDep, user: CurrentUser, csrf: str = Form(""),
                        file: UploadFile = File(...), fmt: str = Form("", pattern="^(|bibtex|ris|zotero_csv|ids)$"),
                        profile: str = Form("", pattern=SLUG)):
    verify_csrf(request, csrf)
    key, slug, _ = _profile(store, user, profile)
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return _flash(_back(slug), f"That file is larger than {MAX_UPLOAD // (1024 * 1024)} MB.")
    # the upload's own name only for its extension (format detection): "..", "." or "" name no file
    name = Path(file.filename or "").name[:100]
    name = name if name.strip(".") else "library.txt"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            rep = library.import_library(store, key, path, fmt or None)
        except library.LibraryError as exc:
            return _flash(_back(slug), f"Nothing imported: {exc}")
    return _flash(_back(slug), f"Library imported: {rep}.")


@router.post("/foryou/profiles", include_in_schema=False, dependencies=[Depends(rate_limit("foryou_profiles", 20, 3600))])
def foryou_profile_create(request: Request, store: StoreDep, user: CurrentUser, csrf: str = Form(""),
                          name: str = Form("", max_length=200)):
    verify_csrf(request, csrf)
    try:
        key = profiles.create_named(store, profiles.user_key(user.id), name)
    except ValueError as exc:
        return _flash("/foryou#profiles", str(exc))
    return _flash(_back(key.split("/", 1)[1]), f"Profile created: {' '.join(name.split())}. Give it papers: "
                  "thumbs up here, or import a library.")


@router.post("/foryou/profiles/delete", include_in_schema=False)
def foryou_profile_delete(request: Request, store: StoreDep, user: CurrentUser, csrf: str = Form(""),
                          profile: str = Form("", pattern=SLUG)):
    verify_csrf(request, csrf)
    key, slug, name = _profile(store, user, profile)
    if not slug:
        return _flash("/foryou", "The main profile stays; only named profiles can be deleted.")
    profiles.delete_named(store, key)
    return _flash("/foryou", f"Profile deleted: {name}.")


@router.post("/foryou/feed-token", include_in_schema=False,
             dependencies=[Depends(rate_limit("foryou_token", 10, 3600))])
def foryou_feed_token(request: Request, store: StoreDep, settings: SettingsDep, user: CurrentUser,
                      csrf: str = Form(""), profile: str = Form("", pattern=SLUG)):
    verify_csrf(request, csrf)
    key, _, _ = _profile(store, user, profile)
    token = profiles.new_feed_token(store, key)
    url = f"{settings.base_url.rstrip('/')}/foryou/feed/{token}.atom"
    # shown once, on this response: only its hash is stored
    return render(request, "foryou/feed_token.html", {"title": "Your private feed", "feed_url": url})


@router.get("/foryou/feed/{token}.atom", include_in_schema=False)
def foryou_feed(request: Request, token: str, store: StoreDep, settings: SettingsDep, engine: EngineDep,
                days: int = Query(7, ge=1, le=31)):
    key = profiles.profile_for_feed_token(store, token)
    if key is None:
        raise HTTPException(404, "Unknown feed; create a new feed URL on the “For you” page.")
    recs, _ = _recs(store, settings, engine, key, days, 50, None)
    cards = listings.cards(store, [r.paper_id for r in recs])
    title, link = "Recommended for you", "/foryou"
    if "/" in key:  # a named interest profile's own feed
        got = profiles.named_profile(store, profiles.owner_key(key), key.split("/", 1)[1])
        title, link = f"Recommended for you: {got[1] if got else 'profile'}", _back(key.split("/", 1)[1])
    return render_feed(request, settings, "atom", title, link, cards)


# -- signed links from digests -----------------------------------------------------------------------

@router.get("/foryou/f/{token}", include_in_schema=False)
def feedback_link(request: Request, token: str, store: StoreDep, settings: SettingsDep):
    data = read_feedback_token(settings, token)
    cards = listings.cards(store, [data["p"]])
    return render(request, "foryou/confirm.html", {
        "title": "Your feedback", "token": token, "action": data["a"], "card": cards[0] if cards else None,
        "paper_id": data["p"], "done": False})


@router.post("/foryou/f/{token}", include_in_schema=False,
             dependencies=[Depends(rate_limit("foryou_link", 60, 60))])
def feedback_link_apply(request: Request, token: str, store: StoreDep, settings: SettingsDep, csrf: str = Form("")):
    verify_csrf(request, csrf)
    data = read_feedback_token(settings, token)
    apply_feedback(store, data["k"], data["p"], data["a"], "digest")
    cards = listings.cards(store, [data["p"]])
    return render(request, "foryou/confirm.html", {
        "title": "Thanks", "token": token, "action": data["a"], "card": cards[0] if cards else None,
        "paper_id": data["p"], "done": True})


# -- digest links: one signed token per subscriber and digest, paper and action in plain parameters --

def _digest_feedback(store, settings, token: str, paper_id: str, action: str, slug: str = ""):
    try:
        sub = digest_subscriptions.check_feedback_token(store, settings, token)
    except digest_subscriptions.TokenError as exc:
        raise HTTPException(403, str(exc))
    if action not in ACTIONS or not paper_id:
        raise HTTPException(400, "This feedback link is not valid. Use the links in your latest digest.")
    key = profiles.subscriber_key(sub.id)
    if slug:  # a named profile's section: only one of this subscriber's own profiles
        got = profiles.named_profile(store, key, slug)
        if got is None:
            raise HTTPException(404, "That interest profile no longer exists.")
        key = got[0]
    return key


@router.get("/foryou/d", include_in_schema=False)
def digest_feedback_link(request: Request, store: StoreDep, settings: SettingsDep,
                         t: str = Query("", max_length=1000), p: str = Query("", max_length=100), a: str = Query(""),
                         n: str = Query("", pattern=SLUG)):
    _digest_feedback(store, settings, t, p, a, n)  # a GET changes nothing: it asks (mail scanners fetch links)
    cards = listings.cards(store, [p])
    return render(request, "digest/page_feedback.html", {
        "title": "Your feedback", "token": t, "action": a, "card": cards[0] if cards else None,
        "paper_id": p, "done": False, "profile_slug": n})


@router.post("/foryou/d", include_in_schema=False, dependencies=[Depends(rate_limit("foryou_link", 60, 60))])
def digest_feedback_apply(request: Request, store: StoreDep, settings: SettingsDep,
                          t: str = Form("", max_length=1000), p: str = Form("", max_length=100), a: str = Form(""),
                          n: str = Form("", pattern=SLUG)):
    # no CSRF check: the signed token is the credential and only acts on its own subscriber's profiles
    key = _digest_feedback(store, settings, t, p, a, n)
    apply_feedback(store, key, p, a, "digest")
    cards = listings.cards(store, [p])
    return render(request, "digest/page_feedback.html", {
        "title": "Thanks", "token": t, "action": a, "card": cards[0] if cards else None,
        "paper_id": p, "done": True})


# -- API --------------------------------------------------------------------------------------------

@router.get("/api/v1/recommendations", tags=["paperwire"],
            dependencies=[Depends(rate_limit("recommendations", 60, 60))])
def api_recommendations(store: StoreDep, settings: SettingsDep, engine: EngineDep, user: TokenUser,
                        days: int = Query(7, ge=1, le=31), limit: int = Query(20, ge=1, le=100),
                        method: str = Query("", pattern="^(|fused|similarity|classifier|blend)$"),
                        profile: str = Query("", pattern=SLUG)) -> list[dict]:
    """Papers of the last `days` listing days recommended for the token's user (for one of their
    named interest profiles with `profile`), best first, each with its score and the reasons."""
    key, _, _ = _profile(store, user, profile)
    recs, _ = _recs(store, settings, engine, key, days, limit, method or None)
    by_id = {c.id: c for c in listings.cards(store, [r.paper_id for r in recs])}
    return [{"id": r.paper_id, "title": by_id[r.paper_id].paper.title_display if r.paper_id in by_id else None,
             "score": round(r.score, 6), "reasons": r.reasons} for r in recs]


class FeedbackIn(BaseModel):
    paper_id: str
    action: str  # up | dismiss


@router.post("/api/v1/recommendations/feedback", tags=["paperwire"],
             dependencies=[Depends(rate_limit("foryou_feedback", 120, 60))])
def api_feedback(store: StoreDep, user: TokenUser, body: FeedbackIn = Body(...)) -> dict:
    """Thumbs up (`up`) or not interested (`dismiss`): changes the next recommendations."""
    if body.action not in ACTIONS:
        raise HTTPException(422, "action must be 'up' or 'dismiss'")
    apply_feedback(store, profiles.user_key(user.id), body.paper_id, body.action, "api")
    return {"paper_id": body.paper_id, "action": body.action}
