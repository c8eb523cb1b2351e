"""arXiv OAI-PMH: ``ListRecords`` with ``metadataPrefix=arXiv`` (files and a resumable harvester).

The harvester asks for one page at a time, stores the page's records and the resumption
token in the same transaction, and so can be killed at any moment: the next run starts with
the token of the last stored page (re-storing a page is harmless, records merge).
Protocol: https://www.openarchives.org/OAI/openarchivesprotocol.html ; arXiv's notes:
https://info.arxiv.org/help/oa/index.html
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from lxml import etree

from paperwire.ingest.importer import ImportSummary
from paperwire.ingest.files import open_file
from paperwire.ingest.http import HarvestError, PoliteClient
from paperwire.ingest.xmlrecords import parse_records
from paperwire.models import Paper, Problem, Version
from paperwire.store import Store
from paperwire.store.papers import upsert_papers
from paperwire.text import display_text, split_arxiv_id

log = logging.getLogger(__name__)

OAI_NS = "http://www.openarchives.org/OAI/2.0/"


def _local(el) -> str:
    return etree.QName(el).localname


def _child_texts(el) -> dict[str, str]:
    out = {}
    for ch in el:
        if isinstance(ch.tag, str):
            out.setdefault(_local(ch), "".join(ch.itertext()).strip())
    return out


def _find_local(el, name: str):
    for ch in el.iter():
        if isinstance(ch.tag, str) and _local(ch) == name:
            return ch
    return None


def _day(s: str | None) -> str | None:
    return f"{s[:10]}T00:00:00Z" if s and len(s) >= 10 else None


def record_to_paper(record) -> Paper | None:
    """One OAI ``<record>`` -> Paper; None for a deleted record; ValueError when unusable."""
    header = _find_local(record, "header")
    if header is not None and header.get("status") == "deleted":
        return None
    meta = _find_local(record, "metadata")
    arx = None if meta is None else next((c for c in meta if isinstance(c.tag, str)), None)
    if arx is None:
        raise ValueError("record has no metadata")
    f = _child_texts(arx)
    raw_id = f.get("id") or (header is not None and _child_texts(header).get("identifier")) or ""
    parts = split_arxiv_id(raw_id)
    if not parts:
        raise ValueError(f"missing or invalid arXiv id {raw_id!r}")
    title = f.get("title", "")
    if not title:
        raise ValueError(f"{parts[0]}: missing title")
    authors = []
    auth_el = _find_local(arx, "authors")
    for a in (auth_el if auth_el is not None else []):
        if not isinstance(a.tag, str):
            continue
        af = _child_texts(a)
        name = " ".join(x for x in (af.get("forenames"), af.get("keyname"), af.get("suffix")) if x)
        if name:
            authors.append(display_text(name))
    created, updated = _day(f.get("created")), _day(f.get("updated"))
    # The arXiv format gives the first version's date and the latest one's, not version numbers.
    versions = [Version(1, created)] if created else []
    return Paper(
        id=parts[0], title=title, abstract=f.get("abstract", ""), authors=authors,
        categories=(f.get("categories") or "").split(), comments=f.get("comments") or None,
        journal_ref=f.get("journal-ref") or None, doi=f.get("doi") or None, license=f.get("license") or None,
        versions=versions, published=created, updated=updated or created,
    )


def parse_oai_bytes(data: bytes, name: str, start: int = 0, page: int | None = None) -> Iterator[tuple[int, Paper | Problem]]:
    where = f"{name}:" + (f"page {page} " if page else "")
    yield from parse_records(data, "record", OAI_NS, record_to_paper, lambda i: f"{where}record {i}", start)


def parse_oai_file(path: str | Path, start: int = 0) -> Iterator[tuple[int, Paper | Problem]]:
    """Records of a saved OAI-PMH response (ListRecords or GetRecord), positions = record numbers."""
    with open_file(path) as fh:
        try:
            data = fh.read()
        except (EOFError, OSError) as exc:
            yield 1, Problem(f"{Path(path).name}", f"file is damaged or truncated ({exc})")
            return
    yield from parse_oai_bytes(data, Path(path).name, start)


# -- harvesting ------------------------------------------------------------------------------

def _checkpoint_key(base_url: str, set_: str | None) -> str:
    return f"oai:{base_url}:{set_ or ''}"


def _last_key(base_url: str, set_: str | None) -> str:
    return f"oai-last:{base_url}:{set_ or ''}"


def harvest_checkpoint(store: Store, base_url: str, set_: str | None = None) -> dict | None:
    """The state of an interrupted harvest: {"params", "token", "page"}, or None."""
    raw = store.get_checkpoint(_checkpoint_key(base_url, set_))
    return json.loads(raw) if raw else None


def _page_info(data: bytes) -> tuple[str | None, str | None, str | None]:
    """(resumption token or None, OAI error code or None, error message) of one response."""
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True,
                                                      recover=True))
    except etree.XMLSyntaxError:
        return None, None, None
    if root is None:
        return None, None, None
    err = root.find(f"{{{OAI_NS}}}error")
    if err is not None:
        return None, err.get("code"), (err.text or "").strip()
    tok = root.find(f".//{{{OAI_NS}}}resumptionToken")
    token = (tok.text or "").strip() if tok is not None else ""
    return token or None, None, None


def _starting_point(store: Store, base_url: str, from_: str | None, until: str | None,
                    set_: str | None) -> tuple[dict, str | None, int]:
    """(request params, resumption token, pages already stored) a harvest starts from: those of
    an interrupted run of this set with the same dates (or any, when no dates are given), else
    fresh ones whose ``from`` defaults to the day of the last completed harvest of the set."""
    params = {"from": from_, "until": until, "set": set_}
    cp = harvest_checkpoint(store, base_url, set_)
    if cp and ((from_ is None and until is None) or cp.get("params") == params):
        return cp["params"], cp.get("token"), int(cp.get("page", 0))
    if params["from"] is None:
        params["from"] = store.get_checkpoint(_last_key(base_url, set_))
    return params, None, 0


def _store_page(store: Store, base_url: str, key: str, papers: list[Paper], params: dict,
                next_token: str | None, page: int, started: str):
    """One page's papers and where the harvest goes on, in one transaction: the next token, or
    (on the last page) no checkpoint and the day the next harvest of the set starts from."""
    with store.transaction() as conn:
        res = upsert_papers(store, papers, "oai", base_url, conn=conn)
        if next_token:
            store.set_checkpoint(key, json.dumps({"params": params, "token": next_token, "page": page}), conn=conn)
        else:
            store.set_checkpoint(key, None, conn=conn)
            store.set_checkpoint(_last_key(base_url, params.get("set")), params.get("until") or started, conn=conn)
    return res


def harvest_oai(
    store: Store,
    base_url: str,
    from_: str | None = None,
    until: str | None = None,
    set_: str | None = None,
    *,
    delay: float = 3.0,
    timeout: float = 60.0,
    max_retries: int = 5,
    max_pages: int | None = None,
    client=None,
    sleep: Callable[[float], None] | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    on_progress: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    """Harvest ``ListRecords`` (metadataPrefix=arXiv) into the store, page by page, resumably.

    With a checkpoint left by an interrupted run of this set with the same dates (or when no
    dates are given), the harvest continues with its resumption token. Without ``from_``, a
    new harvest starts from the day of the last completed one for this set.
    """
    summary = ImportSummary()
    key = _checkpoint_key(base_url, set_)
    params, token, page = _starting_point(store, base_url, from_, until, set_)
    if token:
        summary.resumed_from = page
        log.info("resuming OAI-PMH harvest after page %d", page)
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    kw = dict(delay=delay, timeout=timeout, max_retries=max_retries, client=client)
    if sleep is not None:
        kw["sleep"] = sleep
    with PoliteClient(**kw) as http:
        while True:
            if token:
                q = {"verb": "ListRecords", "resumptionToken": token}
            else:
                q = {"verb": "ListRecords", "metadataPrefix": "arXiv"}
                q.update({k: v for k, v in params.items() if v})
            resp = http.get(base_url, params=q)
            if resp.status_code != 200:
                raise HarvestError(f"{base_url}: HTTP {resp.status_code} for page {page + 1}")
            data = resp.content
            next_token, err_code, err_msg = _page_info(data)
            if err_code == "noRecordsMatch":
                next_token = None
            elif err_code == "badResumptionToken" and token:
                # tokens expire (arXiv keeps them for a limited time): start the same harvest over
                log.warning("resumption token expired; restarting the harvest from its first page")
                token, page = None, 0
                continue
            elif err_code:
                raise HarvestError(f"{base_url}: OAI-PMH error {err_code}: {err_msg}")
            page += 1
            papers = []
            for _, item in parse_oai_bytes(data, "oai", page=page):
                if isinstance(item, Problem):
                    summary.skip(item, on_problem)
                else:
                    papers.append(item)
            res = _store_page(store, base_url, key, papers, params, next_token, page, started)
            summary.read += len(papers)
            summary.count_stored(res)
            if on_progress:
                on_progress(summary)
            if not next_token or (max_pages is not None and page - summary.resumed_from >= max_pages):
                break
            token = next_token
    return summary
