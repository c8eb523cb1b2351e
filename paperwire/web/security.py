"""Who is asking and may they: sessions, CSRF, rate limits, sign-in redirects.

Why these choices:
- Sessions live on the server (store.users: a ``sessions`` row per sign-in, the cookie holds a
  random id whose hash is the row's key): signing out deletes the row, "sign out everywhere"
  and a password change delete all of the user's rows, so a copied cookie dies with them.
  Cookies are HttpOnly + SameSite=Lax (+ Secure behind https).
- CSRF is a signed double-submit token: a random seed in its own cookie, and a form field that
  is the seed signed with the server key.  A cross-site form cannot read the cookie nor forge
  the signature, so its post is refused (403).  Every form posts a hidden field
  ``<input type="hidden" name="csrf" value="...">`` (``{{ csrf_field(request) }}`` writes it).
- Rate limits are sliding windows counted in the database (paperwire.store.shared_state), so a
  limit holds across every worker process and app host: two hosts behind a proxy do not give
  a client twice the allowance.  A request counts against its verified user (session or
  checked API token), else its client address: nothing the client merely claims picks the
  bucket.
- Nothing about who is signed in is remembered in a process: every request looks its session
  (or API token) up in the database, so signing out, "sign out everywhere" and revoking a
  token take effect on every host with the next request.

This module reads the app state that create_app sets up (settings, store, rate_limiter); the
routers get the same objects through the typed dependencies of deps.py.
"""

from __future__ import annotations

import functools
import json
import secrets

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from markupsafe import Markup

from paperwire.store import shared_state, users
from paperwire.validate import find_problem, text_problem

SESSION_COOKIE = "pw_session"
CSRF_COOKIE = "pw_csrf"
SESSION_MAX_AGE = 30 * 24 * 3600
CSRF_MAX_AGE = 24 * 3600
# Placeholder rendered into cached pages and replaced with the visitor's own token on the way out.
CSRF_SENTINEL = "__PW_CSRF_TOKEN__"
_FORGED = "This form has expired or was not sent from this site; reload the page and try again."


# --- signers -------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _signer(key: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=salt)


def serializer(request_or_app, salt: str) -> URLSafeTimedSerializer:
    """A signer with the app's secret; `salt` separates uses (session, csrf, reset, ...)."""
    app = getattr(request_or_app, "app", request_or_app)
    return _signer(app.state.settings.signing_key, salt)


def secure_cookies(request: Request) -> bool:
    return request.app.state.settings.base_url.startswith("https://")


# --- CSRF ----------------------------------------------------------------------------------------

def _csrf_seed(request: Request) -> str:
    seed = getattr(request.state, "csrf_seed", None)
    if seed is None:
        seed = request.cookies.get(CSRF_COOKIE) or ""
        if len(seed) != 32 or not seed.isalnum():
            # new visitor: a fresh seed, set as a cookie by the middleware in app.py
            seed = secrets.token_hex(16)
            request.state.csrf_new = True
        request.state.csrf_seed = seed
    return seed


def csrf_token(request: Request) -> str:
    if getattr(request.state, "render_for_cache", False):
        return CSRF_SENTINEL
    # one token per response: a list page has a form on every card, and each token is a signature
    token = getattr(request.state, "csrf_token", None)
    if token is None:
        token = request.state.csrf_token = serializer(request, "csrf").dumps(_csrf_seed(request))
    return token


def csrf_field(request: Request) -> Markup:
    return Markup('<input type="hidden" name="csrf" value="%s">') % csrf_token(request)


def verify_csrf(request: Request, token: str | None) -> None:
    """Raise 403 unless `token` is this visitor's signed CSRF seed."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not token or not cookie:
        raise HTTPException(403, _FORGED)
    try:
        seed = serializer(request, "csrf").loads(token, max_age=CSRF_MAX_AGE)
    except (BadSignature, SignatureExpired):
        raise HTTPException(403, _FORGED)
    if not secrets.compare_digest(str(seed), cookie):
        raise HTTPException(403, "This form was not sent from this site; reload the page and try again.")


async def require_csrf(request: Request) -> None:
    """verify_csrf as a route dependency, listed before a signed-in user is required, so a
    forged post is refused (403) before anything else is looked at."""
    form = await request.form()
    verify_csrf(request, form.get("csrf"))


# --- sessions ------------------------------------------------------------------------------------

def current_user(request: Request) -> users.User | None:
    """The signed-in users.User, or None. Cached on the request."""
    if "user" in request.state.__dict__:
        return request.state.user
    raw = request.cookies.get(SESSION_COOKIE)
    user = users.session_user(request.app.state.store, raw) if raw else None
    request.state.user = user
    return user


def require_user(request: Request) -> users.User:
    """The signed-in user, or a 401 that the error handler turns into a sign-in link."""
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "Sign in first.")
    return user


def require_admin(request: Request) -> users.User:
    user = require_user(request)
    if not user.is_admin:
        raise HTTPException(403, "Administrators only.")
    return user


def login(response, request: Request, user) -> None:
    """Start a server-side session (store.users.create_session) and set its cookie."""
    sid = users.create_session(request.app.state.store, user.id, days=SESSION_MAX_AGE / 86400)
    response.set_cookie(SESSION_COOKIE, sid, max_age=SESSION_MAX_AGE, httponly=True, samesite="lax",
                        secure=secure_cookies(request), path="/")


def logout(response, request: Request) -> None:
    """End this session on the server (the cookie is then worthless, wherever it was copied)."""
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        users.end_session(request.app.state.store, raw)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure_cookies(request), httponly=True, samesite="lax")


def safe_next(url: str | None, default: str = "/") -> str:
    """Only same-site relative paths are followed after sign-in (no open redirects)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default


