"""Pieces every HTML router shares: templates, sessions, CSRF, rate limits, page cache.

Other routers (web_digest.py, web_foryou.py, ...) use them like this::

    from fastapi import APIRouter, Depends, Form, Request
    from paperwire.web.render import (templates, render, csrf_token, verify_csrf, require_csrf,
                                      current_user, require_user, rate_limit, flash_redirect)

    router = APIRouter()

    @router.get("/subscribe")
    def page(request: Request):
        # templates extend "base.html" and put their body in {% block content %};
        # "csrf_token(request)" and "user" are available in every template.
        return render(request, "digest/subscribe.html", {"title": "Subscribe"})

    @router.post("/subscribe", dependencies=[Depends(rate_limit("subscribe", 10, 3600))])
    def subscribe(request: Request, email: str = Form(...), csrf: str = Form("")):
        verify_csrf(request, csrf)          # raises HTTPException(403) on a forged post
        user = current_user(request)        # a users.User or None
        ...

Every form posts a hidden field ``<input type="hidden" name="csrf" value="{{ csrf_token(request) }}">``
(the macro ``{{ csrf_field(request) }}`` in base.html writes it).  The app object keeps the
Store on ``request.app.state.store`` and the Settings on ``request.app.state.settings``.

Why these choices:
- Sessions are signed cookies (itsdangerous) holding the user id and a per-user
  "session epoch"; bumping the epoch (sign out everywhere, password reset) voids old cookies
  without a sessions table.  Cookies are HttpOnly + SameSite=Lax (+ Secure behind https).
- CSRF is a signed double-submit token: a random seed in its own cookie, and a form field that
  is the seed signed with the server key.  A cross-site form cannot read the cookie nor forge
  the signature, so its post is refused (403).
- Rate limits are in-process sliding windows (per worker): cheap and enough for one small
  machine; per-user daily quotas that must hold across workers live in the database.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import jinja2
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from markupsafe import Markup

TEMPLATE_DIR = Path(__file__).parent / "templates"
SESSION_COOKIE = "pw_session"
CSRF_COOKIE = "pw_csrf"
SESSION_MAX_AGE = 30 * 24 * 3600
CSRF_MAX_AGE = 24 * 3600
# Placeholder rendered into cached pages and replaced with the visitor's own token on the way out.
_CSRF_SENTINEL = "__PW_CSRF_TOKEN__"

# autoescape everything (not only *.html): a template can never emit user text unescaped
env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True,
                         trim_blocks=True, lstrip_blocks=True, auto_reload=False)
templates = Jinja2Templates(env=env)


# --- serializers ---------------------------------------------------------------------------------

def serializer(request_or_app, salt: str) -> URLSafeTimedSerializer:
    """A signer with the app's secret; `salt` separates uses (session, csrf, reset, ...)."""
    app = getattr(request_or_app, "app", request_or_app)
    cache = app.state.__dict__.setdefault("_serializers", {})
    s = cache.get(salt)
    if s is None:
        s = cache[salt] = URLSafeTimedSerializer(app.state.settings.signing_key, salt=salt)
    return s


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
        return _CSRF_SENTINEL
    return serializer(request, "csrf").dumps(_csrf_seed(request))


def csrf_field(request: Request) -> Markup:
    return Markup('<input type="hidden" name="csrf" value="%s">') % csrf_token(request)


