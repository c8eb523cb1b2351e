"""List queries for the site: papers of a day/week/month, by author, by category, and the
"card" data a list shows (counts, submitter, code link) fetched in a fixed number of queries
per page (no per-paper queries).

Three lists of a day D:
- the *curated* list (curated_ids): the papers featured on Hugging Face's daily papers on D
  (hf_featured) or submitted by a user to D's list (submissions), by upvotes (site + Hugging
  Face), then code released, then the newest; the site's "Daily papers";
- *all new on arXiv* (new_ids): the papers first listed on D, ranked by the interest a record
  shows (upvotes, then evidence: code, GitHub stars, a project page, a venue named; see
  INTEREST_SQL and interest_reasons), the site's "All new" tab;
- everything on D (list_ids): listed, featured or submitted that day (the feeds' union).
Being featured or submitted adds a curated day to a paper; it never changes its listing or
publication dates.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, timedelta

from paperwire.models import CODE_KINDS, Paper
from paperwire.store.papers import get_papers
from paperwire.store.sqlite import Store
from paperwire.validate import http_url


@dataclasses.dataclass
class Card:
    paper: Paper
    upvotes: int = 0            # site upvotes + upvotes imported from Hugging Face
    local_upvotes: int = 0
    comments: int = 0
    code_url: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    submitter: str | None = None  # site user name, or the HF submitter
    submitted_on: str | None = None  # the daily list the paper is on (YYYY-MM-DD)
    curated_on: str | None = None  # the newest day it was featured on HF or submitted here, else None
    ai_summary: str | None = None  # Hugging Face's AI summary, when it has one
    ai_keywords: list[str] = dataclasses.field(default_factory=list)  # Hugging Face's AI keywords
    organization: dict | None = None  # Hugging Face's organisation {"name", "fullname", "avatar"}
    hf_comments: int = 0  # comments on the paper's Hugging Face page (numComments)
    hf_item: dict | None = None  # the Hugging Face API item as it was received

    @property
    def id(self) -> str:
        return self.paper.id


def _chunks(ids: list[str], n: int = 500):
    for i in range(0, len(ids), n):
        yield ids[i:i + n]


def cards(store: Store, ids, with_details: bool = True) -> list[Card]:
    """Cards for `ids`, in that order; hidden and unknown papers are dropped."""
    ids = list(dict.fromkeys(ids))
    papers = get_papers(store, ids, with_details=with_details)
    out = {pid: Card(p) for pid, p in papers.items() if not p.hidden}
    live = list(out)
    for chunk in _chunks(live):
        marks = ",".join("?" * len(chunk))
        for r in store.query(f"SELECT paper_id, upvotes, comments FROM paper_counts WHERE paper_id IN ({marks})", chunk):
            out[r[0]].local_upvotes, out[r[0]].comments = r[1], r[2]
        for r in store.query(f"SELECT paper_id, upvotes, submitted_by, github_repo, github_stars, project_page, featured_on, "
                             f"ai_summary, ai_keywords, organization, num_comments, item "
                             f"FROM hf_daily WHERE paper_id IN ({marks})", chunk):
            c = out[r[0]]
            c.upvotes = r[1] or 0
            c.submitter, c.code_url, c.github_stars, c.project_page, c.submitted_on = r[2], r[3], r[4], r[5], r[6]
            c.ai_summary, c.ai_keywords = r[7], json.loads(r[8]) if r[8] else []
            c.organization, c.hf_comments = json.loads(r[9]) if r[9] else None, r[10] or 0
            if with_details and r[11]:
                c.hf_item = json.loads(r[11])
        for r in store.query(f"SELECT paper_id, max(day) FROM hf_featured WHERE paper_id IN ({marks}) GROUP BY paper_id",
                             chunk):
            out[r[0]].curated_on = r[1]
        for r in store.query(f"SELECT s.paper_id, u.username, s.day FROM submissions s JOIN users u ON u.id = s.user_id "
                             f"WHERE s.paper_id IN ({marks})", chunk):
            c = out[r[0]]
            c.submitter, c.submitted_on = r[1], r[2]
            c.curated_on = max(c.curated_on or "", r[2])
    for c in out.values():
        c.upvotes += c.local_upvotes
        # only http(s) URLs are links anywhere (pages, feeds, digests, API): a source's
        # "javascript:..." is dropped here, where every card is made
        c.code_url, c.project_page = http_url(c.code_url), http_url(c.project_page)
        if not c.code_url:
            code = [l for l in c.paper.links if l.kind in CODE_KINDS and http_url(l.url)]
            code.sort(key=lambda l: l.origin != "hf")
            c.code_url = code[0].url if code else None
        if not c.project_page:
            c.project_page = next((l.url for l in c.paper.links if l.kind == "project" and http_url(l.url)), None)
        if not c.submitted_on:
            c.submitted_on = c.paper.listed
    return [out[i] for i in ids if i in out]


# --- days ----------------------------------------------------------------------------------------

def latest_day(store: Store) -> str | None:
    """The newest day that has any paper on its list (the demo data is historical, so not 'today')."""
    days = [
        store.query_one("SELECT listed FROM papers WHERE listed IS NOT NULL AND hidden=0 ORDER BY listed DESC LIMIT 1"),
        store.query_one("SELECT featured_on FROM hf_daily WHERE featured_on IS NOT NULL ORDER BY featured_on DESC LIMIT 1"),
        store.query_one("SELECT day FROM submissions ORDER BY day DESC LIMIT 1"),
    ]
    days = [r[0] for r in days if r and r[0]]
    return max(days) if days else None


def neighbour_days(store: Store, day: str) -> tuple[str | None, str | None]:
    """(previous, next) days that have papers, around `day`."""
    prev = [store.query_one("SELECT max(listed) FROM papers WHERE listed < ?", (day,)),
            store.query_one("SELECT max(featured_on) FROM hf_daily WHERE featured_on < ?", (day,)),
            store.query_one("SELECT max(day) FROM submissions WHERE day < ?", (day,))]
    nxt = [store.query_one("SELECT min(listed) FROM papers WHERE listed > ?", (day,)),
           store.query_one("SELECT min(featured_on) FROM hf_daily WHERE featured_on > ?", (day,)),
           store.query_one("SELECT min(day) FROM submissions WHERE day > ?", (day,))]
    p = [r[0] for r in prev if r and r[0]]
    n = [r[0] for r in nxt if r and r[0]]
    return (max(p) if p else None), (min(n) if n else None)


def week_range(week: str) -> tuple[str, str]:
    """'2026-W25' -> ('2026-06-15', '2026-06-21') (ISO weeks, Monday first). ValueError if malformed."""
    y, w = week.split("-W")
    start = date.fromisocalendar(int(y), int(w), 1)
    if start.year == date.max.year and start.month == 12 and start.day > 25:
        raise ValueError(f"{week} ends after the last day a date can have")  # 9999-W52 would overflow
    return start.isoformat(), (start + timedelta(days=6)).isoformat()


def month_range(month: str) -> tuple[str, str]:
    """'2026-06' -> ('2026-06-01', '2026-06-30'). ValueError if malformed."""
    y, m = (int(x) for x in month.split("-"))
    start = date(y, m, 1)
    end = date.max if (y, m) == (date.max.year, 12) else date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)
    return start.isoformat(), end.isoformat()


_SORTS = {
    # site upvotes + HF upvotes, newest id first on ties
    "upvotes": "(COALESCE(pc.upvotes, 0) + COALESCE(h.upvotes, 0)) DESC, p.id DESC",
    # listing records carry only the listing day: fall back to it
    "published": "COALESCE(p.published, p.listed) DESC, p.id DESC",
}


def list_ids(store: Store, start: str, end: str, sort: str = "upvotes", limit: int = 30, offset: int = 0,
             submitter: str | None = None) -> tuple[list[str], int]:
    """Ids on the lists of days start..end (inclusive), sorted; and how many there are in all."""
    order = _SORTS.get(sort, _SORTS["upvotes"])
    # The hidden filter sits inside each branch, written "+p.hidden" so it is checked per row:
    # as a join constraint outside, SQLite built a Bloom filter over ALL papers for it (a full
    # table scan per request, which grows with the store to seconds on a large one).
    if submitter:
        cand = ("SELECT s.paper_id AS pid FROM submissions s JOIN users u ON u.id = s.user_id "
                "JOIN papers p ON p.id = s.paper_id "
                "WHERE s.day BETWEEN :s AND :e AND u.username = :who AND +p.hidden = 0 "
                "UNION SELECT h.paper_id FROM hf_daily h JOIN papers p ON p.id = h.paper_id "
                "WHERE h.featured_on BETWEEN :s AND :e AND h.submitted_by = :who AND +p.hidden = 0")
    else:
        cand = ("SELECT id AS pid FROM papers WHERE listed BETWEEN :s AND :e AND hidden = 0 "
                "UNION SELECT h.paper_id FROM hf_daily h JOIN papers p ON p.id = h.paper_id "
                "WHERE h.featured_on BETWEEN :s AND :e AND +p.hidden = 0 "
                "UNION SELECT x.paper_id FROM submissions x JOIN papers p ON p.id = x.paper_id "
                "WHERE x.day BETWEEN :s AND :e AND +p.hidden = 0")
    params = {"s": start, "e": end, "who": submitter, "limit": limit, "offset": offset}
    return _ranked_page(store, cand, order, params)


def _ranked_page(store: Store, cand: str, order: str, params: dict) -> tuple[list[str], int]:
    """One page of the candidate ids `cand` (a query naming them `pid`, hidden papers left out),
    sorted by `order`, and how many there are in all."""
    rows = store.query(
        f"WITH c AS ({cand}) SELECT p.id, count(*) OVER () FROM c JOIN papers p ON p.id = c.pid "
        f"LEFT JOIN paper_counts pc ON pc.paper_id = p.id LEFT JOIN hf_daily h ON h.paper_id = p.id "
        f"ORDER BY {order} LIMIT :limit OFFSET :offset", params)
    if rows:
        return [r[0] for r in rows], rows[0][1]
    # the window count comes with the rows, so a page past the end asks for the total on its own
    if params["offset"]:
        return [], store.query_one(f"WITH c AS ({cand}) SELECT count(*) FROM c", params)[0]
    return [], 0


# --- the curated list ("Daily papers") and all new papers ("All new on arXiv") -------------------

# The keys of both lists from the source tables (p: papers, pc: paper_counts, h: hf_daily), as
# listing_rank keeps them (listing_rank_drift compares the two).
_UPVOTES = "(COALESCE(pc.upvotes, 0) + COALESCE(h.upvotes, 0))"
_HAS_CODE = ("(CASE WHEN EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN "
             f"({', '.join(repr(k) for k in CODE_KINDS)})) THEN 1 ELSE 0 END)")
# the same orders over listing_rank (migration 0090), which keeps these keys per paper
_RANKED_SORTS = {
    # upvotes (site + Hugging Face); ties: code released, then the newest
    "upvotes": "r.upvotes DESC, r.has_code DESC, r.newest DESC, r.paper_id DESC",
    "published": "r.newest DESC, r.paper_id DESC",
}


def _curated_candidates(submitter: str | None) -> str:
    if submitter:
        return ("SELECT s.paper_id AS pid FROM submissions s JOIN users u ON u.id = s.user_id "
                "WHERE s.day BETWEEN :s AND :e AND u.username = :who "
                "UNION SELECT f.paper_id FROM hf_featured f JOIN hf_daily h ON h.paper_id = f.paper_id "
                "WHERE f.day BETWEEN :s AND :e AND h.submitted_by = :who")
    return ("SELECT paper_id AS pid FROM hf_featured WHERE day BETWEEN :s AND :e "
            "UNION SELECT paper_id FROM submissions WHERE day BETWEEN :s AND :e")


def curated_ids(store: Store, start: str, end: str, sort: str = "upvotes", limit: int = 30, offset: int = 0,
                submitter: str | None = None) -> tuple[list[str], int]:
    """Ids on the curated lists of days start..end (featured on Hugging Face or submitted here),
    sorted; and how many there are in all. The sort keys come from listing_rank (migration 0090):
    one narrow row per paper, so a day's ~40 papers cost no read of the wide papers rows."""
    order = _RANKED_SORTS.get(sort, _RANKED_SORTS["upvotes"])
    params = {"s": start, "e": end, "who": submitter, "limit": limit, "offset": offset}
    rows = store.query(
        f"WITH c AS ({_curated_candidates(submitter)}) SELECT r.paper_id, count(*) OVER () FROM c "
        f"JOIN listing_rank r ON r.paper_id = c.pid WHERE r.hidden = 0 ORDER BY {order} LIMIT :limit OFFSET :offset",
        params)
    if rows:
        return [r[0] for r in rows], rows[0][1]
    if offset:  # a page past the end: the window count came with no row
        return [], store.query_one(f"WITH c AS ({_curated_candidates(submitter)}) SELECT count(*) FROM c "
                                   f"JOIN listing_rank r ON r.paper_id = c.pid WHERE r.hidden = 0", params)[0]
    return [], 0


