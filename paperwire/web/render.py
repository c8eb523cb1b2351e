"""Rendering web pages: the one template environment, the shared context, the page cache,
one-time flash messages, and the comment renderer (a template filter).

Templates extend "base.html" and put their body in ``{% block content %}``; every template
gets ``request``, ``settings``, ``site_name``, ``user``, ``flash``, ``csrf_token`` and
``csrf_field``.  A router renders with ``render(request, "name.html", {...})``, or with
``cached_render`` when the context is costly and the page is the same for every anonymous
visitor.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from paperwire.store import shared_state
from paperwire.validate import http_url
from paperwire.text import tex_to_text
from paperwire.web.mathml import tex_html
from paperwire.web.security import CSRF_SENTINEL, csrf_field, csrf_token, current_user

TEMPLATE_DIR = Path(__file__).parent / "templates"
FLASH_COOKIE = "pw_flash"
NOTICE_MARK = "!"  # a flash cookie starting with it is a notice, not a success

# autoescape everything (not only *.html): a template can never emit user text unescaped
env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True,
                         trim_blocks=True, lstrip_blocks=True, auto_reload=False)


# --- rendering -----------------------------------------------------------------------------------

class PageCache:
    """Rendered HTML for anonymous visitors, for a few seconds. Writes call `bump()` to drop it all.

    Stale-while-revalidate: once an entry expires, ONE request rebuilds it while the others
    keep getting the previous copy (for up to `stale_grace` seconds), so an expiry under load
    does not make every concurrent request rebuild the same page.

    Across processes and hosts: `sync()` compares the database's data_version once per request
    (paperwire.store.shared_state: a counter the triggers on votes, comments, submissions and
    moderation bump, and the newest paper's search id, whoever wrote them) and drops everything
    when it moved."""

    def __init__(self, max_items: int = 2000, stale_grace: float = 30.0):
        self._items: dict[str, tuple[float, int, str]] = {}
        self._rebuilding: set[str] = set()
        self._lock = threading.Lock()
        self.generation = 0
        self.version: tuple | None = None
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

    def put(self, key: str, html: str, generation: int | None = None) -> None:
        """Keep `html`; with `generation` (self.generation when its rendering began) only if no
        write dropped the cache meanwhile: a page built from data read before a vote must not be
        kept as if it were newer."""
        with self._lock:
            self._rebuilding.discard(key)
            if generation is not None and generation != self.generation:
                return
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

    def sync(self, store, request: Request | None = None) -> int:
        """Drop everything when the database's data_version moved since this process last
        looked (a vote taken by another worker or host): a page never shows an older count than
        the database holds. Looked up once per request (kept on `request.state`); returns the
        generation the request's rendering starts from."""
        if request is not None and getattr(request.state, "page_cache_generation", None) is not None:
            return request.state.page_cache_generation
        version = shared_state.data_version(store)
        with self._lock:
            seen, self.version = self.version, version
        if seen is not None and seen != version:
            self.bump()
        generation = self.generation
        if request is not None:
            request.state.page_cache_generation = generation
        return generation


def base_context(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    return {"request": request, "settings": settings, "site_name": settings.site_name,
            "user": current_user(request), "csrf_token": csrf_token, "csrf_field": csrf_field}


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200,
           cache_seconds: float = 0) -> HTMLResponse:
    """Render a template with the shared context. With cache_seconds, anonymous GETs are served
    from the page cache (the CSRF token is swapped in per visitor)."""
    ctx = base_context(request)
    flash = request.cookies.get(FLASH_COOKIE)
    ctx["flash_notice"] = bool(flash and flash.startswith(NOTICE_MARK))
    ctx["flash"] = flash[len(NOTICE_MARK):] if ctx["flash_notice"] else flash
    ctx.update(context or {})
    # a page carrying a one-time message is personal: never cached
    cacheable = (cache_seconds > 0 and request.method == "GET" and ctx["user"] is None and status_code == 200
                 and not flash)
    if cacheable:
        cache: PageCache = request.app.state.page_cache
        generation = cache.sync(request.app.state.store, request)
        key = str(request.url.path) + "?" + str(request.url.query)
        missed = getattr(request.state, "page_cache_miss", None) == key
        html = None if missed else cache.get(key, cache_seconds)
        if html is None:
            request.state.render_for_cache = True
            try:
                html = env.get_template(name).render(ctx)
            except BaseException:
                cache.abandon(key)
                raise
            finally:
                request.state.render_for_cache = False
            cache.put(key, html, generation)
        return HTMLResponse(html.replace(CSRF_SENTINEL, csrf_token(request)), status_code=status_code)
    resp = HTMLResponse(env.get_template(name).render(ctx), status_code=status_code)
    if flash:
        resp.delete_cookie(FLASH_COOKIE)
    return resp


def cached_render(request: Request, name: str, build, cache_seconds: float = 5) -> HTMLResponse:
    """Like render(), but `build()` (which computes the context) only runs on a cache miss."""
    if cache_seconds > 0 and request.method == "GET" and current_user(request) is None \
            and not request.cookies.get(FLASH_COOKIE):
        cache: PageCache = request.app.state.page_cache
        cache.sync(request.app.state.store, request)
        key = str(request.url.path) + "?" + str(request.url.query)
        html = cache.get(key, cache_seconds)
        if html is not None:
            return HTMLResponse(html.replace(CSRF_SENTINEL, csrf_token(request)))
        try:
            ctx = build()
        except BaseException:
            cache.abandon(key)  # e.g. a 404: let the next request try again
            raise
        # render() looks the key up again; mark it fresh-missing so it renders and stores
        request.state.page_cache_miss = key
        return render(request, name, ctx, cache_seconds=cache_seconds)
    return render(request, name, build(), cache_seconds=cache_seconds)


def flash_redirect(url: str, message: str | None = None, notice: bool = False) -> RedirectResponse:
    """303 redirect after a form post (post/redirect/get); `message` shows once on the next page,
    styled as something to act on ('Sign in first.') with `notice`, else as a success."""
    resp = RedirectResponse(url, status_code=303)
    if message:
        message = NOTICE_MARK + message if notice else message
        resp.set_cookie(FLASH_COOKIE, message[:200].replace(";", ","), max_age=60, httponly=True, samesite="lax")
    return resp


# --- comments: Markdown, safely ------------------------------------------------------------------

def _comment_markdown() -> MarkdownIt:
    """CommonMark (markdown-it-py) in a safe configuration: raw HTML is shown as text, never
    passed through; images and headings are off (a comment is prose); only absolute http(s)
    URLs become links, marked nofollow/ugc.  The parser works on a token tree, so no character
    a comment can contain is special to the renderer (no in-band placeholders)."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True, "typographer": False})
    md.enable(["linkify"]).disable(["image", "heading", "lheading", "html_block", "html_inline"])
    md.validateLink = lambda url: http_url(url) is not None
    default_open = md.renderer.rules.get("link_open")

    def link_open(renderer, tokens, idx, options, env):
        tokens[idx].attrSet("rel", "nofollow noopener ugc")
        if default_open:
            return default_open(tokens, idx, options, env)
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


_MD = _comment_markdown()


def mdlite(text: str) -> Markup:
    """A comment's Markdown as HTML: emphasis, code, lists, quotes, links (see _comment_markdown)."""
    return Markup(_MD.render(str(text or "")))


env.filters["mdlite"] = mdlite
# titles and abstracts: formulas as MathML and TeX commands read, or (in <title>) as plain text
env.filters["tex"] = tex_html
env.filters["textonly"] = tex_to_text