def verify_csrf(request: Request, token: str | None) -> None:
    """Raise 403 unless `token` is this visitor's signed CSRF seed."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not token or not cookie:
        raise HTTPException(403, "This form has expired or was not sent from this site; reload the page and try again.")
    try:
        seed = serializer(request, "csrf").loads(token, max_age=CSRF_MAX_AGE)
    except (BadSignature, SignatureExpired):
        raise HTTPException(403, "This form has expired or was not sent from this site; reload the page and try again.")
    if not secrets.compare_digest(str(seed), cookie):
        raise HTTPException(403, "This form was not sent from this site; reload the page and try again.")


async def require_csrf(request: Request) -> None:
    """Dependency form of verify_csrf: reads the `csrf` field of a form post."""
    form = await request.form()
    verify_csrf(request, form.get("csrf"))


# --- sessions ------------------------------------------------------------------------------------

def current_user(request: Request):
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
            from paperwire.store import users

            u = users.get_user(request.app.state.store, int(data.get("uid", 0)))
            if u is not None and u.session_epoch == data.get("e"):
                user = u
    request.state.user = user
    return user


def require_user(request: Request):
    """Dependency: the signed-in user, or a 401 that the error handler turns into a sign-in link."""
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "Sign in first.")
    return user


def require_admin(request: Request):
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
        import hashlib

        return "t" + hashlib.sha256(auth[7:].strip().encode()).hexdigest()[:16]
    return "ip" + (request.client.host if request.client else "?")


def rate_limit(name: str, limit: int, per_seconds: float):
    """Dependency factory: at most `limit` requests per `per_seconds` per user (or IP) -> else 429."""

    def dependency(request: Request) -> None:
        settings = request.app.state.settings
        factor = getattr(settings, "rate_limit_factor", 1.0)
        if factor <= 0:
            return
        limiter: RateLimiter = request.app.state.rate_limiter
        wait = limiter.hit(name, client_key(request), max(1, int(limit * factor)), per_seconds)
        if wait:
            raise HTTPException(429, f"Too many requests; try again in {int(wait) + 1} s.",
                                headers={"Retry-After": str(int(wait) + 1)})

    return dependency


# --- rendering -----------------------------------------------------------------------------------

class PageCache:
    """Rendered HTML for anonymous visitors, for a few seconds. Writes call `bump()` to drop it all.

    Stale-while-revalidate: once an entry expires, ONE request rebuilds it while the others
    keep getting the previous copy (for up to `stale_grace` seconds), so an expiry under load
    does not make every concurrent request rebuild the same page."""

    def __init__(self, max_items: int = 2000, stale_grace: float = 30.0):
        self._items: dict[str, tuple[float, int, str]] = {}
        self._rebuilding: set[str] = set()
        self._lock = threading.Lock()
        self.generation = 0
        self.max_items = max_items
        self.stale_grace = stale_grace

    def get(self, key: str, ttl: float) -> str | None:
        item = self._items.get(key)
        if not item or item[1] != self.generation:
            return None
        age = time.monotonic() - item[0]
        if age < ttl:
            return item[2]
        with self._lock:
            if key in self._rebuilding and age < ttl + self.stale_grace:
                return item[2]  # someone is rebuilding it: serve the previous copy meanwhile
            self._rebuilding.add(key)
        return None

    def put(self, key: str, html: str) -> None:
        with self._lock:
            self._rebuilding.discard(key)
            if len(self._items) >= self.max_items:
                self._items.clear()
            self._items[key] = (time.monotonic(), self.generation, html)

    def abandon(self, key: str) -> None:
        with self._lock:
            self._rebuilding.discard(key)

    def bump(self) -> None:
        with self._lock:
            self.generation += 1
            self._items.clear()
            self._rebuilding.clear()


def base_context(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    return {"request": request, "settings": settings, "site_name": settings.site_name,
            "user": current_user(request), "csrf_token": csrf_token, "csrf_field": csrf_field}


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200,
           cache_seconds: float = 0) -> HTMLResponse:
    """Render a template with the shared context. With cache_seconds, anonymous GETs are served
    from the page cache (the CSRF token is swapped in per visitor)."""
    ctx = base_context(request)
    flash = request.cookies.get("pw_flash")
    ctx["flash"] = flash
    ctx.update(context or {})
    # a page carrying a one-time message is personal: never cached
    cacheable = (cache_seconds > 0 and request.method == "GET" and ctx["user"] is None and status_code == 200
                 and not flash)
    if cacheable:
        cache: PageCache = request.app.state.page_cache
        key = str(request.url.path) + "?" + str(request.url.query)
        missed = getattr(request.state, "page_cache_miss", None) == key
        html = None if missed else cache.get(key, cache_seconds)
        if html is None:
            request.state.render_for_cache = True
            try:
                html = templates.get_template(name).render(ctx)
            except BaseException:
                cache.abandon(key)
                raise
            finally:
                request.state.render_for_cache = False
            cache.put(key, html)
        return HTMLResponse(html.replace(_CSRF_SENTINEL, csrf_token(request)), status_code=status_code)
    resp = HTMLResponse(templates.get_template(name).render(ctx), status_code=status_code)
    if flash:
        resp.delete_cookie("pw_flash")
    return resp


def cached_render(request: Request, name: str, build, cache_seconds: float = 5) -> HTMLResponse:
    """Like render(), but `build()` (which computes the context) only runs on a cache miss."""
    if cache_seconds > 0 and request.method == "GET" and current_user(request) is None \
            and not request.cookies.get("pw_flash"):
        cache: PageCache = request.app.state.page_cache
        key = str(request.url.path) + "?" + str(request.url.query)
        html = cache.get(key, cache_seconds)
        if html is not None:
            return HTMLResponse(html.replace(_CSRF_SENTINEL, csrf_token(request)))
        try:
            ctx = build()
        except BaseException:
            cache.abandon(key)  # e.g. a 404: let the next request try again
            raise
        # render() looks the key up again; mark it fresh-missing so it renders and stores
        request.state.page_cache_miss = key
        return render(request, name, ctx, cache_seconds=cache_seconds)
    return render(request, name, build(), cache_seconds=cache_seconds)


def flash_redirect(url: str, message: str | None = None) -> RedirectResponse:
    """303 redirect after a form post (post/redirect/get); `message` shows once on the next page."""
    resp = RedirectResponse(url, status_code=303)
    if message:
        resp.set_cookie("pw_flash", message[:200].replace(";", ","), max_age=60, httponly=True, samesite="lax")
    return resp


def safe_next(url: str | None, default: str = "/") -> str:
    """Only same-site relative paths are followed after sign-in (no open redirects)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default


# --- markdown-lite for comments ------------------------------------------------------------------

import re as _re

from markupsafe import escape as _escape

_URL = _re.compile(r"(https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]])")
_CODE = _re.compile(r"`([^`\n]{1,500})`")
_BOLD = _re.compile(r"\*\*([^*\n]{1,500})\*\*")
_EM = _re.compile(r"(?<![*\w])\*([^*\n]{1,500})\*(?![*\w])")


def mdlite(text: str) -> Markup:
    """Comments as paragraphs with *em*, **strong**, `code` and bare links.
    The text is HTML-escaped FIRST, so nothing typed can become markup; only the tags
    added here exist in the output."""
    out = []
    for para in _re.split(r"\n\s*\n", str(text or "").strip()):
        s = str(_escape(para))
        codes: list[str] = []

        def keep(m):
            codes.append(m.group(1))
            return f"\x00{len(codes) - 1}\x00"

        s = _CODE.sub(keep, s)
        s = _URL.sub(lambda m: f'<a href="{m.group(1)}" rel="nofollow noopener ugc">{m.group(1)}</a>', s)
        s = _BOLD.sub(r"<strong>\1</strong>", s)
        s = _EM.sub(r"<em>\1</em>", s)
        s = _re.sub(r"\x00(\d+)\x00", lambda m: f"<code>{codes[int(m.group(1))]}</code>", s)
        out.append("<p>" + s.replace("\n", "<br>") + "</p>")
    return Markup("\n".join(out))


env.filters["mdlite"] = mdlite