def latest_curated_day(store: Store) -> str | None:
    """The newest day with a curated list (None on a fresh install with no curation yet)."""
    days = [store.query_one("SELECT max(day) FROM hf_featured"), store.query_one("SELECT max(day) FROM submissions")]
    days = [r[0] for r in days if r and r[0]]
    return max(days) if days else None


def latest_listing_day(store: Store) -> str | None:
    r = store.query_one("SELECT listed FROM papers WHERE listed IS NOT NULL AND hidden=0 ORDER BY listed DESC LIMIT 1")
    return r[0] if r else None


def curated_neighbours(store: Store, day: str) -> tuple[str | None, str | None]:
    """(previous, next) days that have a curated list, around `day`."""
    prev = [store.query_one("SELECT max(day) FROM hf_featured WHERE day < ?", (day,)),
            store.query_one("SELECT max(day) FROM submissions WHERE day < ?", (day,))]
    nxt = [store.query_one("SELECT min(day) FROM hf_featured WHERE day > ?", (day,)),
           store.query_one("SELECT min(day) FROM submissions WHERE day > ?", (day,))]
    p = [r[0] for r in prev if r and r[0]]
    n = [r[0] for r in nxt if r and r[0]]
    return (max(p) if p else None), (min(n) if n else None)


def listing_neighbours(store: Store, day: str) -> tuple[str | None, str | None]:
    """(previous, next) arXiv listing days around `day`."""
    p = store.query_one("SELECT max(listed) FROM papers WHERE listed < ?", (day,))
    n = store.query_one("SELECT min(listed) FROM papers WHERE listed > ?", (day,))
    return (p[0] if p else None), (n[0] if n else None)