# --- rate limits ---------------------------------------------------------------------------------

class RateLimiter:
    """Sliding-window counters in the database, shared by every process and host (one atomic
    upsert per hit: paperwire.store.shared_state.rate_hit)."""

    def __init__(self, store):
        self.store = store

    def hit(self, name: str, key: str, limit: int, per_seconds: float, now: float | None = None) -> float:
        """Record a hit; return 0 if allowed, else the seconds to wait."""
        return shared_state.rate_hit(self.store, f"{name}:{key}", limit, per_seconds, now)


def client_key(request: Request) -> str:
    """The bucket a request counts against: a verified identity (the session's user, or the owner
    of a bearer token that was checked against the store), else the client address.  An
    unverified header never picks the bucket: a made-up bearer per request would otherwise get
    a fresh allowance each time.  The address is the one the ASGI server reports; behind a
    reverse proxy the server rewrites it from X-Forwarded-For only for connections from the
    proxies it trusts (uvicorn --forwarded-allow-ips, docs/security.md)."""
    user = current_user(request) or bearer_user(request)
    if user is not None:
        return f"u{user.id}"
    return "ip" + (request.client.host if request.client else "?")


def bearer_user(request: Request) -> users.User | None:
    """The owner of a valid ``Authorization: Bearer`` token, or None. Cached on the request."""
    if "token_user" in request.state.__dict__:
        return request.state.token_user
    auth = request.headers.get("authorization", "")
    user = None
    if auth[:7].lower() == "bearer " and len(auth) < 300:
        user = users.user_for_token(request.app.state.store, auth[7:].strip())
    request.state.token_user = user
    return user


def rate_limit(name: str, limit: int, per_seconds: float):
    """Dependency factory: at most `limit` requests per `per_seconds` per user (or IP) -> else 429."""

    def dependency(request: Request) -> None:
        factor = request.app.state.settings.rate_limit_factor
        if factor <= 0:
            return
        limiter: RateLimiter = request.app.state.rate_limiter
        wait = limiter.hit(name, client_key(request), max(1, int(limit * factor)), per_seconds)
        if wait:
            raise HTTPException(429, f"Too many requests; try again in {int(wait) + 1} s.",
                                headers={"Retry-After": str(int(wait) + 1)})

    return dependency


# --- text at the door ----------------------------------------------------------------------------

_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


async def check_request_text(request: Request) -> None:
    """App-wide dependency: the path, the query, a JSON body and a form are checked with the one
    text rule (paperwire.validate) before any route sees them, so a lone surrogate or a character
    XML forbids is refused with a 400 naming the field instead of being stored and failing later
    (a page, a feed, everyone's digest)."""
    problem = _first_problem("path", [("path", request.scope.get("path", ""))])
    problem = problem or _first_problem("query", request.query_params.multi_items())
    if not problem and request.method in _BODY_METHODS:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json" or ctype.endswith("+json"):
            try:
                data = json.loads(await request.body())
            except (ValueError, RecursionError):
                data = None  # not JSON: FastAPI's own validation answers
            problem = find_problem(data)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            fields = [(k, v if isinstance(v, str) else getattr(v, "filename", "") or "") for k, v in form.multi_items()]
            problem = _first_problem("form", fields)
    if problem:
        raise HTTPException(400, f"Refused: {problem}.")


def _first_problem(where: str, items) -> str | None:
    for key, value in items:
        for text in (key, value):
            problem = text_problem(text) if isinstance(text, str) else None
            if problem:
                return f"{where} field {key!r}: {problem}" if text is value else f"{where} field name: {problem}"
    return None
