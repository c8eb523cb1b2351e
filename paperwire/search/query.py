"""The query language: free text and filters, and the clauses searched for.

``parse_query`` never raises: anything it does not understand is searched as plain words.
The FTS5 MATCH string is built only from double-quoted terms, so user text can never
inject FTS5 operators.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from dataclasses import dataclass, field

from paperwire.search.analysis import QUERY_WORD, REQUEST_WORDS, STOPWORDS

log = logging.getLogger(__name__)

MAX_TERMS = 64  # a 10 kB query becomes at most this many OR-ed terms
MAX_QUERY_CHARS = 4000

_FIELD_RE = re.compile(r'(?i)(author|au|cat|category|has|after|before|from|to|since|until|date)[:=]("[^"]*"?|\S*)')
_TOKEN_RE = re.compile(r'"[^"]*"?|\S+')
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass
class Filters:
    categories: list[str] = field(default_factory=list)  # match any
    author: str | None = None
    date_from: str | None = None  # YYYY-MM-DD inclusive
    date_to: str | None = None
    date_field: str = "published"  # or "listed"
    has_code: bool = False

    def is_empty(self) -> bool:
        return not (self.categories or self.author or self.date_from or self.date_to or self.has_code)

    def merged(self, other: "Filters | None") -> "Filters":
        """These filters with ``other``'s set fields applied on top."""
        if other is None:
            return self
        return Filters(
            categories=list(dict.fromkeys([*self.categories, *other.categories])),
            author=other.author or self.author,
            date_from=other.date_from or self.date_from,
            date_to=other.date_to or self.date_to,
            date_field=other.date_field if other.date_field != "published" else self.date_field,
            has_code=self.has_code or other.has_code,
        )


def norm_date(raw: str, end: bool) -> str | None:
    """``YYYY[-MM[-DD]]`` as a day: the first day of the span, or its last with ``end``."""
    m = _DATE_RE.match(raw.strip())
    if not m:
        return None
    y, mo, d = int(m.group(1)), m.group(2), m.group(3)
    if mo is None:
        return f"{y:04d}-12-31" if end else f"{y:04d}-01-01"
    mo = int(mo)
    if not 1 <= mo <= 12:
        return None
    if d is None:
        return f"{y:04d}-{mo:02d}-31" if end else f"{y:04d}-{mo:02d}-01"  # '-31' compares as end of month
    d = int(d)
    if not 1 <= d <= 31:
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}"


def day_after(raw: str) -> str | None:
    """``after:SPAN``: the first day after the whole span (``after:2024`` starts 2025-01-01)."""
    last = norm_date(raw, end=True)
    if last is None:
        return None
    y, mo, d = (int(x) for x in last.split("-"))
    if _DATE_RE.match(raw.strip()).group(3) is None:  # a month or year: the next month's first day
        return f"{y + 1:04d}-01-01" if mo == 12 else f"{y:04d}-{mo + 1:02d}-01"
    try:
        return (dt.date(y, mo, d) + dt.timedelta(days=1)).isoformat()
    except (ValueError, OverflowError):
        return None


def day_before(raw: str) -> str | None:
    """``before:SPAN``: the last day before the span starts (``before:2024-06`` ends 2024-05-31)."""
    first = norm_date(raw, end=False)
    if first is None:
        return None
    y, mo, d = (int(x) for x in first.split("-"))
    try:
        return (dt.date(y, mo, d) - dt.timedelta(days=1)).isoformat()
    except (ValueError, OverflowError):
        return None


def parse_query(q: str) -> tuple[str, Filters]:
    """Split a query into free text and filters. Never raises.

    Understood: ``author:NAME`` / ``author:"First Last"``, ``cat:cs.CL`` (comma-separated:
    any of), ``has:code``, dates (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``): ``after:D`` / ``before:D``
    (strictly after / before the span), ``from:D`` / ``to:D`` (the span included; ``since:`` and
    ``until:`` are the same), ``date:listed`` (date range on listing day instead of publication). Everything else (words, ``"phrases"``, ``prefix*``)
    is returned as text; unknown ``x:y`` tokens stay text.
    """
    try:
        return _parse_query(q)
    except Exception:  # defensive: the contract is "never raises"
        log.exception("query parser failed; searching the plain text")
        return (str(q) if q is not None else "")[:MAX_QUERY_CHARS], Filters()


