"""Accounts on the site: sign up, sign in, sign out, password reset, API tokens, moderation.

Password reset links are signed (itsdangerous) with the user's current password hash mixed
in, so a link stops working once used (the hash changes) and after an hour.  With SMTP
unconfigured the link is logged instead of mailed (development), so a self-hoster can still
recover an account.
"""

from __future__ import annotations

import hashlib
import logging
from urllib.parse import urlencode
from email.message import EmailMessage

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from itsdangerous import BadSignature, SignatureExpired

from paperwire.mailer import MailDisabled, MailError, send_message
from paperwire.store import users
from paperwire.web.deps import AdminUser, CurrentUser, PageCacheDep, SettingsDep, StoreDep
from paperwire.web.render import flash_redirect, render
from paperwire.web.security import login, logout, rate_limit, require_csrf, safe_next, serializer, verify_csrf

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
RESET_MAX_AGE = 3600


@router.get("/signup")
def signup_form(request: Request, next: str = ""):
    return render(request, "signup.html", {"title": "Sign up", "next": safe_next(next)})


@router.post("/signup", dependencies=[Depends(rate_limit("signup", 10, 3600))])
def signup(request: Request, store: StoreDep, settings: SettingsDep, csrf: str = Form(""), email: str = Form("", max_length=300),
           username: str = Form("", max_length=100), password: str = Form("", max_length=1024), next: str = Form("")):
    verify_csrf(request, csrf)
    try:
        user = users.create_user(store, email, username, password)
    except users.EmailTaken:
        # The page must not tell a stranger which addresses have accounts: it answers as for a new
        # account that still has to be opened from the mail, and the owner is told by mail.
        owner = users.get_user_by_email(store, email)
        if owner is not None:
            send_later(request, settings, owner.email, f"Your {settings.site_name} account",
                                f"Someone (hopefully you) tried to sign up with this address, which already has "
                                f"the account {owner.username}.\n\nSign in: {settings.base_url.rstrip('/')}/signin\n"
                                f"Forgot the password? {settings.base_url.rstrip('/')}/reset\n\n"
                                "If it was not you, ignore this message; nothing changes.")
        return _signup_answer(next)
    except users.AccountError as exc:
        return render(request, "signup.html", {"title": "Sign up", "error": str(exc), "email": email,
                                               "username": username, "next": safe_next(next)}, status_code=400)
    send_later(request, settings, user.email, f"Welcome to {settings.site_name}",
                        f"Your account {user.username} is ready: sign in at "
                        f"{settings.base_url.rstrip('/')}/signin\n\nIf it was not you, reply to this message.")
    return _signup_answer(next)


def _signup_answer(next: str):
    """The one answer to a sign-up, new address or not: the new account is not signed in on the
    spot (that would tell the two apart); its owner signs in with the password just chosen."""
    return flash_redirect("/signin?" + urlencode({"next": safe_next(next)}),
                          "Sign in with your new password. If the address already had an account, its owner "
                          "got an e-mail instead.")


@router.get("/signin")
def signin_form(request: Request, next: str = ""):
    return render(request, "signin.html", {"title": "Sign in", "next": safe_next(next)})


@router.post("/signin", dependencies=[Depends(rate_limit("signin", 20, 600))])
def signin(request: Request, store: StoreDep, csrf: str = Form(""), email: str = Form("", max_length=300),
           password: str = Form("", max_length=1024), next: str = Form("")):
    verify_csrf(request, csrf)
    user = users.authenticate(store, email, password)
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
    logout(resp, request)
    return resp


@router.post("/signout/everywhere", dependencies=[Depends(require_csrf)])
def signout_everywhere(request: Request, store: StoreDep, user: CurrentUser):
    """Every session of the account ends (other browsers, a forgotten public computer)."""
    users.bump_session_epoch(store, user.id)
    resp = flash_redirect("/", "Signed out on every device.")
    logout(resp, request)
    return resp


# --- password reset ------------------------------------------------------------------------------

def _pw_fingerprint(user) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def reset_link(request: Request, settings, user) -> str:
    token = serializer(request, "reset").dumps({"uid": user.id, "pw": _pw_fingerprint(user)})
    return settings.base_url.rstrip("/") + "/reset/" + token


def send_mail(settings, to: str, subject: str, text: str) -> bool:
    """Send through paperwire.mailer; with e-mail off, log the message (development) so a
    self-hoster can still follow the link. True when it was handed to SMTP."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.mail_from, to, subject
    msg.set_content(text)
    try:
        send_message(settings, msg)
        return True
    except MailDisabled:
        log.warning("e-mail is off; message to %s: %s\n%s", to, subject, text)
    except MailError as exc:
        log.error("could not send e-mail to %s: %s", to, exc)
    return False


def send_later(request: Request, settings, to: str, subject: str, text: str) -> None:
    """Hand a mail to the app's small mail pool and return at once: the answer (and its timing)
    never depends on whether a mail was sent, and an unresponsive mail server holds a pool
    thread, not a request or the server's request threads."""
    request.app.state.mail_pool.submit(send_mail, settings, to, subject, text)


