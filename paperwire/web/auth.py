"""Accounts on the site: sign up, sign in, sign out, password reset, API tokens, moderation.

Password reset links are signed (itsdangerous) with the user's current password hash mixed
in, so a link stops working once used (the hash changes) and after an hour.  Sending uses
the digest issue's mailer when it exists; otherwise, with SMTP unconfigured, the link is
logged (development) so a self-hoster can still recover an account.
"""

from __future__ import annotations

import hashlib
import logging
from email.message import EmailMessage

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from itsdangerous import BadSignature, SignatureExpired

from paperwire.store import users
from paperwire.web.render import flash_redirect, render
from paperwire.web.security import (login, logout, rate_limit, require_admin, require_user, safe_next, serializer,
                                    verify_csrf)

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
RESET_MAX_AGE = 3600


@router.get("/signup")
def signup_form(request: Request, next: str = ""):
    return render(request, "signup.html", {"title": "Sign up", "next": safe_next(next)})


@router.post("/signup", dependencies=[Depends(rate_limit("signup", 10, 3600))])
def signup(request: Request, csrf: str = Form(""), email: str = Form("", max_length=300),
           username: str = Form("", max_length=100), password: str = Form("", max_length=1024), next: str = Form("")):
    verify_csrf(request, csrf)
    try:
        user = users.create_user(request.app.state.store, email, username, password)
    except users.AccountError as exc:
        return render(request, "signup.html", {"title": "Sign up", "error": str(exc), "email": email,
                                               "username": username, "next": safe_next(next)}, status_code=400)
    resp = flash_redirect(safe_next(next), f"Welcome, {user.username}!")
    login(resp, request, user)
    return resp


@router.get("/signin")
def signin_form(request: Request, next: str = ""):
    return render(request, "signin.html", {"title": "Sign in", "next": safe_next(next)})


@router.post("/signin", dependencies=[Depends(rate_limit("signin", 20, 600))])
def signin(request: Request, csrf: str = Form(""), email: str = Form("", max_length=300),
           password: str = Form("", max_length=1024), next: str = Form("")):
    verify_csrf(request, csrf)
    user = users.authenticate(request.app.state.store, email, password)
    if user is None:
        return render(request, "signin.html", {"title": "Sign in", "error": "Wrong e-mail or password.",
                                               "email": email, "next": safe_next(next)}, status_code=400)
    resp = flash_redirect(safe_next(next), f"Signed in as {user.username}.")
    login(resp, request, user)
    return resp


@router.post("/signout")
def signout(request: Request, csrf: str = Form("")):
    verify_csrf(request, csrf)
    resp = flash_redirect("/", "Signed out.")
    logout(resp)
    return resp


# --- password reset ------------------------------------------------------------------------------

def _pw_fingerprint(user) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def reset_link(request: Request, user) -> str:
    token = serializer(request, "reset").dumps({"uid": user.id, "pw": _pw_fingerprint(user)})
    return request.app.state.settings.base_url.rstrip("/") + "/reset/" + token


def send_mail(request: Request, to: str, subject: str, text: str) -> bool:
    """Send through the digest issue's mailer (paperwire.mailer); with e-mail off, log the message
    (development) so a self-hoster can still follow the link. True when it was handed to SMTP."""
    settings = request.app.state.settings
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.mail_from, to, subject
    msg.set_content(text)
    try:
        from paperwire.mailer import MailDisabled, MailError, send_message
    except ImportError:  # mailer not installed: behave as "e-mail off"
        log.warning("e-mail is not available; message to %s: %s\n%s", to, subject, text)
        return False
    try:
        send_message(settings, msg)
        return True
    except MailDisabled:
        log.warning("e-mail is off; message to %s: %s\n%s", to, subject, text)
    except MailError as exc:
        log.error("could not send e-mail to %s: %s", to, exc)
    return False


@router.get("/reset")
def reset_request_form(request: Request):
    return render(request, "reset_request.html", {"title": "Reset your password"})


