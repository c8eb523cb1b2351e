"""JSON-lines files (one record a line): the reading and checking every JSON format shares.

``parse_json_lines`` turns each line into a Paper through the format's ``convert`` (or a
Problem saying where and why); ``required_id_and_title`` is the check every format's record
starts with, ``check_types`` the one every Paper ends with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import orjson
from xxhash import xxh3_128_hexdigest

from paperwire.ingest.files import iter_lines
from paperwire.models import Paper, Problem
from paperwire.text import split_arxiv_id
from paperwire.validate import checked_record


def required_id_and_title(rec) -> tuple[str, str]:
    """The record's canonical arXiv id and its title; ValueError saying which is missing."""
    if not isinstance(rec, dict):
        raise ValueError("record is not a JSON object")
    parts = split_arxiv_id(str(rec.get("id") or ""))
    if not parts:
        raise ValueError(f"missing or invalid arXiv id {rec.get('id')!r}")
    title = (rec.get("title") or "").strip()
    if not title:
        raise ValueError(f"{parts[0]}: missing title")
    return parts[0], title


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
            rec = orjson.loads(raw)  # cheaper than json.loads
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
        # the line as read, with its line end: xxh3 (96 of its 128 bits) is far cheaper than a
        # cryptographic hash, and this is a change fingerprint, not a defence against forgery
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
                return _checked_text(p)
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
    return _checked_text(p)


def _checked_text(p: Paper) -> Paper:
    """ValueError for text no encoder can write back (a lone surrogate) or a field of the wrong
    type; stray control characters and U+FFFE/U+FFFF are dropped (validate.checked_record)."""
    problem = checked_record(p)
    if problem:
        raise ValueError(f"{p.id}: {problem}")
    return p