# Words in a paper's comments that name where it appeared or will appear.
VENUE_WORDS = ("accepted", "to appear", "published in", "camera-ready", "camera ready")
VENUE_RE = re.compile(r"\b(?:accepted|to appear|published in|camera[- ]ready)\b[^.;]*", re.I)
# How much each kind of evidence weighs in the "All new" ranking (see docs/ranking.md).
EVIDENCE_POINTS = {"code": 3, "stars": 1, "project": 2, "venue": 2}
_HAS_PROJECT = ("(CASE WHEN h.project_page IS NOT NULL OR EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id "
                "AND l.kind = 'project') THEN 1 ELSE 0 END)")
# lower(): LIKE ignores ASCII case in SQLite, not in PostgreSQL
_HAS_VENUE = "(CASE WHEN p.journal_ref IS NOT NULL OR " + " OR ".join(
    f"lower(COALESCE(p.comments, '')) LIKE '%{w}%'" for w in VENUE_WORDS) + " THEN 1 ELSE 0 END)"
_STAR_TIERS = "(" + " + ".join(f"(CASE WHEN COALESCE(h.github_stars, 0) >= {n} THEN 1 ELSE 0 END)" for n in (10, 100, 1000)) + ")"
# The evidence of interest a record carries by itself, in points (what interest_reasons says in words).
EVIDENCE_SQL = (f"({EVIDENCE_POINTS['code']} * {_HAS_CODE} + {EVIDENCE_POINTS['stars']} * {_STAR_TIERS} + "
                f"{EVIDENCE_POINTS['project']} * {_HAS_PROJECT} + {EVIDENCE_POINTS['venue']} * {_HAS_VENUE})")