def _parse_query(q) -> tuple[str, Filters]:
    q = "" if q is None else str(q)
    q = q.replace("\x00", " ")[:MAX_QUERY_CHARS]
    f = Filters()
    keep: list[str] = []
    pos = 0
    for m in _FIELD_RE.finditer(q):
        # only at a token start (not inside a word such as "http://")
        if m.start() > 0 and not q[m.start() - 1].isspace():
            continue
        name, value = m.group(1).lower(), m.group(2).strip('"').strip()
        used = True
        if name in ("author", "au") and value:
            f.author = value
        elif name in ("cat", "category") and value:
            f.categories.extend(c for c in re.split(r"[,|]", value) if c)
        elif name == "has" and value.lower() in ("code", "github", "repo"):
            f.has_code = True
        elif name == "after" and day_after(value):
            f.date_from = day_after(value)
        elif name == "before" and day_before(value):
            f.date_to = day_before(value)
        elif name in ("from", "since") and norm_date(value, end=False):
            f.date_from = norm_date(value, end=False)
        elif name in ("to", "until") and norm_date(value, end=True):
            f.date_to = norm_date(value, end=True)
        elif name == "date" and value.lower() in ("listed", "published"):
            f.date_field = value.lower()
        else:
            used = False
        if used:
            keep.append(q[pos:m.start()])
            pos = m.end()
    keep.append(q[pos:])
    text = re.sub(r"\s+", " ", " ".join(keep)).strip()
    return text, f


@dataclass(frozen=True)  # shared: clauses() caches them
class Clause:
    kind: str  # term | prefix | phrase (quoted by the user) | compound ("self-supervised")
    words: tuple[str, ...]

    def fts(self) -> str:
        body = " ".join(self.words).replace('"', '""')
        if self.kind == "prefix":
            return f'"{body}"*'
        return f'"{body}"'


@functools.lru_cache(maxsize=256)  # one search parses its text for the MATCH, tantivy and the marks
def clauses(text: str) -> tuple[Clause, ...]:
    """The terms, prefixes, phrases and compounds of free text, each once, in order."""
    out: list[Clause] = []
    seen: set[tuple] = set()
    for tok in _TOKEN_RE.findall(text):
        words = tuple(w.lower() for w in QUERY_WORD.findall(tok))
        if tok.startswith('"'):
            c = Clause("phrase" if len(words) > 1 else "term", words)
        else:
            if len(words) == 1 and tok.rstrip().endswith("*") and len(words[0]) >= 2:
                c = Clause("prefix", words)
            elif len(words) > 1:  # "self-supervised", "3D-aware": the parts in order
                c = Clause("compound", words)
            else:
                c = Clause("term", words)
        if not c.words:
            continue
        key = (c.kind, c.words)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return tuple(out[: MAX_TERMS * 2])


def content_clauses(text: str) -> tuple[Clause, ...]:
    """The clauses searched for (and marked): stopword and request-word terms dropped, unless
    the query has nothing else (a query of stopwords only still searches for them)."""
    found = clauses(text)
    return tuple(c for c in found if not (c.kind in ("term", "compound") and _filler(c.words))) or found


def _filler(words: tuple[str, ...]) -> bool:
    """Stopwords and request words, alone or as the parts of "I'd", "I'm"."""
    return all(w in STOPWORDS or w in REQUEST_WORDS for w in words)


def fts_expression(text: str, author: str | None = None) -> str:
    """The FTS5 MATCH string for free text (OR of terms, stopwords dropped) and an author."""
    parts = [c.fts() for c in content_clauses(text)[:MAX_TERMS]]
    expr = " OR ".join(parts)
    if author:
        names = [w.lower() for w in QUERY_WORD.findall(author)][:8]
        if names:
            aexpr = "authors : (" + " AND ".join('"' + w.replace('"', '""') + '"' for w in names) + ")"
            expr = f"({expr}) AND {aexpr}" if expr else aexpr
    return expr


def title_key(text: str) -> str:
    """Key of the exact-title pin; must equal the 0020 migration's lower(rtrim(trim(t), '.'))."""
    t = re.sub(r"\s+", " ", text.strip().strip('"').strip())
    return t.translate(_ASCII_LOWER).rstrip(".")
