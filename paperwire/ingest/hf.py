"""Hugging Face daily papers, in the two shapes they come in, and a client for the live API.

1. ``/api/daily_papers`` (what https://huggingface.co/api/daily_papers?date=YYYY-MM-DD answers):
   a list of ``{"paper": {"id", "title", "summary", "authors": [{"name"}], "publishedAt",
   "upvotes", "submittedOnDailyAt", "submittedOnDailyBy", "githubRepo", "githubStars", "projectPage",
   "ai_summary", "ai_keywords", "organization", ...}, "publishedAt", "submittedBy", "numComments",
   ...}``; ``paper.submittedOnDailyAt`` is the day HF featured it (its curated day). The whole
   item is kept (HFEntry.item), so no field the API sends is lost.
2. The saved-file shape ``{arxiv_id: {"url", "title", "authors", "abstract",
   "publication_date", "upvotes"}}`` (e.g. tests/data/hf-papers-2024-04-08.json). It has no featuring
   day; HF features papers within a day or two of their arXiv release, so the day of
   ``publication_date`` stands in for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterator

from paperwire.ingest.files import read_text
from paperwire.ingest.http import HarvestError, PoliteClient
from paperwire.models import HFEntry, Paper, Problem
from paperwire.text import canonical_id


def _int(v) -> int | None:
    try:
        return int(v) if v is not None and v != "" else None
    except (TypeError, ValueError):
        return None


def _names(authors) -> list[str]:
    out = []
    for a in authors or []:
        name = a.get("name") if isinstance(a, dict) else a
        if isinstance(name, str) and name.strip():
            out.append(" ".join(name.split()))
    return out


def api_item_to_entry(item: dict) -> HFEntry:
    """One element of the ``/api/daily_papers`` list -> HFEntry (ValueError when unusable)."""
    if not isinstance(item, dict):
        raise ValueError("item is not a JSON object")
    paper = item.get("paper") if isinstance(item.get("paper"), dict) else item
    pid = canonical_id(str(paper.get("id") or ""))
    if not pid:
        raise ValueError(f"missing or invalid arXiv id {paper.get('id')!r}")
    title = (paper.get("title") or item.get("title") or "").strip()
    if not title:
        raise ValueError(f"{pid}: missing title")
    # submittedOnDailyAt is the curated day; the outer publishedAt of the real answers is the
    # arXiv submission time (days earlier), so it only stands in when the day is missing
    featured = paper.get("submittedOnDailyAt") or (item.get("publishedAt") if item is not paper else None)
    submitter = paper.get("submittedOnDailyBy") or item.get("submittedBy") or {}
    p = Paper(id=pid, title=title, abstract=(paper.get("summary") or item.get("summary") or "").strip(),
              authors=_names(paper.get("authors")), published=paper.get("publishedAt"))
    keywords = paper.get("ai_keywords")
    org = paper.get("organization") or item.get("organization")
    summary = paper.get("ai_summary")
    return HFEntry(
        paper=p, featured_on=(featured or "")[:10] or None,
        upvotes=_int(paper.get("upvotes")), submitted_by=_user_name(submitter),
        github_repo=paper.get("githubRepo") or None, github_stars=_int(paper.get("githubStars")),
        project_page=paper.get("projectPage") or None,
        ai_summary=summary.strip() or None if isinstance(summary, str) else None,
        ai_keywords=[k for k in keywords if isinstance(k, str) and k.strip()] if isinstance(keywords, list) else None,
        organization=org if isinstance(org, dict) and org.get("name") else None,
        num_comments=_int(item.get("numComments")) if item is not paper else _int(paper.get("numComments")),
        item=item,
    )


def _user_name(user) -> str | None:
    """The Hub user name of a ``submittedOnDailyBy`` / ``submittedBy`` object."""
    if not isinstance(user, dict):
        return None
    name = user.get("name") or user.get("user")
    return name if isinstance(name, str) and name else None


def file_item_to_entry(key: str, rec: dict) -> HFEntry:
    """One ``arxiv_id -> {...}`` pair of the saved-file shape -> HFEntry."""
    if not isinstance(rec, dict):
        raise ValueError("value is not a JSON object")
    pid = canonical_id(str(key)) or canonical_id(str(rec.get("url") or ""))
    if not pid:
        raise ValueError(f"invalid arXiv id {key!r}")
    title = (rec.get("title") or "").strip()
    if not title:
        raise ValueError(f"{pid}: missing title")
    pub = rec.get("publication_date") or None
    p = Paper(id=pid, title=title, abstract=(rec.get("abstract") or "").strip(), authors=_names(rec.get("authors")),
              published=pub)
    return HFEntry(paper=p, featured_on=pub[:10] if pub else None, upvotes=_int(rec.get("upvotes")))


def parse_hf_data(data, name: str, start: int = 0) -> Iterator[tuple[int, HFEntry | Problem]]:
    if isinstance(data, dict) and isinstance(data.get("papers"), list):
        data = data["papers"]
    if isinstance(data, list):
        items = ((None, x) for x in data)
    elif isinstance(data, dict):
        items = iter(data.items())
    else:
        yield 1, Problem(name, "expected a JSON list or object of papers")
        return
    for i, (key, rec) in enumerate(items, 1):
        if i <= start:
            continue
        try:
            entry = api_item_to_entry(rec) if key is None else file_item_to_entry(key, rec)
        except (ValueError, AttributeError, TypeError) as exc:
            yield i, Problem(f"{name}:item {i}" + (f" ({key})" if key else ""), str(exc))
            continue
        yield i, entry


def parse_hf_file(path: str | Path, start: int = 0) -> Iterator[tuple[int, HFEntry | Problem]]:
    name = Path(path).name
    try:
        data = json.loads(read_text(path))
    except (ValueError, EOFError, OSError) as exc:
        yield 1, Problem(name, f"cannot read JSON ({exc.__class__.__name__}: {exc})")
        return
    yield from parse_hf_data(data, name, start)


def fetch_hf_daily(
    base_url: str = "https://huggingface.co",
    date: str | None = None,
    *,
    limit: int = 100,
    max_pages: int = 20,
    delay: float = 1.0,
    timeout: float = 60.0,
    max_retries: int = 5,
    client=None,
    sleep: Callable[[float], None] | None = None,
) -> Iterator[tuple[int, HFEntry | Problem]]:
    """The papers HF featured on ``date`` (YYYY-MM-DD; default: HF's latest day)."""
    url = base_url.rstrip("/") + "/api/daily_papers"
    kw = dict(delay=delay, timeout=timeout, max_retries=max_retries, client=client)
    if sleep is not None:
        kw["sleep"] = sleep
    pos = 0
    with PoliteClient(**kw) as http:
        for page in range(max_pages):
            params = {"limit": str(limit), "p": str(page)}
            if date:
                params["date"] = date
            resp = http.get(url, params=params)
            if resp.status_code != 200:
                raise HarvestError(f"{url}: HTTP {resp.status_code}")
            try:
                data = resp.json()
            except ValueError as exc:
                raise HarvestError(f"{url}: answer is not JSON ({exc})") from exc
            if not isinstance(data, list):
                raise HarvestError(f"{url}: expected a JSON list, got {type(data).__name__}")
            for i, item in parse_hf_data(data, f"hf daily {date or 'latest'} page {page}"):
                yield pos + i, item
            pos += len(data)
            if len(data) < limit:
                break