def new_ids(store: Store, start: str, end: str, limit: int = 30, offset: int = 0) -> tuple[list[str], int]:
    """Ids of the papers first listed on days start..end, ranked: trending signals first
    (upvotes here and on Hugging Face), then the evidence of interest in the record itself
    (EVIDENCE_SQL), then the newest id; and how many there are in all.

    Read from listing_rank (migration 0090), whose rows the triggers keep equal to those keys:
    a day's page walks listing_rank_day in its order and stops after `offset + limit` entries,
    and the count is a range of the same index."""
    total = store.query_one("SELECT count(*) FROM listing_rank WHERE listed BETWEEN ? AND ? AND hidden = 0",
                            (start, end))[0]
    if not limit or offset >= total:
        return [], total
    rows = store.query("SELECT paper_id FROM listing_rank WHERE listed BETWEEN ? AND ? AND hidden = 0 "
                       "ORDER BY upvotes DESC, evidence DESC, paper_id DESC LIMIT ? OFFSET ?",
                       (start, end, limit, offset))
    return [r[0] for r in rows], total


def listing_rank_drift(store: Store) -> list[str]:
    """Papers whose listing_rank row (migration 0090) differs from their keys computed from the
    source tables, or is missing: empty while its triggers keep it right."""
    return [r[0] for r in store.query(
        f"SELECT p.id FROM papers p LEFT JOIN listing_rank r ON r.paper_id = p.id "
        f"LEFT JOIN paper_counts pc ON pc.paper_id = p.id LEFT JOIN hf_daily h ON h.paper_id = p.id "
        f"WHERE r.paper_id IS NULL OR r.listed IS DISTINCT FROM p.listed OR r.hidden <> p.hidden "
        f"OR r.newest IS DISTINCT FROM COALESCE(p.published, p.listed) OR r.upvotes <> {_UPVOTES} "
        f"OR r.has_code <> {_HAS_CODE} OR r.evidence <> {EVIDENCE_SQL} ORDER BY p.id")]


