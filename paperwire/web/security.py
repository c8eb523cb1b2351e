"""Who is asking and may they: sessions, CSRF, rate limits, sign-in redirects.

Why these choices:
- Sessions are signed cookies (itsdangerous) holding the user id and a per-user
  "session epoch"; bumping the epoch (sign out everywhere, password reset) voids old cookies
  without a sessions table.  Cookies are HttpOnly + SameSite=Lax (+ Secure behind https).
- CSRF is a signed double-submit token: a random seed in its own cookie, and a form field that
  is the seed signed with the server key.  A cross-site form cannot read the cookie nor forge
  the signature, so its post is refused (403).  Every form posts a hidden field
  ``<input type="hidden" name="csrf" value="...">`` (``{{ csrf_field(request) }}`` writes it).
- Rate limits are in-process sliding windows (per worker): cheap and enough for one small
  machine; per-user daily quotas that must hold across workers live in the database.

This module reads the app state that create_app sets up (settings, store, rate_limiter); the
routers get the same objects through the typed dependencies of deps.py.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
import time
from collections import deque

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from markupsafe import Markup

from paperwire.store import users

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
    return serializer(request, "csrf").dumps(_csrf_seed(request))


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
    user = None
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        try:
            data = serializer(request, "session").loads(raw, max_age=SESSION_MAX_AGE)
        except (BadSignature, SignatureExpired):
            data = None
        if isinstance(data, dict):
            u = users.get_user(request.app.state.store, int(data.get("uid", 0)))
            if u is not None and u.session_epoch == data.get("e"):
                user = u
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
    token = serializer(request, "session").dumps({"uid": user.id, "e": user.session_epoch})
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_MAX_AGE, httponly=True, samesite="lax",
                        secure=secure_cookies(request), path="/")


def logout(response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def safe_next(url: str | None, default: str = "/") -> str:
    """Only same-site relative paths are followed after sign-in (no open redirects)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default


# --- rate limits ---------------------------------------------------------------------------------

class RateLimiter:
    """Sliding-window counter per key; thread-safe; per process."""

    def __init__(self):
        self._hits: dict[tuple[str, str], deque] = {}
        self._lock = threading.Lock()

    def hit(self, name: str, key: str, limit: int, per_seconds: float, now: float | None = None) -> float:
        """Record a hit; return 0 if allowed, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._hits.setdefault((name, key), deque())
            while q and q[0] <= now - per_seconds:
                q.popleft()
            if len(q) >= limit:
                return max(0.1, q[0] + per_seconds - now)
            q.append(now)
            if len(self._hits) > 100_000:  # bound memory under a flood of distinct keys
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - per_seconds}
            return 0.0


def client_key(request: Request) -> str:
    user = current_user(request)
    if user is not None:
        return f"u{user.id}"
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and len(auth) < 300:
        # API clients are limited per token (checked for validity later, by the endpoint)
        return "t" + hashlib.sha256(auth[7:].strip().encode()).hexdigest()[:16]
    return "ip" + (request.client.host if request.client else "?")


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