@router.get("/reset")
def reset_request_form(request: Request):
    return render(request, "reset_request.html", {"title": "Reset your password"})


@router.post("/reset", dependencies=[Depends(rate_limit("reset", 5, 3600))])
def reset_request(request: Request, store: StoreDep, settings: SettingsDep, csrf: str = Form(""), email: str = Form("", max_length=300)):
    verify_csrf(request, csrf)
    user = users.get_user_by_email(store, email)
    if user is not None:
        link = reset_link(request, settings, user)
        # sent after the answer, like the subscription mails: the answer and its timing are the
        # same whether or not the address has an account, and a slow mail server stalls no one
        send_later(request, settings, user.email, f"Reset your {settings.site_name} password",
                            f"Someone (hopefully you) asked to reset the password of {user.username}.\n\n"
                            f"Open this link within an hour to choose a new one:\n{link}\n\n"
                            "If it was not you, ignore this message; nothing changes.")
    return flash_redirect("/signin", "If that address has an account, a reset link is on its way.")


def _reset_user(request: Request, store, token: str):
    try:
        data = serializer(request, "reset").loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired:
        raise HTTPException(400, "This reset link has expired; ask for a new one.")
    except BadSignature:
        raise HTTPException(400, "This reset link is not valid.")
    user = users.get_user(store, int(data.get("uid", 0))) if isinstance(data, dict) else None
    if user is None or data.get("pw") != _pw_fingerprint(user):
        raise HTTPException(400, "This reset link was already used; ask for a new one.")
    return user


@router.get("/reset/{token}")
def reset_form(request: Request, token: str, store: StoreDep):
    user = _reset_user(request, store, token)
    return render(request, "reset.html", {"title": "Choose a new password", "token": token, "who": user.username})


@router.post("/reset/{token}")
def reset(request: Request, token: str, store: StoreDep, csrf: str = Form(""),
          password: str = Form("", max_length=1024)):
    verify_csrf(request, csrf)
    user = _reset_user(request, store, token)
    try:
        user = users.set_password(store, user.id, password)
    except users.AccountError as exc:
        return render(request, "reset.html", {"title": "Choose a new password", "token": token, "who": user.username,
                                              "error": str(exc)}, status_code=400)
    resp = flash_redirect("/", "Password changed; you are signed in.")
    login(resp, request, user)
    return resp


# --- API tokens ----------------------------------------------------------------------------------

def _tokens_page(request: Request, store, user, new_token: str | None = None, status_code: int = 200):
    return render(request, "tokens.html", {"title": "API tokens", "new_token": new_token, "who": user.username,
                                           "tokens": users.list_tokens(store, user.id),
                                           "sessions": users.count_sessions(store, user.id)},
                  status_code=status_code)


@router.get("/settings/tokens")
def tokens_page(request: Request, store: StoreDep, user: CurrentUser):
    return _tokens_page(request, store, user)


# The CSRF check comes before the sign-in check: a forged post is refused whoever is signed in.
@router.post("/settings/tokens", dependencies=[Depends(rate_limit("token", 10, 3600)), Depends(require_csrf)])
def tokens_create(request: Request, store: StoreDep, user: CurrentUser, name: str = Form("", max_length=100)):
    return _tokens_page(request, store, user, users.create_token(store, user.id, name))


@router.post("/settings/tokens/{token_id}/revoke", dependencies=[Depends(require_csrf)])
def tokens_revoke(request: Request, token_id: int, store: StoreDep, user: CurrentUser):
    if not users.revoke_token(store, user.id, token_id):
        raise HTTPException(404, "You have no such token.")
    return flash_redirect("/settings/tokens", "Token revoked.")


# --- moderation ----------------------------------------------------------------------------------

@router.post("/admin/papers/{arxiv_id:path}/hide", dependencies=[Depends(require_csrf)])
def hide_paper(arxiv_id: str, store: StoreDep, page_cache: PageCacheDep, admin: AdminUser, hidden: int = Form(1)):
    if not users.set_paper_hidden(store, arxiv_id, bool(hidden)):
        raise HTTPException(404, f"No paper {arxiv_id}.")
    page_cache.bump()
    return flash_redirect(f"/papers/{arxiv_id}", "Paper hidden." if hidden else "Paper shown again.")


@router.post("/admin/comments/{comment_id}/hide", dependencies=[Depends(require_csrf)])
def hide_comment(comment_id: int, store: StoreDep, page_cache: PageCacheDep, admin: AdminUser, hidden: int = Form(1)):
    c = users.get_comment(store, comment_id)
    if c is None:
        raise HTTPException(404, "No such comment.")
    users.set_comment_hidden(store, comment_id, bool(hidden))
    page_cache.bump()
    return flash_redirect(f"/papers/{c.paper_id}#c{comment_id}", "Comment hidden." if hidden else "Comment shown.")
