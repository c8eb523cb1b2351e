"""create_app(settings) -> the ASGI app: HTML pages, the JSON API, feeds and static files.

Every object the routes share is made here, once, and kept on app.state (deps.py hands them to
the routes); each router joins with one ``include_router`` line. Cross-cutting concerns live
in the small ASGI middleware below: security headers, a request body size limit, and the CSRF
seed cookie.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperwire.config import Settings
from paperwire.search.engine import SearchEngine
from paperwire.search.indexer import ArrivalEmbedder
from paperwire.store import open_store
from paperwire.web import api, apidocs, auth, feeds, foryou, openapi, pages, subscriptions
from paperwire.web.queries import TrendingMemo
from paperwire.web.render import PageCache, flash_redirect, render
from paperwire.web.security import CSRF_COOKIE, CSRF_MAX_AGE, RateLimiter, check_request_text

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"

# No inline scripts or styles anywhere, so the policy can be strict.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


# paths that take a file upload, and the body they may send: the file's limit
# (web.foryou.MAX_UPLOAD, 5 MB) plus room for the form's other fields
UPLOAD_LIMITS = {"/foryou/import": 5 * 1024 * 1024 + 64 * 1024}


class SecurityMiddleware:
    """Adds security headers, refuses oversized bodies (413), and sets the CSRF seed cookie."""

    def __init__(self, app, max_body: int, secure: bool):
        self.app, self.max_body, self.secure = app, max_body, secure

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        # uploads have their own, documented limit (the route checks the file itself)
        max_body = UPLOAD_LIMITS.get(scope.get("path", ""), self.max_body)
        if length is not None and (not length.isdigit() or int(length) > max_body):
            return await _too_large(scope, send, max_body)
        received = 0
        too_big = False

        async def limited_receive():
            nonlocal received, too_big
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    too_big = True
                    raise HTTPException(413, f"Request body larger than {max_body} bytes.")
            return message

        path = scope.get("path", "")
        state = scope.setdefault("state", {})
        # HEAD (uptime checks, link checkers) is answered as GET without the body
        head = scope.get("method") == "HEAD"
        if head:
            scope = dict(scope, method="GET")

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                h = list(message.get("headers", []))
                h += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                      (b"x-frame-options", b"DENY"), (b"referrer-policy", b"strict-origin-when-cross-origin")]
                seed = state.get("csrf_seed")
                if state.get("csrf_new") and seed:
                    cookie = f"{CSRF_COOKIE}={seed}; Max-Age={CSRF_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax"
                    if self.secure:
                        cookie += "; Secure"
                    h.append((b"set-cookie", cookie.encode()))
                if self.secure:
                    # behind https: browsers keep to https for a year, and every cookie (the
                    # flash message's too, whatever set it) is sent over https only
                    h = [(k, v + b"; Secure" if k == b"set-cookie" and b"secure" not in v.lower() else v)
                         for k, v in h]
                    h.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = h
            elif message["type"] == "http.response.body" and head:
                message = {"type": "http.response.body", "body": b"", "more_body": message.get("more_body", False)}
            await send(message)

        await self.app(scope, limited_receive, send_wrapper)


async def _too_large(scope, send, limit):
    body = (f'{{"error": "Request body larger than {limit} bytes."}}').encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.endswith(".json") or "application/json" in request.headers.get("accept", "")


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    tasks = [asyncio.create_task(_flush_views_every(app)), asyncio.create_task(_embed_arrivals_every(app))]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # a graceful stop (uvicorn's SIGTERM, a test client's exit) records the page views counted in
    # memory and sends the mails already handed over
    app.state.view_counter.flush_now(app.state.store)
    pool, app.state.mail_pool = app.state.mail_pool, _mail_pool()  # (an app can be started again)
    pool.shutdown(wait=True)


async def _flush_views_every(app: FastAPI) -> None:
    """Write the page views counted in memory once they are `every` seconds old, even when no
    further view comes to trigger it (a quiet night, the last view before a deploy): a process
    killed without a graceful stop loses at most settings.view_flush_seconds of views."""
    while True:
        counter = app.state.view_counter  # looked up each time: a test may swap it
        await asyncio.sleep(max(0.5, min(counter.every, 60.0)))
        if counter.counts and time.monotonic() - counter.last >= counter.every:
            await asyncio.to_thread(counter.flush_now, app.state.store)


async def _embed_arrivals_every(app: FastAPI, interval: float = 2.0) -> None:
    """Papers stored through any host are embedded by one serving process within seconds
    (paperwire.search.indexer.ArrivalEmbedder); a failed pass is logged and tried again."""
    limit = int(app.state.settings.serve_embed_max)
    if limit <= 0:
        return
    embedder = await asyncio.to_thread(ArrivalEmbedder, app.state.store, app.state.engine.vectors, limit)
    failures = 0
    while True:
        # after failures (no model installed, the database away) wait longer, up to a minute,
        # and log the first one in full, not one traceback every two seconds
        await asyncio.sleep(min(60.0, interval * 2 ** failures))
        try:
            await asyncio.to_thread(embedder.run_once)
            failures = 0
        except Exception as exc:
            if failures == 0:
                log.exception("embedding newly arrived papers failed; trying again later")
            else:
                log.debug("embedding newly arrived papers failed again: %s", exc)
            failures = min(failures + 1, 5)


def _mail_pool() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")


def create_app(settings: Settings | None = None, store=None) -> FastAPI:
    settings = settings or Settings.load()
    store = store or open_store(settings)
    app = FastAPI(title=f"{settings.site_name} API", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json", dependencies=[Depends(check_request_text)], lifespan=_lifespan,
                  description="Hugging Face-compatible papers API (`/api/daily_papers`, `/api/papers/...`) "
                              "plus paperwire's own `/api/v1/...`. Write endpoints take `Authorization: Bearer <token>` "
                              "(create one with `paperwire token create`).")
    _set_up_state(app, settings, store)
    openapi.install(app)
    _add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.mount(apidocs.ASSETS_URL, apidocs.assets(), name="apidocs")  # Swagger UI, served by us (no CDN)
    for router in (api.router, apidocs.router, feeds.router, auth.router, subscriptions.router, foryou.router):
        app.include_router(router)
    # the page routes last: /papers/{id:path} would otherwise shadow more specific routes
    app.include_router(pages.router)
    app.add_middleware(SecurityMiddleware, max_body=settings.max_body_bytes,
                       secure=settings.base_url.startswith("https://"))
    return app


def _set_up_state(app: FastAPI, settings: Settings, store) -> None:
    """Everything the routes share, made once per app (deps.py hands it to them)."""
    app.state.settings = settings
    app.state.store = store
    # one engine per process: creating it is cheap; the model and vector index load on first use
    app.state.engine = SearchEngine(store, settings)
    app.state.rate_limiter = RateLimiter(store)
    app.state.page_cache = PageCache()
    app.state.trending_memo = TrendingMemo(app.state.page_cache)
    app.state.view_counter = pages.ViewCounter(every=settings.view_flush_seconds)
    # similar papers on a paper page: at most this many seconds (0 turns them off), computed in
    # their own threads so a page never waits for the embedding model to load
    app.state.similar_timeout = 1.0
    app.state.similar_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="similar")
    # account mails (reset, sign-up notices) are sent here, after the answer (web.auth.send_later)
    app.state.mail_pool = _mail_pool()


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        headers = getattr(exc, "headers", None)
        if _wants_json(request):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=headers)
        if exc.status_code == 401:
            return flash_redirect("/signin?next=" + quote(request.url.path), "Sign in first.", notice=True)
        resp = render(request, "error.html", {"status": exc.status_code, "message": exc.detail,
                                               "title": _TITLES.get(exc.status_code, "Error")},
                      status_code=exc.status_code)
        if headers:
            resp.headers.update(headers)
        return resp

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors()]
        if _wants_json(request):
            # the reasons in the one "error" string too: clients show that field
            said = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in errors[:3])
            return JSONResponse({"error": f"invalid request: {said}", "details": errors}, status_code=422)
        msg = "; ".join(f"{'.'.join(str(x) for x in e['loc'][1:])}: {e['msg']}" for e in errors)
        return render(request, "error.html", {"status": 422, "message": msg, "title": "Invalid request"},
                      status_code=422)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        log.exception("error serving %s", request.url.path)
        if _wants_json(request):
            return JSONResponse({"error": "internal error"}, status_code=500)
        return render(request, "error.html", {"status": 500, "title": "Something went wrong",
                                               "message": "The error was logged; please try again later."},
                      status_code=500)


_TITLES = {400: "Bad request", 401: "Sign in first", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
           413: "Too large", 422: "Invalid request", 429: "Slow down"}


def app_from_env() -> FastAPI:
    """The app built from the environment/config file: what `paperwire serve` workers run."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(Settings.load())
    # load the query encoder and vector index in the background now, so the first searches of
    # a fresh worker do not fall back to words-only while they load (tests skip this)
    try:
        app.state.engine.warm()
    except Exception:  # search still works, just colder
        log.exception("could not warm the search engine")
    return app
