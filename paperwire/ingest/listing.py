"""arXiv listing JSON lines (id, title, summary, authors[], categories[], comment, listing_date)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from paperwire.ingest.jsonlines import parse_json_lines, required_id_and_title
from paperwire.models import Paper, Problem
from paperwire.text import display_texts, split_authors


def listing_record(rec: dict) -> Paper:
    """One listing object -> Paper; raises ValueError with a reason when unusable."""
    paper_id, title = required_id_and_title(rec)
    authors = rec.get("authors") or []
    authors = split_authors(authors) if isinstance(authors, str) else display_texts([a for a in authors if a])
    cats = rec.get("categories") or []
    cats = cats.split() if isinstance(cats, str) else [c for c in cats if c]
    listed = rec.get("listing_date")
    # (id, title, abstract, authors, categories, comments) by position: passing Paper's fields by
    # keyword costs noticeably more per record
    return Paper(paper_id, title, (rec.get("summary") or rec.get("abstract") or "").strip(), authors, cats,
                 rec.get("comment") or rec.get("comments"), listed=str(listed)[:10] if listed else None)


def parse_listing(path: str | Path, start: int = 0) -> Iterator[tuple[int, Paper | Problem]]:
    return parse_json_lines(path, listing_record, start)
