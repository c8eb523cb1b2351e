"""The OpenAPI document, made true: what FastAPI derives from the routes, plus what the app does
around them that the routes cannot declare.

- Every operation can answer with the app's JSON error shape ``{"error": "..."}``: 400 (text
  refused at the door, web.security.check_request_text), 401/403 (token or signed link), 404,
  409, 413, 422 and 429 (rate limits). Listing them keeps clients and schema checkers
  (schemathesis) from meeting undocumented answers.
- Every free-text string (no pattern, enum or format of its own) carries the pattern of the
  one text rule (paperwire.validate): a client reading the schema knows which characters are
  refused, and a schema-valid request is never refused for its characters.
- A request body's extra members (the models take and ignore them) are any JSON whose text
  passes the same rule, keys included (JSONValue), as the door check has it.
- A 405 answer's ``Allow`` names every method the path takes (AllowHeader): Starlette names
  only those of the first route it tried, so /api/v1/subscriptions/me said GET alone where the
  document lists GET, PATCH and DELETE.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import Match, Mount, Router

from paperwire.web.foryou import ACTIONS

_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")

# the characters paperwire.validate refuses, as a JSON-schema (ECMA 262) pattern; lone surrogates
# (refused too) are left out: no UTF-8 document can hold one, and regex engines that work on
# Unicode scalar values (the Rust one of jsonschema-rs) reject a pattern naming them
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]*$"

_REF = "#/components/schemas/"
# any JSON value whose strings (keys too) pass the text rule: what an extra body member may be
JSON_VALUE_SCHEMA = {"anyOf": [
    {"type": "string", "pattern": TEXT_PATTERN},
    {"type": ["number", "boolean", "null"]},
    {"type": "array", "items": {"$ref": _REF + "JSONValue"}},
    {"type": "object", "propertyNames": {"pattern": TEXT_PATTERN}, "additionalProperties": {"$ref": _REF + "JSONValue"}},
]}

ERROR_SCHEMA = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
_ERRORS = {
    "400": "Refused input: text with a character the site does not store, or a malformed value.",
    "401": "A valid API token is required (Authorization: Bearer <token>).",
    "403": "The signed link or token does not allow this.",
    "404": "No such paper, day, week, month, subscription or resource.",
    "409": "Conflicts with the current state (e.g. the paper is already on a list, or too old for the open lists).",
    "413": "Request body too large.",
    "422": "Invalid parameters or body.",
    "429": "Too many requests, or the daily submission allowance is spent; see Retry-After.",
}


# What a handler refuses that its model does not declare, for models in modules this one does
# not own: foryou.api_feedback answers 422 for an action outside foryou.ACTIONS. (Declaring
# `action: Literal["up", "dismiss"]` on foryou.FeedbackIn would make this entry unneeded.)
_NARROWER = {"FeedbackIn": {"action": {"enum": list(ACTIONS)}}}


def install(app: FastAPI) -> None:
    """Replace app.openapi with the amended document (built once, then cached by FastAPI)."""

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["Error"], schemas["JSONValue"] = ERROR_SCHEMA, JSON_VALUE_SCHEMA
        bodies = set()
        for path in doc.get("paths", {}).values():
            for op in path.values():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                for code, text in _ERRORS.items():
                    op["responses"].setdefault(code, {"description": text})
                    op["responses"][code]["content"] = {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                for param in op.get("parameters", []):
                    _constrain(param.get("schema"))
                for media in (op.get("requestBody") or {}).get("content", {}).values():
                    _constrain(media.get("schema"))
                    bodies.add(str((media.get("schema") or {}).get("$ref", "")).removeprefix(_REF))
        for name, schema in schemas.items():
            if name != "JSONValue":
                _constrain(schema)
            if name in bodies and schema.get("type") == "object" and "additionalProperties" not in schema:
                schema["propertyNames"] = {"pattern": TEXT_PATTERN}
                schema["additionalProperties"] = {"$ref": _REF + "JSONValue"}
            for field, narrower in _NARROWER.get(name, {}).items():
                schema["properties"][field].update(narrower)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi
    app.add_middleware(AllowHeader, router=app.router)


def allowed_methods(router: Router, scope) -> list[str]:
    """The methods some route takes at the request's path: each method is matched as if the
    request had used it (routers nest, so asking every route for a full match is the one way
    that sees all of them)."""
    # a mounted app (static files) matches every method and answers its own 405: left out, so
    # its Allow stands
    routes = [route for route in router.routes if not isinstance(route, Mount)]
    return [m for m in _METHOD_ORDER
            if any(route.matches({**scope, "method": m})[0] == Match.FULL for route in routes)]


class AllowHeader:
    """ASGI middleware: a 405 answer's Allow header lists all the methods of its path."""

    def __init__(self, app, router: Router):
        self.app, self.router = app, router

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        asked = dict(scope)  # as it came: routing adds its own keys to the scope

        async def send_allow(message):
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = allowed_methods(self.router, asked)
                if methods:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    message = {**message, "headers": [*headers, (b"allow", ", ".join(methods).encode())]}
            await send(message)

        await self.app(scope, receive, send_allow)


def _constrain(schema, depth: int = 0) -> None:
    if not isinstance(schema, dict) or depth > 20:
        return
    if schema.get("type") == "string" and not ({"pattern", "enum", "format", "const"} & schema.keys()):
        schema["pattern"] = TEXT_PATTERN
    for key in ("items", "additionalProperties"):
        _constrain(schema.get(key), depth + 1)
    for sub in (schema.get("properties") or {}).values():
        _constrain(sub, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or []:
            _constrain(sub, depth + 1)
