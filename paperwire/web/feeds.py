"""Atom 1.0 and RSS 2.0 feeds: daily papers, trending, a search, a category, an author.

Built with lxml (not string templates) so every title and abstract is escaped by the
serializer. Each route answers `.atom` and `.rss`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from lxml import etree

from paperwire.store import listings
from paperwire.text import tex_to_text
from paperwire.validate import xml_safe
from paperwire.web.deps import EngineDep, SettingsDep, StoreDep, TrendingMemoDep
from paperwire.web.queries import search_cards, trending_list, trending_note
from paperwire.web.security import rate_limit

router = APIRouter(prefix="/feeds", include_in_schema=False)
ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50


def _utc(ts: str | None) -> datetime | None:
    if not ts:
        return None
    if len(ts) == 10:
        ts += "T00:00:00Z"
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def _published(p) -> datetime | None:
    """A listing-only record knows only the day it was listed: that is its date, as in the JSON API."""
    return _utc(p.published) or _utc(p.listed) or _utc(p.updated)


def _updated(p) -> datetime | None:
    return _utc(p.updated) or _published(p)


def _rfc3339(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent, tag, text=None, **attrs):
    el = etree.SubElement(parent, tag, {k.rstrip("_"): _clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _clean(text)
    return el


def _noted(notes: dict[str, str] | None, pid: str, text: str) -> str:
    note = (notes or {}).get(pid)
    return f"{note}.\n\n{text}" if note else text


def _clean(s: str) -> str:
    # XML 1.0 forbids most control characters, U+FFFE/U+FFFF and lone surrogates; a title or a
    # query holding one (stored before the input check existed) must not break the feed
    return xml_safe(str(s))


def render_feed(request: Request, settings, fmt: str, title: str, page_url: str, cards: list,
                notes: dict[str, str] | None = None) -> Response:
    """`notes`: a line per paper id put before its abstract (why a paper is trending)."""
    base = settings.base_url.rstrip("/")
    self_url = base + request.url.path + (("?" + request.url.query) if request.url.query else "")
    # a feed without a dated entry is as new as the moment it is built (never 1970)
    updated = max((d for d in (_updated(c.paper) for c in cards) if d), default=None) or datetime.now(timezone.utc)
    if fmt == "atom":
        feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
        _sub(feed, f"{{{ATOM}}}title", title)
        _sub(feed, f"{{{ATOM}}}id", self_url)
        _sub(feed, f"{{{ATOM}}}updated", _rfc3339(updated))
        _sub(feed, f"{{{ATOM}}}link", href=self_url, rel="self", type="application/atom+xml")
        _sub(feed, f"{{{ATOM}}}link", href=base + page_url, rel="alternate", type="text/html")
        _sub(feed, f"{{{ATOM}}}generator", settings.site_name)
        for c in cards:
            p = c.paper
            e = _sub(feed, f"{{{ATOM}}}entry")
            _sub(e, f"{{{ATOM}}}title", tex_to_text(p.title_display))  # feed readers show text, not TeX
            _sub(e, f"{{{ATOM}}}id", f"{base}/papers/{p.id}")
            _sub(e, f"{{{ATOM}}}link", href=f"{base}/papers/{p.id}", rel="alternate", type="text/html")
            _sub(e, f"{{{ATOM}}}link", href=f"https://arxiv.org/pdf/{p.id}", rel="related", type="application/pdf")
            _sub(e, f"{{{ATOM}}}updated", _rfc3339(_updated(p) or updated))  # required in Atom
            if _published(p):
                _sub(e, f"{{{ATOM}}}published", _rfc3339(_published(p)))
            for a in p.authors[:50] or ["unknown"]:
                _sub(_sub(e, f"{{{ATOM}}}author"), f"{{{ATOM}}}name", a)
            for cat in p.categories:
                _sub(e, f"{{{ATOM}}}category", term=cat)
            _sub(e, f"{{{ATOM}}}summary", _noted(notes, p.id, tex_to_text(p.abstract_display)), type="text")
        body = etree.tostring(feed, xml_declaration=True, encoding="utf-8")
        return Response(body, media_type="application/atom+xml; charset=utf-8")
    rss = etree.Element("rss", version="2.0", nsmap={"atom": ATOM})
    ch = _sub(rss, "channel")
    _sub(ch, "title", title)
    _sub(ch, "link", base + page_url)
    _sub(ch, "description", f"{title} — {settings.site_name}")
    _sub(ch, f"{{{ATOM}}}link", href=self_url, rel="self", type="application/rss+xml")
    _sub(ch, "lastBuildDate", format_datetime(updated))
    for c in cards:
        p = c.paper
        it = _sub(ch, "item")
        _sub(it, "title", tex_to_text(p.title_display))
        _sub(it, "link", f"{base}/papers/{p.id}")
        _sub(it, "guid", f"{base}/papers/{p.id}", isPermaLink="true")
        if _published(p):
            _sub(it, "pubDate", format_datetime(_published(p)))
        _sub(it, "description", _noted(notes, p.id, tex_to_text(p.abstract_display)))
        for cat in p.categories:
            _sub(it, "category", cat)
    body = etree.tostring(rss, xml_declaration=True, encoding="utf-8")
    return Response(body, media_type="application/rss+xml; charset=utf-8")


FMT = "{fmt:str}"


def _fmt(fmt: str) -> str:
    if fmt not in ("atom", "rss"):
        raise HTTPException(404, "Feeds end in .atom or .rss")
    return fmt


@router.get("/daily.{fmt}")
def daily_feed(request: Request, fmt: str, store: StoreDep, settings: SettingsDep,
               date: str | None = Query(None, pattern=r"^\d{4}-\d{2}-\d{2}$")):
    # the site's daily list: the curated one (featured or submitted), else the day's new papers
    day = date or listings.latest_curated_day(store) or listings.latest_listing_day(store) or "0000-00-00"
    ids, total = listings.curated_ids(store, day, day, "upvotes", FEED_SIZE, 0)
    if not total:
        ids, _ = listings.new_ids(store, day, day, FEED_SIZE, 0)
    return render_feed(request, settings, _fmt(fmt), f"Daily papers {day}", f"/papers/date/{day}", listings.cards(store, ids))


@router.get("/trending.{fmt}")
def trending_feed(request: Request, fmt: str, store: StoreDep, settings: SettingsDep, memo: TrendingMemoDep,
                  window: str = Query("week", pattern="^(day|week|month)$")):
    _fmt(fmt)
    rows = trending_list(store, settings, memo, window, FEED_SIZE, 0)
    return render_feed(request, settings, fmt, f"Trending this {window}", f"/papers/trending?window={window}",
                       [c for _, c in rows], notes={t.paper_id: "Trending: " + trending_note(t) for t, _ in rows})


@router.get("/search.{fmt}", dependencies=[Depends(rate_limit("search", 120, 60))])
def search_feed(request: Request, fmt: str, store: StoreDep, settings: SettingsDep, engine: EngineDep,
                q: str = Query(..., min_length=1, max_length=500)):
    _fmt(fmt)
    try:
        cards = search_cards(store, engine, q, FEED_SIZE)
    except ValueError as exc:
        raise HTTPException(400, str(exc))
    return render_feed(request, settings, fmt, f"Search: {q}", "/papers?q=" + quote(q), cards)


@router.get("/category/{category}.{fmt}")
def category_feed(request: Request, category: str, fmt: str, store: StoreDep, settings: SettingsDep):
    _fmt(fmt)
    if len(category) > 40 or not listings.known_category(store, category):
        raise HTTPException(404, f"No papers in category {category!r}.")
    ids, _ = listings.category_ids(store, category, FEED_SIZE, 0)
    return render_feed(request, settings, fmt, f"Newest in {category}", f"/categories/{quote(category)}",
                       listings.cards(store, ids))


@router.get("/author/{name}.{fmt}")
def author_feed(request: Request, name: str, fmt: str, store: StoreDep, settings: SettingsDep):
    _fmt(fmt)
    ids, total = listings.author_ids(store, name[:200], FEED_SIZE, 0)
    if not total:
        raise HTTPException(404, f"No papers by {name!r}.")
    return render_feed(request, settings, fmt, f"Papers by {name}", f"/authors/{quote(name)}", listings.cards(store, ids))
