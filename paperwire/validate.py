"""The one check every piece of outside text passes: API bodies, forms, query strings, ingested
records.

Why: Python strings can hold what no encoder will write back out.  A lone surrogate
(``"\\ud800"``, legal in JSON escapes) stored once makes every later UTF-8 encode fail (the
page, the e-mail, the digest of everyone else in the same run); the characters XML 1.0
forbids (C0 controls other than tab, newline and carriage return, U+FFFE, U+FFFF) make every
Atom/RSS feed that carries them fail.  Refusing them where text comes in, with the field and
the position named, keeps them out of the store; ``xml_safe`` is the last line for text
written to XML (data stored before this check existed).
"""

from __future__ import annotations

import dataclasses
import math
import re
from urllib.parse import urlsplit

# C0 controls except \t \n \r, the surrogate range, and the two non-characters XML forbids.
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAMES = {0: "a NUL character"}


class TextError(ValueError):
    """Text the site refuses; the message names the field and the character."""


def describe(ch: str) -> str:
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate (U+{code:04X})"
    if code < 0x20:
        return _NAMES.get(code, f"a control character (U+{code:04X})")
    return f"a non-character (U+{code:04X})"


def text_problem(value: str) -> str | None:
    """Why `value` is refused (the first bad character and its position), or None."""
    m = _BAD.search(value)
    if m is None:
        return None
    return f"contains {describe(m.group(0))} at position {m.start()}"


def check_text(value: str, field: str) -> str:
    """`value` unchanged, or TextError naming `field`."""
    problem = text_problem(value)
    if problem:
        raise TextError(f"{field}: {problem}")
    return value


def find_problem(value, path: str = "body", depth: int = 0) -> str | None:
    """The first refused piece of a parsed JSON value (keys, strings, non-finite numbers), as
    ``"<path>: <reason>"``, or None."""
    if depth > 64:
        return f"{path}: nested too deeply"
    if isinstance(value, str):
        problem = text_problem(value)
        return f"{path}: {problem}" if problem else None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path}: numbers must be finite"
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{k}" if isinstance(k, str) and not _BAD.search(k) else f"{path}.<key>"
            if isinstance(k, str) and _BAD.search(k):
                return f"{sub}: key {text_problem(k)}"
            found = find_problem(v, sub, depth + 1)
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = find_problem(v, f"{path}[{i}]", depth + 1)
            if found:
                return found
    return None


def record_problem(item) -> str | None:
    """The first refused field of a parsed record (a models.Paper or models.HFEntry, or any
    dataclass of them), e.g. ``"title: contains a lone surrogate (U+D800) at position 3"`` or
    ``"github_repo: must be text, not dict"``: text where the type says text, integers that fit
    the store's 64 bits, and no refused character anywhere."""
    if not dataclasses.is_dataclass(item):
        return None
    for f in dataclasses.fields(item):
        found = _value_problem(getattr(item, f.name), f.name, str(f.type))
        if found:
            return found
    return None


_INT64 = 2 ** 63


def _kind(kind: str) -> str:
    base = kind.split(" ")[0]
    return {"str": "text", "": "text", "int": "an integer", "float": "a number", "bool": "true or false"}.get(base, base)


def _value_problem(v, name: str, kind: str) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        problem = text_problem(v)
        return f"{name}: {problem}" if problem else None
    if dataclasses.is_dataclass(v):
        return record_problem(v)
    if isinstance(v, dict):
        # a source's own JSON kept as it came (e.g. the raw HF item): any JSON, clean text
        return find_problem(v, name) if kind.startswith(("dict", "Any", "object")) else f"{name}: must be {_kind(kind)}, not dict"
    if isinstance(v, (list, tuple)):
        if not kind.startswith("list"):
            return f"{name}: must not be a list"
        inner = re.match(r"list\[([^\]]*)\]", kind)
        inner = inner.group(1) if inner else ""
        for i, x in enumerate(v):
            found = _value_problem(x, f"{name}[{i}]", inner)
            if found:
                return found
        return None
    if isinstance(v, bool):
        return None if kind.startswith("bool") else f"{name}: must be {_kind(kind)}, not true/false"
    if isinstance(v, int):
        if not (kind.startswith("int") or kind.startswith("float")):
            return f"{name}: must be text, not a number"
        return None if -_INT64 <= v < _INT64 else f"{name}: number out of range"
    if isinstance(v, float):
        if not kind.startswith("float"):
            return f"{name}: must be {_kind(kind)}, not a number"
        return None if math.isfinite(v) else f"{name}: numbers must be finite"
    return f"{name}: must be {_kind(kind)}, not {type(v).__name__}"


_SCRUBBABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def scrub_record(item) -> None:
    """Drop, in place, the control characters and U+FFFE/U+FFFF from a parsed record's text
    (old corpora carry stray ones: CACM has a U+0019 in an abstract). They mean nothing, so the
    record is kept without them; a lone surrogate is not scrubbed (the text around it is
    broken, record_problem reports it)."""
    if not dataclasses.is_dataclass(item):
        return
    for f in dataclasses.fields(item):
        v = getattr(item, f.name)
        if isinstance(v, (str, list, dict)):
            setattr(item, f.name, _scrubbed(v))
        else:
            scrub_record(v)


def _scrubbed(v, depth: int = 0):
    if isinstance(v, str):
        return _SCRUBBABLE.sub("", v) if _SCRUBBABLE.search(v) else v
    if depth > 64:
        return v
    if isinstance(v, list):
        for i, x in enumerate(v):
            if dataclasses.is_dataclass(x):
                scrub_record(x)
            else:
                v[i] = _scrubbed(x, depth + 1)
        return v
    if isinstance(v, dict):
        return {_scrubbed(k, depth + 1): _scrubbed(x, depth + 1) for k, x in v.items()}
    return v


def checked_record(item) -> str | None:
    """record_problem after scrub_record, for importers: None when the record can be stored."""
    problem = record_problem(item)
    if problem:  # the rare case: scrub what can be, then look again
        scrub_record(item)
        problem = record_problem(item)
    return problem


def xml_safe(value: str) -> str:
    """`value` without the characters XML 1.0 cannot carry (for feeds and other XML output)."""
    return _BAD.sub("", value) if value and _BAD.search(value) else value


def http_url(value) -> str | None:
    """`value` when it is an absolute http(s) URL with a host, else None: the only links the
    site renders, in pages, feeds, digests and the API (no ``javascript:``, ``data:``...)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or _BAD.search(value) or any(c.isspace() for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return value


# --- the shapes of the identifiers the API takes ----------------------------------------------------
# Written once, in the regex dialect Python, Rust (pydantic) and ECMA 262 (JSON schema) read alike:
# ASCII classes, non-capturing groups, no lookaround. The routes enforce them and the OpenAPI
# document states them, so a request the document allows is one the route takes.

def _caseless(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else ("\\." if c == "." else c) for c in word)


# what text.split_arxiv_id takes: an optional prefix (any case), a new-style id (2501.01234) or an
# old-style one (hep-th/9901001), an optional version and an optional ".pdf". The archive name and
# the version are bounded (real ones are far shorter) so that no id is unboundedly long.
_ARXIV_PREFIX = "|".join(_caseless(p) for p in ("arxiv:", "https://arxiv.org/abs/", "http://arxiv.org/abs/",
                                                "https://arxiv.org/pdf/", "http://arxiv.org/pdf/", "oai:arxiv.org:"))
ARXIV_ID = (rf"(?:{_ARXIV_PREFIX})?(?:[0-9]{{4}}\.[0-9]{{4,5}}|[a-z-]{{1,40}}(?:\.[A-Za-z-]{{1,40}})?/[0-9]{{7}})"
            r"(?:v[0-9]{1,6})?(?:\.pdf)?")
ARXIV_ID_PATTERN = rf"^{ARXIV_ID}$"
# in a JSON body an id may come with the blanks of a copy and paste around it
ARXIV_ID_TEXT_PATTERN = rf"^[ \t\r\n]{{0,20}}{ARXIV_ID}[ \t\r\n]{{0,20}}$"

DAY_PATTERN = r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"
ISO_WEEK_PATTERN = r"^[0-9]{4}-W(?:0[1-9]|[1-4][0-9]|5[0-3])$"
MONTH_PATTERN = r"^[0-9]{4}-(?:0[1-9]|1[0-2])$"

# text with at least one character that is not blank (str.strip's blanks) and none of the refused
# ones: what a comment must be, as it is stripped before it is stored
_BLANKS = r"\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NONBLANK_TEXT_PATTERN = (rf"^[\t\n\r {_BLANKS}]*[^\u0000-\u0020{_BLANKS}\ufffe\uffff]"
                         r"[^\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]*$")
