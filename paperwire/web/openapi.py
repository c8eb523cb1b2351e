"""The OpenAPI document, made true: what FastAPI derives from the routes, plus what the app does
around them that the routes cannot declare.

- Every operation can answer with the app's JSON error shape ``{"error": "..."}``: 400 (text
  refused at the door, web.security.check_request_text), 401/403 (token or signed link), 404,
  409, 413, 422 and 429 (rate limits). Listing them keeps clients and schema checkers
  (schemathesis) from meeting undocumented answers.
- Every free-text string (no pattern, enum or format of its own) carries the pattern of the
  one text rule (paperwire.validate): a client reading the schema knows which characters are
  refused, and a schema-valid request is never refused for its characters.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# the characters paperwire.validate refuses, as a JSON-schema (ECMA 262) pattern; lone surrogates
# (refused too) are left out: no UTF-8 document can hold one, and regex engines that work on
# Unicode scalar values (the Rust one of jsonschema-rs) reject a pattern naming them
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]*$"

ERROR_SCHEMA = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
_ERRORS = {
    "400": "Refused input: text with a character the site does not store, or a malformed value.",
    "401": "A valid API token is required (Authorization: Bearer <token>).",
    "403": "The signed link or token does not allow this.",
    "404": "No such paper, subscription or resource.",
    "409": "Conflicts with the current state (e.g. already submitted).",
    "413": "Request body too large.",
    "422": "Invalid parameters or body.",
    "429": "Too many requests; see Retry-After.",
}


def install(app: FastAPI) -> None:
    """Replace app.openapi with the amended document (built once, then cached by FastAPI)."""

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        doc.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
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
        for schema in doc["components"]["schemas"].values():
            _constrain(schema)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi


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
