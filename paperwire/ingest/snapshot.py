"""The arXiv metadata snapshot (Kaggle "arxiv-metadata-oai-snapshot"): one JSON object a line.

Streamed line by line, so the 4.5 GB public file imports in constant memory.
"""

from __future__ import annotations

import re
from calendar import monthrange
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Iterator

from paperwire.ingest.jsonlines import parse_json_lines, required_id_and_title
from paperwire.models import Paper, Problem, Version
from paperwire.text import display_texts, split_authors


_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                        "Dec"), 1)}
# The shape every snapshot version date has ("Mon, 2 Apr 2007 19:18:42 GMT"): read directly,
# far cheaper than email.utils; anything else goes the general way.
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
    paper_id, title = required_id_and_title(rec)
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
        paper_id, title, (rec.get("abstract") or "").strip(), _authors(rec), cats, rec.get("comments"),
        journal_ref=rec.get("journal-ref"), doi=rec.get("doi"), license=rec.get("license"),
        submitter=rec.get("submitter"), versions=versions, updated=f"{upd}T00:00:00Z" if upd and not versions else None,
    )


def parse_snapshot(path: str | Path, start: int = 0) -> Iterator[tuple[int, Paper | Problem]]:
    return parse_json_lines(path, snapshot_record, start)
