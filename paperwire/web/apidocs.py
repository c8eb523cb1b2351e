"""/api/docs: Swagger UI over /api/openapi.json, served entirely by paperwire.

The Swagger UI script and stylesheet come from the pinned fastapi-offline package (its
``static/`` folder is Swagger UI's distribution) and the page starts them with a script file of
ours, so the page works offline and its CSP is the site's own: no CDN, no inline script.
"""

from __future__ import annotations

import importlib.util
from html import escape
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/api/docs"
ASSETS_URL = "/api/docs/assets"

router = APIRouter(include_in_schema=False)


def assets_dir() -> Path:
    """Swagger UI's files inside the installed fastapi-offline package (found without importing it)."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed: it ships the API docs page's assets")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def assets() -> StaticFiles:
    return StaticFiles(directory=str(assets_dir()))


@router.get(DOCS_URL, response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(request.app.title)}</title>
<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">
<link rel="icon" href="{ASSETS_URL}/favicon.png">
</head><body>
<div id="swagger-ui" data-url="/api/openapi.json"></div>
<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body></html>""")
