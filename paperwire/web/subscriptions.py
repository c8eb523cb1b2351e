"""Subscription pages and API: subscribe, confirm, preferences, unsubscribe.

Who may do what:
- anyone may ask to subscribe an address; the answer is the same whatever that address's
  state (PUBLIC_ANSWER), and the confirmation mail goes out after the response, so neither
  the page nor its timing tells whether an address is subscribed;
- a preferences or unsubscribe link carries a signed token naming one subscriber: holding the
  link is the permission (no password), and it reaches only that one subscription;
- POST /unsubscribe?token=... is also the RFC 8058 one-click endpoint: mail clients post
  ``List-Unsubscribe=One-Click`` there without cookies, so it takes no CSRF field (the signed
  token is what a forger cannot produce). GET only shows a button: link scanners and
  prefetchers follow GET links, and must not unsubscribe anyone.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from paperwire.digest import outbox
from paperwire.digest import subscriptions as digest
from paperwire.mailer import mail_enabled
from paperwire.store import subscriptions as subs
from paperwire.web.deps import SettingsDep, StoreDep
from paperwire.web.render import render
from paperwire.web.security import rate_limit, verify_csrf

log = logging.getLogger(__name__)

router = APIRouter()


def _deliver_later(store, settings, msg_id: int | None, background: BackgroundTasks) -> None:
    if msg_id is None or not mail_enabled(settings):
        return

    def send():
        try:
            outbox.deliver(store, settings, ids=[msg_id], wait=False)
        except Exception:  # queued in the outbox: the next `paperwire digest send` retries it
            log.exception("sending message %s failed", msg_id)

    background.add_task(send)


def _message(request: Request, heading: str, message: str, status: int = 200, **extra):
    return render(request, "digest/page_message.html",
                  {"title": heading, "heading": heading, "message": message, "is_error": status >= 400, **extra},
                  status_code=status)


# the same for every address (it tells nothing about any of them): the site cannot send mail
MAIL_OFF_ANSWER = ("E-mail is not set up on this site yet, so no confirmation can reach your inbox, and no "
                   "digest would either. The site's operator can turn it on (smtp_host, see docs/deployment.md); "
                   "please subscribe again then.")


def _start(store, settings, background: BackgroundTasks, email: str, prefs: dict) -> None:
    outcome = digest.subscribe(store, settings, email, prefs, send=False)
    log.info("subscribe %s: %s", outcome.subscriber.id, outcome.action)
    if not mail_enabled(settings) and outcome.message_id is not None:
        # as with password reset: a developer without a mail server can still confirm
        if settings.env != "production" and outcome.confirm_url:
            log.warning("e-mail is off; confirm the subscription of %s at %s", email, outcome.confirm_url)
        else:
            log.warning("e-mail is off; the confirmation for subscriber %s waits in the outbox",
                        outcome.subscriber.id)
    _deliver_later(store, settings, outcome.message_id, background)


# --- pages ----------------------------------------------------------------------------------

@router.get("/subscribe", include_in_schema=False)
def subscribe_page(request: Request):
    return render(request, "digest/page_subscribe.html", {"title": "Subscribe"})


@router.post("/subscribe", include_in_schema=False, dependencies=[Depends(rate_limit("subscribe", 10, 3600))])
def subscribe_form(request: Request, background: BackgroundTasks, store: StoreDep, settings: SettingsDep,
                   csrf: str = Form(""), email: str = Form("", max_length=300), frequency: str = Form(""),
                   categories: str = Form("", max_length=2000), topics: str = Form("", max_length=2000)):
    verify_csrf(request, csrf)
    prefs = {k: v for k, v in (("frequency", frequency), ("categories", categories), ("topics", topics)) if v}
    try:
        _start(store, settings, background, email, prefs)
    except ValueError as exc:
        return render(request, "digest/page_subscribe.html",
                      {"title": "Subscribe", "error": str(exc), "email": email, "categories": categories,
                       "topics": topics}, status_code=400)
    if not mail_enabled(settings):
        return _message(request, "E-mail is not set up", MAIL_OFF_ANSWER, is_error=True)
    return _message(request, "Check your inbox", digest.PUBLIC_ANSWER)


@router.get("/subscribe/confirm", include_in_schema=False)
def confirm_page(request: Request, store: StoreDep, settings: SettingsDep, token: str = Query("", max_length=1000)):
    """The link in the confirmation mail shows a button; only its POST confirms (mail scanners and
    link previews follow GET links, and must not subscribe anyone)."""
    try:
        sub = digest.check_confirm_token(store, settings, token, apply=False)
    except digest.TokenError as exc:
        return _message(request, "Link not valid", str(exc), status=400)
    if sub.status == "active":
        return _subscribed(request, settings, sub)
    return _message(request, "Confirm your subscription", f"Subscribe {sub.email} to the {sub.frequency} digest?",
                    confirm_action="/subscribe/confirm?" + urlencode({"token": token}))


@router.post("/subscribe/confirm", include_in_schema=False, dependencies=[Depends(rate_limit("confirm", 30, 3600))])
def confirm(request: Request, store: StoreDep, settings: SettingsDep, token: str = Query("", max_length=1000),
            csrf: str = Form("")):
    verify_csrf(request, csrf)
    try:
        sub = digest.check_confirm_token(store, settings, token)
    except digest.TokenError as exc:
        return _message(request, "Link not valid", str(exc), status=400)
    return _subscribed(request, settings, sub)


def _subscribed(request: Request, settings, sub: subs.Subscriber):
    links = digest.links_for(settings, sub)
    return _message(request, "You are subscribed",
                    f"{sub.email} will get the {sub.frequency} digest. Choose what it should be about:",
                    preferences_url=links.preferences)


def _manage(store, settings, token: str) -> subs.Subscriber:
    """The subscriber a signed preferences / unsubscribe link names; 403 for a bad link."""
    try:
        return digest.check_manage_token(store, settings, token)
    except digest.TokenError as exc:
        raise HTTPException(403, str(exc))


@router.get("/preferences", include_in_schema=False)
def preferences_page(request: Request, store: StoreDep, settings: SettingsDep,
                     token: str = Query("", max_length=1000), saved: int = 0):
    sub = _manage(store, settings, token)
    return render(request, "digest/page_preferences.html",
                  {"title": "Your digest", "sub": sub, "token": token, "values": sub.preferences(), "saved": saved})


@router.post("/preferences", include_in_schema=False, dependencies=[Depends(rate_limit("preferences", 30, 3600))])
def preferences_save(request: Request, store: StoreDep, settings: SettingsDep,
                     token: str = Query("", max_length=1000), csrf: str = Form(""),
                     frequency: str = Form("daily"), size: str = Form("10", max_length=10),
                     categories: str = Form("", max_length=4000), authors: str = Form("", max_length=8000),
                     topics: str = Form("", max_length=4000), seeds: str = Form("", max_length=2000)):
    verify_csrf(request, csrf)
    sub = _manage(store, settings, token)
    form = {"frequency": frequency, "size": size, "categories": categories, "authors": authors, "topics": topics,
            "seeds": seeds}
    try:
        prefs = digest.parse_preferences(form)
    except ValueError as exc:
        # the visitor's input comes back as typed, with the reason: nothing is lost
        values = {**sub.preferences(), **{k: digest.as_list(v) for k, v in form.items()
                                          if k not in ("frequency", "size")},
                  "frequency": frequency, "size": size}
        return render(request, "digest/page_preferences.html",
                      {"title": "Your digest", "sub": sub, "token": token, "values": values, "error": str(exc)},
                      status_code=400)
    subs.update_preferences(store, sub.id, prefs)
    return RedirectResponse("/preferences?" + urlencode({"token": token, "saved": 1}), status_code=303)


@router.post("/preferences/new-links", include_in_schema=False, dependencies=[Depends(rate_limit("preferences", 30, 3600))])
def preferences_new_links(request: Request, store: StoreDep, settings: SettingsDep,
                          token: str = Query("", max_length=1000), csrf: str = Form("")):
    """Raise the subscriber's link_epoch: every link already mailed stops working; this answer
    goes on to the preferences page under the new link."""
    verify_csrf(request, csrf)
    sub = _manage(store, settings, token)
    subs.rotate_links(store, sub.id)
    fresh = digest.manage_token(settings, subs.get_subscriber(store, sub.id))
    return RedirectResponse("/preferences?" + urlencode({"token": fresh, "saved": 1}), status_code=303)


@router.get("/unsubscribe", include_in_schema=False)
def unsubscribe_page(request: Request, store: StoreDep, settings: SettingsDep, token: str = Query("", max_length=1000)):
    sub = _manage(store, settings, token)
    return render(request, "digest/page_unsubscribe.html",
                  {"title": "Unsubscribe", "sub": sub, "token": token, "done": sub.status == "unsubscribed"})


@router.post("/unsubscribe", include_in_schema=False, dependencies=[Depends(rate_limit("unsubscribe", 60, 3600))])
def unsubscribe(request: Request, store: StoreDep, settings: SettingsDep, token: str = Query("", max_length=1000)):
    """The footer button and RFC 8058 one-click (body ``List-Unsubscribe=One-Click``)."""
    sub = _manage(store, settings, token)
    if sub.status in ("active", "pending"):
        digest.unsubscribe(store, sub)
        sub = subs.get_subscriber(store, sub.id)
    return render(request, "digest/page_unsubscribe.html",
                  {"title": "Unsubscribed", "sub": sub, "token": token, "done": True})


@router.post("/unsubscribe/undo", include_in_schema=False, dependencies=[Depends(rate_limit("unsubscribe", 60, 3600))])
def resubscribe(request: Request, store: StoreDep, settings: SettingsDep, token: str = Query("", max_length=1000),
                csrf: str = Form("")):
    verify_csrf(request, csrf)
    sub = _manage(store, settings, token)
    if not digest.resubscribe(store, sub):
        return _message(request, "Subscribe again",
                        "Mail to this address was refused, so it needs a fresh confirmation: subscribe again "
                        "from the front page.", status=409)
    sub = subs.get_subscriber(store, sub.id)
    return render(request, "digest/page_unsubscribe.html",
                  {"title": "Subscribed", "sub": sub, "token": token, "resubscribed": True})


# --- JSON API ------------------------------------------------------------------------------

def _public(sub: subs.Subscriber) -> dict:
    return {"email": sub.email, "status": sub.status, **sub.preferences(), "confirmed_at": sub.confirmed_at}


# The JSON bodies, declared as exactly as the checks in digest.subscriptions make them (the
# OpenAPI document is then true: a body that matches the schema is accepted).
_ITEM = r"^[^,;\n\r\u0000-\u001f\ufffe\uffff]{0,200}$"
_CATEGORY = r"^[A-Za-z][A-Za-z\-]*(\.[A-Za-z][A-Za-z\-]*)?$"
_SEED = r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Za-z\-]+)?/\d{7})(v\d+)?$"


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    frequency: Literal["daily", "weekly"] | None = None
    size: int | None = Field(None, ge=1, le=digest.MAX_SIZE)
    categories: list[Annotated[str, Field(pattern=_CATEGORY, max_length=40)]] | None = \
        Field(None, max_length=digest.MAX_LIST["categories"])
    authors: list[Annotated[str, Field(pattern=_ITEM)]] | None = Field(None, max_length=digest.MAX_LIST["authors"])
    topics: list[Annotated[str, Field(pattern=_ITEM)]] | None = Field(None, max_length=digest.MAX_LIST["topics"])
    seeds: list[Annotated[str, Field(pattern=_SEED)]] | None = Field(None, max_length=digest.MAX_LIST["seeds"])


class SubscribeIn(PreferencesIn):
    # the pattern documents the check; normalise_email makes it, with the message people read
    email: str = Field(max_length=254, json_schema_extra={"pattern": digest._EMAIL_RE.pattern})

    @field_validator("email")
    @classmethod
    def _address(cls, value: str) -> str:
        digest.normalise_email(value)
        return value


def _given(body: BaseModel) -> dict:
    return {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}


@router.post("/api/v1/subscriptions", status_code=202, tags=["subscriptions"],
             dependencies=[Depends(rate_limit("subscribe", 10, 3600))])
def api_subscribe(background: BackgroundTasks, store: StoreDep, settings: SettingsDep, body: SubscribeIn):
    """Start a subscription (double opt-in: a confirmation e-mail is sent). Same answer for any address."""
    prefs = _given(body)
    email = prefs.pop("email")
    try:
        _start(store, settings, background, email, prefs)
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    return {"message": digest.PUBLIC_ANSWER}


@router.get("/api/v1/subscriptions/me", tags=["subscriptions"])
def api_get(store: StoreDep, settings: SettingsDep, token: str = Query(..., max_length=1000)):
    """The subscription a signed link's token names (the token from a digest's preferences link)."""
    return _public(_manage(store, settings, token))


@router.patch("/api/v1/subscriptions/me", tags=["subscriptions"],
              dependencies=[Depends(rate_limit("preferences", 30, 3600))])
def api_update(store: StoreDep, settings: SettingsDep, body: PreferencesIn, token: str = Query(..., max_length=1000)):
    """Change some preferences (frequency, size, categories, authors, topics, seeds)."""
    sub = _manage(store, settings, token)
    try:
        prefs = digest.parse_preferences(_given(body), partial=True)
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    subs.update_preferences(store, sub.id, prefs)
    return _public(subs.get_subscriber(store, sub.id))


@router.delete("/api/v1/subscriptions/me", tags=["subscriptions"],
               dependencies=[Depends(rate_limit("unsubscribe", 60, 3600))])
def api_unsubscribe(store: StoreDep, settings: SettingsDep, token: str = Query(..., max_length=1000)):
    """Unsubscribe at once."""
    sub = _manage(store, settings, token)
    if sub.status in ("active", "pending"):
        digest.unsubscribe(store, sub)
    return _public(subs.get_subscriber(store, sub.id))