def interest_reasons(card: Card) -> list[str]:
    """Why a paper ranks where it does on the "All new" list, in words, strongest first."""
    out = []
    if card.upvotes:
        out.append(f"{card.upvotes:,} upvote{'s' if card.upvotes != 1 else ''}")
    if card.code_url:
        stars = f", ★ {card.github_stars:,} on GitHub" if card.github_stars else ""
        out.append(f"code released{stars}")
    if card.project_page:
        out.append("project page")
    p = card.paper
    venue = p.journal_ref or (VENUE_RE.search(p.comments or "") or [None])[0]
    if venue:
        out.append(f"venue named: {venue.strip()[:80]}")
    return out


def author_ids(store: Store, name: str, limit: int = 30, offset: int = 0) -> tuple[list[str], int]:
    rows = store.query(
        "SELECT p.id, count(*) OVER () FROM paper_authors a JOIN papers p ON p.id = a.paper_id "
        "WHERE a.name = ? COLLATE NOCASE AND +p.hidden = 0 GROUP BY p.id "
        "ORDER BY COALESCE(p.listed, substr(p.published, 1, 10)) DESC, p.id DESC LIMIT ? OFFSET ?",
        (name, limit, offset))
    return [r[0] for r in rows], (rows[0][1] if rows else 0)


def category_ids(store: Store, category: str, limit: int = 30, offset: int = 0) -> tuple[list[str], int]:
    """Newest first. New-style ids (YYMM.NNNNN) are numbered in submission order, so walking the
    (category, paper_id) index backwards lists them newest first without sorting a large
    category (cs.LG has 100k+ papers at 1M); old-style ids ('hep-th/9901001', which sort after
    digits) follow, by publication date."""
    total, n_new = store.query_one("SELECT count(*), COALESCE(sum(CASE WHEN paper_id < 'A' THEN 1 ELSE 0 END), 0) "
                                   "FROM paper_categories WHERE category = ?", (category,))
    n_new = int(n_new)
    ids: list[str] = []
    if offset < n_new:
        ids = [r[0] for r in store.query(
            "SELECT c.paper_id FROM paper_categories c JOIN papers p ON p.id = c.paper_id "
            "WHERE c.category = ? AND c.paper_id < 'A' AND +p.hidden = 0 ORDER BY c.paper_id DESC LIMIT ? OFFSET ?",
            (category, limit, offset))]
    if len(ids) < limit and total > n_new:
        ids += [r[0] for r in store.query(
            "SELECT p.id FROM paper_categories c JOIN papers p ON p.id = c.paper_id "
            "WHERE c.category = ? AND c.paper_id >= 'A' AND +p.hidden = 0 "
            "ORDER BY p.published DESC, p.id DESC LIMIT ? OFFSET ?",
            (category, limit - len(ids), max(0, offset - n_new)))]
    return ids, total


def known_category(store: Store, category: str) -> bool:
    return store.query_one("SELECT 1 FROM paper_categories WHERE category = ? LIMIT 1", (category,)) is not None


def hf_extra(store: Store, paper_id: str) -> dict | None:
    r = store.query_one("SELECT featured_on, upvotes, submitted_by, github_repo, github_stars, project_page "
                        "FROM hf_daily WHERE paper_id = ?", (paper_id,))
    return dict(r) if r else None
