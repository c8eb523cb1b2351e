"""The arXiv query API (Atom XML): saved responses and a paging client.

API manual: https://info.arxiv.org/help/api/user-manual.html . An invalid id comes back as
an ``<entry>`` titled "Error" whose id points into https://arxiv.org/api/errors ; we turn it
into a Problem instead of a paper called "Error".
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterator

from lxml import etree

from paperwire.ingest.files import open_file
from paperwire.ingest.http import HarvestError, PoliteClient
from paperwire.ingest.xmlrecords import parse_records, text_of
from paperwire.models import Paper, Problem, Version
from paperwire.text import split_arxiv_id

log = logging.getLogger(__name__)

ATOM = "http://www.w3.org/2005/Atom"
NS = {"a": ATOM, "arxiv": "http://arxiv.org/schemas/atom", "os": "http://a9.com/-/spec/opensearch/1.1/"}


def entry_to_paper(entry) -> Paper:
    """One Atom ``<entry>`` -> Paper; ValueError with the reason when it is an error or unusable."""
    raw_id = text_of(entry, "a:id", NS) or ""
    if "/api/errors" in raw_id:
        raise ValueError(f"arXiv API error: {text_of(entry, 'a:summary', NS) or raw_id}")
    parts = split_arxiv_id(raw_id)
    if not parts:
        raise ValueError(f"missing or invalid arXiv id {raw_id!r}")
    pid, vnum = parts
    title = text_of(entry, "a:title", NS)
    if not title:
        raise ValueError(f"{pid}: missing title")
    published, updated = text_of(entry, "a:published", NS), text_of(entry, "a:updated", NS)
    versions = []
    if published:
        versions.append(Version(1, published))
    if vnum and vnum > 1:
        versions.append(Version(vnum, updated))
    primary = entry.find("arxiv:primary_category", NS)
    cats = [primary.get("term")] if primary is not None and primary.get("term") else []
    for c in entry.findall("a:category", NS):
        term = c.get("term")
        if term and term not in cats:
            cats.append(term)
    authors = [n for n in (text_of(a, "a:name", NS) for a in entry.findall("a:author", NS)) if n]
    return Paper(
        id=pid, title=title, abstract=text_of(entry, "a:summary", NS) or "", authors=authors, categories=cats,
        comments=text_of(entry, "arxiv:comment", NS), journal_ref=text_of(entry, "arxiv:journal_ref", NS),
        doi=text_of(entry, "arxiv:doi", NS), versions=versions, published=published, updated=updated or published,
    )


def parse_atom_bytes(data: bytes, name: str, start: int = 0, offset: int = 0) -> Iterator[tuple[int, Paper | Problem]]:
    """Entries of one feed; positions are ``offset`` + the entry's number in the feed."""
    yield from parse_records(data, "entry", ATOM, entry_to_paper, lambda i: f"{name}:entry {i}", start, offset)


def parse_atom_file(path: str | Path, start: int = 0) -> Iterator[tuple[int, Paper | Problem]]:
    with open_file(path) as fh:
        try:
            data = fh.read()
        except (EOFError, OSError) as exc:
            yield 1, Problem(Path(path).name, f"file is damaged or truncated ({exc})")
            return
    yield from parse_atom_bytes(data, Path(path).name, start)


def _total_results(data: bytes) -> int | None:
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, recover=True))
        el = root.find("os:totalResults", NS) if root is not None else None
        return int(el.text) if el is not None and el.text else None
    except (etree.XMLSyntaxError, ValueError):
        return None


def fetch_arxiv(
    ids: list[str] | None = None,
    query: str | None = None,
    start: int = 0,
    max_results: int | None = None,
    page_size: int = 100,
    *,
    base_url: str = "https://export.arxiv.org/api/query",
    sort_by: str = "relevance",
    sort_order: str = "descending",
    delay: float = 3.0,
    timeout: float = 60.0,
    max_retries: int = 5,
    client=None,
    sleep: Callable[[float], None] | None = None,
) -> Iterator[tuple[int, Paper | Problem]]:
    """Papers by id list and/or search query, paged by ``start``/``max_results``.

    Stops at ``max_results`` entries (default: all of an id list, else one page), at the
    reported total, or at an empty page. A 400 answer (e.g. a malformed id) still carries
    an error entry, which becomes a Problem.
    """
    if not ids and not query:
        raise ValueError("give ids or a query")
    id_list = ",".join(ids or [])
    if max_results is None:
        max_results = max(len(ids or []), 1) if ids and not query else page_size
    kw = dict(delay=delay, timeout=timeout, max_retries=max_retries, client=client)
    if sleep is not None:
        kw["sleep"] = sleep
    got = 0
    pos = start
    with PoliteClient(**kw) as http:
        while got < max_results:
            # an id list is asked for in whole pages (as arXiv's own clients do); a query only
            # for what is still wanted
            n = page_size if ids and not query else min(page_size, max_results - got)
            params = {"search_query": query or "", "id_list": id_list, "sortBy": sort_by, "sortOrder": sort_order,
                      "start": str(start + got), "max_results": str(n)}
            resp = http.get(base_url, params=params)
            if resp.status_code not in (200, 400):
                raise HarvestError(f"{base_url}: HTTP {resp.status_code} for start={start + got}")
            data = resp.content
            entries = list(parse_atom_bytes(data, f"arxiv api start={start + got}", offset=pos))
            for p, item in entries[: max_results - got]:
                yield p, item
            pos += len(entries)
            got += len(entries)
            total = _total_results(data)
            if not entries or resp.status_code == 400 or (total is not None and start + got >= total):
                break
