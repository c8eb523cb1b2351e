"""Typed dependencies: what a route needs from the app, declared in its signature.

create_app makes every shared object once and keeps it on app.state (settings, store, the
search engine, the page cache, the trending memo, the rate limiter); a route names what it
uses by type instead of reaching into app.state::

    @router.get("/papers/{pid}")
    def paper(pid: str, store: StoreDep, user: OptionalUser): ...

Users: ``OptionalUser`` (None when signed out), ``CurrentUser`` (signed in, else 401, which
the error handler turns into a sign-in redirect), ``AdminUser`` (else 403) and ``TokenUser``
(the owner of an API token sent as ``Authorization: Bearer``, else 401).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from paperwire.config import Settings
from paperwire.search.engine import SearchEngine
from paperwire.store import Store, users
from paperwire.web.queries import TrendingMemo
from paperwire.web.render import PageCache
from paperwire.web.security import current_user, require_admin, require_user


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_engine(request: Request) -> SearchEngine:
    return request.app.state.engine


def get_page_cache(request: Request) -> PageCache:
    return request.app.state.page_cache


def get_trending_memo(request: Request) -> TrendingMemo:
    # the memo's lists are keyed on the page cache's generation: bring it up to date first, so a
    # vote taken by another process or host drops them here too (one check per request)
    request.app.state.page_cache.sync(request.app.state.store, request)
    return request.app.state.trending_memo


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
EngineDep = Annotated[SearchEngine, Depends(get_engine)]
PageCacheDep = Annotated[PageCache, Depends(get_page_cache)]
TrendingMemoDep = Annotated[TrendingMemo, Depends(get_trending_memo)]

OptionalUser = Annotated[users.User | None, Depends(current_user)]
CurrentUser = Annotated[users.User, Depends(require_user)]
AdminUser = Annotated[users.User, Depends(require_admin)]

bearer = HTTPBearer(auto_error=False, description="An API token from `paperwire token create` or /settings/tokens.")


def token_user(store: StoreDep, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> users.User:
    """The owner of the bearer token; 401 without a valid one."""
    user = users.user_for_token(store, creds.credentials) if creds else None
    if user is None:
        raise HTTPException(401, "A valid API token is required (Authorization: Bearer <token>).",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


TokenUser = Annotated[users.User, Depends(token_user)]
