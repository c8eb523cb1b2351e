"""The arXiv metadata snapshot (Kaggle "arxiv-metadata-oai-snapshot"): one JSON object a line.

Streamed line by line, so the 4.5 GB public file imports in constant memory.
"""

from __future__ import annotations

import json
import re
from calendar import monthrange
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Iterator

import orjson
from xxhash import xxh3_128_hexdigest

from paperwire.ingest.files import iter_lines
from paperwire.models import Paper, Problem, Version
from paperwire.text import display_texts, split_arxiv_id, split_authors


_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                        "Dec"), 1)}
# The shape every snapshot version date has ("Mon, 2 Apr 2007 19:18:42 GMT"): read directly,
# ~10x cheaper than email.utils; anything else goes the general way.
_GMT_DATE = re.compile(r"[A-Z][a-z]{2}, (\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT")


def rfc2822_to_iso(s: str | None) -> str | None:
    if not s:
        return None
    m = _GMT_DATE.fullmatch(s)
    if m is not None:
        day, mon, year, hh, mm, ss = m.groups()
        mon, day = _MONTHS.get(mon), int(day)
        if (mon is not None and 1 <= day and (day <= 28 or day <= monthrange(int(year), mon)[1])
                and hh < "24" and mm < "60" and ss < "60" and year >= "1000"):
            return f"{year}-{mon:02d}-{day:02d}T{hh}:{mm}:{ss}Z"
    try:
        return parsedate_to_datetime(s).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return None


def _authors(rec: dict) -> list[str]:
    parsed = rec.get("authors_parsed")
    if isinstance(parsed, list) and parsed and all(isinstance(a, list) for a in parsed):
        names = []
        for a in parsed:
            if len(a) == 3:
                last, first, suffix = a
                if not suffix and last and first and last.strip() and first.strip():
                    names.append(first + " " + last)  # [last, first, ""]: nearly every entry
                    continue
            last, first = (a + ["", ""])[:2]
            suffix = a[2] if len(a) > 2 else ""
            name = " ".join(x for x in (first, last, suffix) if x and x.strip())
            if name.strip():
                names.append(name)
        if names:
            return display_texts(names)
    return split_authors(rec.get("authors") or "")


def snapshot_record(rec: dict) -> Paper:
    """One snapshot object -> Paper; raises ValueError with a reason when unusable."""
    if not isinstance(rec, dict):
        raise ValueError("record is not a JSON object")
    parts = split_arxiv_id(str(rec.get("id") or ""))
    if not parts:
        raise ValueError(f"missing or invalid arXiv id {rec.get('id')!r}")
    title = (rec.get("title") or "").strip()
    if not title:
        raise ValueError(f"{parts[0]}: missing title")
    versions = []
    for v in rec.get("versions") or []:
        try:
            num = int(str(v.get("version", "")).lstrip("v"))
        except (ValueError, AttributeError):
            continue
        versions.append(Version(num, rfc2822_to_iso(v.get("created")), v.get("size")))
    cats = rec.get("categories") or ""
    cats = cats.split() if isinstance(cats, str) else list(cats)
    upd = rec.get("update_date")
    return Paper(  # (id, title, abstract, authors, categories, comments) by position, as in listing_record
        parts[0], title, (rec.get("abstract") or "").strip(), _authors(rec), cats, rec.get("comments"),
        journal_ref=rec.get("journal-ref"), doi=rec.get("doi"), license=rec.get("license"),
        submitter=rec.get("submitter"), versions=versions, updated=f"{upd}T00:00:00Z" if upd and not versions else None,
    )


def parse_json_lines(path: str | Path, convert, start: int = 0) -> Iterator[tuple[int, Paper | Problem]]:
    """Each line through ``convert``. A Paper's fingerprint is a hash of its line, the same
    whether the file is parsed here or in a parser process (paperwire.ingest.parallel), so a
    re-import finds every unchanged record either way. (A store written when fingerprints were
    hashes of the fields merges each record once more on its next import and finds it unchanged.)"""
    name = Path(path).name
    for lineno, raw in iter_lines(path, start):
        if isinstance(raw, Problem):
            yield lineno, raw
            continue
        try:
            rec = orjson.loads(raw)  # ~3x cheaper than json.loads
        except orjson.JSONDecodeError:
            if not raw.strip():
                continue  # a blank line
            # what orjson refuses and json takes (lone surrogates, NaN, a BOM) is read as before,
            # and a malformed line is reported in json's words
            try:
                rec = json.loads(raw)
            except ValueError as exc:
                yield lineno, Problem(f"{name}:line {lineno}", f"malformed JSON ({exc.__class__.__name__}: {exc})")
                continue
        try:
            paper = check_types(convert(rec))
        except ValueError as exc:
            yield lineno, Problem(f"{name}:line {lineno}", str(exc))
            continue
        except (TypeError, AttributeError, KeyError) as exc:  # a field of the wrong JSON type
            yield lineno, Problem(f"{name}:line {lineno}", f"unexpected field type ({exc.__class__.__name__}: {exc})")
            continue
        # the line as read, with its line end: xxh3 (96 of its 128 bits) hashes a 2 KB line in
        # ~0.15 us, blake2b in ~3.3 (a change fingerprint, not a defence against forgery)
        paper.fingerprint = xxh3_128_hexdigest(raw)[:24]
        yield lineno, paper


_OPTIONAL_TEXT = ("comments", "journal_ref", "doi", "license", "submitter", "published", "updated", "listed")


def check_types(p: Paper) -> Paper:
    """Refuse a record whose fields are not the text the store keeps (a number where a comment
    belongs, a list of objects as authors), naming the field: such a value would otherwise
    fail the whole batch at write time instead of this one record."""
    # One cheap pass for the usual record (exact types; str.join takes only text), the
    # field-by-field checks only to name what is wrong.
    if type(p.title) is str and type(p.abstract) is str:
        for v in (p.comments, p.journal_ref, p.doi, p.license, p.submitter, p.published, p.updated, p.listed):
            if v is not None and type(v) is not str:
                break
        else:
            try:
                "".join(p.authors), "".join(p.categories)
                return p
            except TypeError:
                pass
    if not isinstance(p.title, str) or not isinstance(p.abstract, str):
        raise ValueError(f"{p.id}: title and abstract must be text")
    for f in _OPTIONAL_TEXT:
        v = getattr(p, f)
        if v is not None and not isinstance(v, str):
            raise ValueError(f"{p.id}: field {f!r} must be text, not {type(v).__name__}")
    for f in ("authors", "categories"):
        if not all(isinstance(x, str) for x in getattr(p, f)):
            raise ValueError(f"{p.id}: every entry of {f!r} must be text")
    return p


def parse_snapshot(path: str | Path, start: int = 0) -> Iterator[tuple[int, Paper | Problem]]:
    return parse_json_lines(path, snapshot_record, start)