@router.post("/reset", dependencies=[Depends(rate_limit("reset", 5, 3600))])
def reset_request(request: Request, csrf: str = Form(""), email: str = Form("", max_length=300)):
    verify_csrf(request, csrf)
    user = users.get_user_by_email(request.app.state.store, email)
    if user is not None:
        link = reset_link(request, user)
        send_mail(request, user.email, f"Reset your {request.app.state.settings.site_name} password",
                  f"Someone (hopefully you) asked to reset the password of {user.username}.\n\n"
                  f"Open this link within an hour to choose a new one:\n{link}\n\n"
                  "If it was not you, ignore this message; nothing changes.")
    # the same answer whether or not the address has an account
    return flash_redirect("/signin", "If that address has an account, a reset link is on its way.")


def _reset_user(request: Request, token: str):
    try:
        data = serializer(request, "reset").loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired:
        raise HTTPException(400, "This reset link has expired; ask for a new one.")
    except BadSignature:
        raise HTTPException(400, "This reset link is not valid.")
    user = users.get_user(request.app.state.store, int(data.get("uid", 0))) if isinstance(data, dict) else None
    if user is None or data.get("pw") != _pw_fingerprint(user):
        raise HTTPException(400, "This reset link was already used; ask for a new one.")
    return user


@router.get("/reset/{token}")
def reset_form(request: Request, token: str):
    user = _reset_user(request, token)
    return render(request, "reset.html", {"title": "Choose a new password", "token": token, "who": user.username})


@router.post("/reset/{token}")
def reset(request: Request, token: str, csrf: str = Form(""), password: str = Form("", max_length=1024)):
    verify_csrf(request, csrf)
    user = _reset_user(request, token)
    try:
        user = users.set_password(request.app.state.store, user.id, password)
    except users.AccountError as exc:
        return render(request, "reset.html", {"title": "Choose a new password", "token": token, "who": user.username,
                                              "error": str(exc)}, status_code=400)
    resp = flash_redirect("/", "Password changed; you are signed in.")
    login(resp, request, user)
    return resp


# --- API tokens ----------------------------------------------------------------------------------

@router.get("/settings/tokens")
def tokens_page(request: Request):
    user = require_user(request)
    return render(request, "tokens.html", {"title": "API tokens", "new_token": None, "who": user.username})


@router.post("/settings/tokens", dependencies=[Depends(rate_limit("token", 10, 3600))])
def tokens_create(request: Request, csrf: str = Form(""), name: str = Form("", max_length=100)):
    verify_csrf(request, csrf)
    user = require_user(request)
    token = users.create_token(request.app.state.store, user.id, name)
    return render(request, "tokens.html", {"title": "API tokens", "new_token": token, "who": user.username})


# --- moderation ----------------------------------------------------------------------------------

@router.post("/admin/papers/{arxiv_id:path}/hide")
def hide_paper(request: Request, arxiv_id: str, csrf: str = Form(""), hidden: int = Form(1)):
    verify_csrf(request, csrf)
    require_admin(request)
    if not users.set_paper_hidden(request.app.state.store, arxiv_id, bool(hidden)):
        raise HTTPException(404, f"No paper {arxiv_id}.")
    request.app.state.page_cache.bump()
    return flash_redirect(f"/papers/{arxiv_id}", "Paper hidden." if hidden else "Paper shown again.")


@router.post("/admin/comments/{comment_id}/hide")
def hide_comment(request: Request, comment_id: int, csrf: str = Form(""), hidden: int = Form(1)):
    verify_csrf(request, csrf)
    require_admin(request)
    c = users.get_comment(request.app.state.store, comment_id)
    if c is None:
        raise HTTPException(404, "No such comment.")
    users.set_comment_hidden(request.app.state.store, comment_id, bool(hidden))
    request.app.state.page_cache.bump()
    return flash_redirect(f"/papers/{c.paper_id}#c{comment_id}", "Comment hidden." if hidden else "Comment shown.")
