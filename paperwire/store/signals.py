"""Table access for trending signals: the `signals` observations, GitHub repo poll state,
local upvotes (the accounts' `upvotes` table, read-only here) and HF daily upvotes.

Every function takes ISO-8601 UTC bounds; the ranker works on what these return and does
no SQL of its own.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from paperwire.store.sqlite import Store, utcnow


# -- observations ----------------------------------------------------------------------------

def add_signals(store: Store, rows: Iterable[tuple[str, str, str, float, str]],
                conn: sqlite3.Connection | None = None) -> int:
    """Insert (paper_id, kind, ref, value, observed_at) rows; rows for unknown papers are skipped."""
    rows = [(pid, kind, ref or "", float(value), at) for pid, kind, ref, value, at in rows]
    if conn is None:
        with store.transaction() as c:
            return add_signals(store, rows, conn=c)
    # executemany, not a loop of execute: one round trip for a whole flush of a busy site's page
    # views on PostgreSQL (psycopg pipelines it) instead of one per row, while the write lock is
    # held; still one statement per row, so each row's trend credit sees the rows before it
    return conn.executemany(
        "INSERT INTO signals(paper_id, kind, ref, value, observed_at) "
        "SELECT ?,?,?,?,? WHERE EXISTS (SELECT 1 FROM papers WHERE id=?)",
        [(pid, kind, ref, value, at, pid) for pid, kind, ref, value, at in rows]).rowcount if rows else 0


def record_view(store: Store, paper_id: str, at: str | None = None) -> None:
    """One page view of a paper (the web layer calls this; counted by trending as 'views')."""
    add_signals(store, [(paper_id, "view", "", 1.0, at or utcnow())])


def signal_sums(store: Store, kind: str, start: str, end: str) -> dict[str, float]:
    """Sum of `value` per paper for observations of `kind` with start < observed_at <= end."""
    return {r[0]: float(r[1]) for r in store.query(
        "SELECT paper_id, SUM(value) FROM signals WHERE kind=? AND observed_at > ? AND observed_at <= ? "
        "GROUP BY paper_id", (kind, start, end))}


def star_history(store: Store, start: str, end: str) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """{paper_id: {repo: [(observed_at, stars), ...]}} for repos observed in (start, end], each
    series also carrying the last observation at or before `start` (the baseline of the window)."""
    out: dict[str, dict[str, list[tuple[str, float]]]] = defaultdict(lambda: defaultdict(list))
    active = store.query(
        "SELECT DISTINCT paper_id, ref FROM signals WHERE kind='github_stars' AND observed_at > ? AND observed_at <= ?",
        (start, end))
    for pid, ref in active:
        base = store.query_one(
            "SELECT observed_at, value FROM signals WHERE kind='github_stars' AND paper_id=? AND ref=? "
            "AND observed_at <= ? ORDER BY observed_at DESC, id DESC LIMIT 1", (pid, ref, start))
        series = [(base[0], float(base[1]))] if base else []
        series += [(r[0], float(r[1])) for r in store.query(
            "SELECT observed_at, value FROM signals WHERE kind='github_stars' AND paper_id=? AND ref=? "
            "AND observed_at > ? AND observed_at <= ? ORDER BY observed_at, id", (pid, ref, start, end))]
        out[pid][ref] = series
    return {k: dict(v) for k, v in out.items()}


# -- local upvotes and HF daily ----------------------------------------------------------------

def local_upvotes(store: Store, start: str, end: str) -> dict[str, int]:
    """Upvotes per paper cast in (start, end]."""
    return {r[0]: int(r[1]) for r in store.query(
        "SELECT paper_id, count(*) FROM upvotes WHERE created_at > ? AND created_at <= ? GROUP BY paper_id",
        (start, end))}


def hf_upvotes(store: Store, start_day: str, end_day: str) -> dict[str, int]:
    """HF daily-paper upvotes of papers featured on a day in (start_day, end_day] (YYYY-MM-DD)."""
    return {r[0]: int(r[1] or 0) for r in store.query(
        "SELECT paper_id, upvotes FROM hf_daily WHERE featured_on > ? AND featured_on <= ?",
        (start_day, end_day))}


def window_papers(store: Store, start_day: str, end_day: str) -> list[str]:
    """Visible papers first listed (or, unlisted, first published) on a day in (start_day, end_day]."""
    return [r[0] for r in store.query(
        "SELECT id FROM papers WHERE hidden=0 AND listed > ? AND listed <= ? "
        "UNION SELECT id FROM papers WHERE hidden=0 AND listed IS NULL "
        "AND substr(published,1,10) > ? AND substr(published,1,10) <= ?",
        (start_day, end_day, start_day, end_day))]


def paper_dates(store: Store, ids: Iterable[str]) -> dict[str, str | None]:
    """{id: YYYY-MM-DD the paper appeared} for visible papers (hidden ones are left out)."""
    ids = list(dict.fromkeys(ids))
    out: dict[str, str | None] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for r in store.query(
                f"SELECT p.id, COALESCE(p.listed, substr(p.published,1,10), h.featured_on) FROM papers p "
                f"LEFT JOIN hf_daily h ON h.paper_id=p.id WHERE p.hidden=0 AND p.id IN ({marks})", tuple(chunk)):
            out[r[0]] = r[1]
    return out


def latest_day(store: Store) -> str | None:
    """The newest listing (or publication) day in the store: the natural `now` for historical data."""
    r = store.query_one("SELECT max(listed) FROM papers")
    if r and r[0]:
        return r[0]
    r = store.query_one("SELECT max(substr(published,1,10)) FROM papers")
    return r[0] if r else None


# -- what trending reads: one window's signals per paper ----------------------------------------

_CREDIT = ("CASE WHEN t1 = t0 THEN amount "
           "ELSE amount * greatest(0.0, least(t1, :e) - greatest(t0, :s)) / (t1 - t0) END")


def _local_rows_sql(k: int) -> str:
    """The site's own signals in the k-th local range (:s{k}, :e{k}]: whole days from trend_daily
    (migration 0071), the partial first and last day from the raw rows. One row per source row,
    as (paper, upvotes, views, comments, 0, 0, 0)."""
    return f"""
    SELECT paper_id, upvotes, views, comments, 0, 0, 0 FROM trend_daily WHERE day > :sd{k} AND day < :ed{k}
    UNION ALL SELECT paper_id, 1, 0, 0, 0, 0, 0 FROM upvotes WHERE created_at > :s{k} AND created_at <= :sn{k}
    UNION ALL SELECT paper_id, 1, 0, 0, 0, 0, 0 FROM upvotes WHERE created_at >= :el{k} AND created_at <= :e{k}
    UNION ALL SELECT paper_id, 0, value, 0, 0, 0, 0 FROM signals
        WHERE kind = 'view' AND observed_at > :s{k} AND observed_at <= :sn{k}
    UNION ALL SELECT paper_id, 0, value, 0, 0, 0, 0 FROM signals
        WHERE kind = 'view' AND observed_at >= :el{k} AND observed_at <= :e{k}
    UNION ALL SELECT paper_id, 0, 0, 1, 0, 0, 0 FROM comments
        WHERE hidden = 0 AND created_at > :s{k} AND created_at <= :sn{k}
    UNION ALL SELECT paper_id, 0, 0, 1, 0, 0, 0 FROM comments
        WHERE hidden = 0 AND created_at >= :el{k} AND created_at <= :e{k}"""


def _window_cte(ranges: int) -> str:
    """WITH s (one row per source row) and g (those summed per paper) of a window."""
    local = "\n    UNION ALL".join(_local_rows_sql(k) for k in range(ranges))
    return f"""
WITH s(pid, up, vw, cm, hfu, hfc, st) AS ({local}
    UNION ALL
    SELECT paper_id, 0, 0, 0,
           CASE WHEN kind = 'hf_upvotes' THEN {_CREDIT} ELSE 0 END,
           CASE WHEN kind = 'hf_comments' THEN {_CREDIT} ELSE 0 END,
           CASE WHEN kind = 'github_stars' THEN {_CREDIT} ELSE 0 END
        FROM trend_credits INDEXED BY trend_credits_window
        WHERE kind IN ('hf_upvotes', 'hf_comments', 'github_stars') AND t1 > :s AND t0 <= :e
), g AS (
    SELECT pid, sum(up) AS up, sum(vw) AS vw, sum(cm) AS cm, sum(hfu) AS hfu, sum(hfc) AS hfc, sum(st) AS st
    FROM s GROUP BY pid
)"""


# the papers of g with their day, visible and with a signal
_WITH_DAY = """
SELECT g.pid AS pid, greatest(COALESCE(p.listed, substr(p.published, 1, 10), h.featured_on, ''),
                               COALESCE(h.featured_on, '')) AS day,
       g.up AS up, g.vw AS vw, g.cm AS cm, g.hfu AS hfu, g.hfc AS hfc, g.st AS st
FROM g JOIN papers p INDEXED BY papers_trend_day ON p.id = g.pid LEFT JOIN hf_daily h ON h.paper_id = g.pid
WHERE p.hidden = 0 AND (g.up > 0 OR g.vw > 0 OR g.cm > 0 OR g.hfu > 0 OR g.hfc > 0 OR g.st > 0)
"""


def _window_sql(ranges: int) -> str:
    return _window_cte(ranges) + _WITH_DAY


def _range_params(k: int, start: str, end: str) -> dict[str, str]:
    """Bounds of local range k: the first day's remainder (start, next midnight), the whole days
    strictly between, the last day's part [its midnight, end]; a range within one day is all edge."""
    sd, ed = start[:10], end[:10]
    if sd == ed:  # within one day: the first part reads (start, end], the last nothing ('9999' is after any time)
        return {f"s{k}": start, f"sn{k}": end, f"e{k}": end, f"el{k}": "9999", f"sd{k}": sd, f"ed{k}": ed}
    # 'DT24' sorts after every time of day D and before the next day's
    return {f"s{k}": start, f"sn{k}": sd + "T24", f"el{k}": ed, f"e{k}": end, f"sd{k}": sd, f"ed{k}": ed}


@dataclass(frozen=True)
class ScoreOrder:
    """The trending formula (paperwire.ranking.trending) as SQL can evaluate it, so a page needs
    only the best rows: weights of hf_upvotes, stars, upvotes, comments, views, recency; the
    half-life in days; the window's end day and length."""
    weights: tuple[float, float, float, float, float, float]
    half_life: float
    end_day: str
    window_days: float


_SIGNALS = ("(:w_hf * ln(1 + greatest(hfu, 0)) + :w_st * ln(1 + greatest(st, 0)) + :w_up * ln(1 + greatest(up, 0)) "
            "+ :w_cm * ln(1 + greatest(cm, 0) + greatest(hfc, 0)) + :w_vw * ln(1 + greatest(vw, 0)) + :w_rec)")
_DECAY = """pow(0.5, CASE WHEN :hl <= 0 THEN 0
                        WHEN day = '' THEN :wd / :hl
                        WHEN day >= :end_day THEN 0
                        ELSE greatest(0.0, :e - julianday(day)) / :hl END)"""

_SCORE_SQL = f"""
SELECT *, {_DECAY} * {_SIGNALS} AS score
FROM ({{inner}}) AS w ORDER BY score DESC, day DESC, pid LIMIT :limit
"""


def window_signals(store: Store, start: str, end: str, local_start: str | None = None,
                   local_end: str | None = None, best: tuple[ScoreOrder, int] | None = None,
                   ids_only: bool = False) -> list[tuple]:
    """Every visible paper with a signal in a window, one row each: (id, its day, local upvotes,
    views, local comments, HF upvotes gained, HF comments gained, GitHub stars gained). Its day
    is the latest of the days it appeared: listed (else first published) or featured on Hugging
    Face (a paper featured today is today's news, whenever arXiv listed it); '' if unknown.

    The Hugging Face and GitHub counts are what was gained in (start, end] (credits, see migration
    0070); the site's own upvotes, views and comments are counted in (start, end] and also in
    (local_start, local_end] (default: the same window), so an archive scored as of its newest
    data still counts this site's votes of the last real days. Bounds are ISO-8601 UTC
    'YYYY-MM-DDTHH:MM:SSZ'; two local ranges must not overlap.

    best=(order, n): only the n rows scoring highest under `order` (best first; a rank's exact
    order is the caller's), instead of every paper with a signal. ids_only: just the ids."""
    ranges = [(start, end)]
    if (local_start or start, local_end or end) != (start, end):
        ranges.append((local_start or start, local_end or end))
    params: dict = {"s": _julian(start), "e": _julian(end)}
    for k, (a, b) in enumerate(ranges):
        params.update(_range_params(k, a, b))
    sql = _window_sql(len(ranges))
    if ids_only:
        return [r[0] for r in store.query(_for_engine(store, f"SELECT pid FROM ({sql}) AS w"), params)]
    if best is not None:
        order, n = best
        w = dict(zip(("w_hf", "w_st", "w_up", "w_cm", "w_vw", "w_rec"), order.weights))
        params.update(w, hl=order.half_life, end_day=order.end_day, wd=order.window_days, limit=n)
        sql = _SCORE_SQL.format(inner=sql)
        return [tuple(r)[:8] for r in _query_math(store, _for_engine(store, sql), params)]
    return [tuple(r) for r in store.query(_for_engine(store, sql), params)]


def _for_engine(store: Store, sql: str) -> str:
    """The window SQL for the store's engine: it is written with PostgreSQL's scalar greatest()
    and least() and SQLite's INDEXED BY plan hints; SQLite calls the scalars max() and min(),
    PostgreSQL plans without hints."""
    if getattr(store, "dialect", "sqlite") == "postgresql":
        return re.sub(r"\s+INDEXED BY \w+", "", sql)
    return sql.replace("greatest(", "max(").replace("least(", "min(")


def _query_math(store: Store, sql: str, params: dict) -> list:
    """Run a query that uses SQLite's math functions; a SQLite built without them gets Python's."""
    try:
        return store.query(sql, params)
    except sqlite3.OperationalError as exc:
        if "no such function" not in str(exc):
            raise
        store.conn.create_function("ln", 1, math.log, deterministic=True)
        store.conn.create_function("pow", 2, math.pow, deterministic=True)
        return store.query(sql, params)


def _julian(iso: str) -> float:
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp() / 86400.0 + 2440587.5


def recent_papers(store: Store, start_day: str, end_day: str, skip: set[str], limit: int) -> list[tuple[str, str]]:
    """The newest `limit` visible papers that appeared on a day in (start_day, end_day] and are
    not in `skip`, as (id, day), newest day first, then by id: the tail of a trending list,
    the papers ranked by recency alone. Read a day at a time (both by index), newest first,
    so a page costs the days it shows, not the whole window."""
    out: list[tuple[str, str]] = []
    day = datetime.fromisoformat(end_day).date()
    first = datetime.fromisoformat(start_day).date()
    while len(out) < limit and day > first:
        d, nxt = day.isoformat(), (day + timedelta(days=1)).isoformat()
        rows = store.query(
            "SELECT id FROM papers WHERE hidden = 0 AND listed = ? UNION "
            "SELECT id FROM papers WHERE hidden = 0 AND listed IS NULL AND published >= ? AND published < ? "
            "ORDER BY id", (d, d, nxt))
        out.extend((r[0], d) for r in rows if r[0] not in skip)
        day -= timedelta(days=1)
    return out[:limit]


def rebuild_credits(store: Store) -> int:
    """Recompute every trending credit from the recorded observations, oldest first (as migration
    0070 does): needed only after observations were edited or inserted out of time order."""
    kinds = "('hf_upvotes', 'hf_comments', 'github_stars')"
    # The observations are moved out to a temporary table of this connection and inserted back,
    # so the signals_credit trigger turns each into its credit again. The unqualified name finds
    # the temporary table on both engines (SQLite's temp schema, PostgreSQL's pg_temp, both
    # searched first); creating it is part of the transaction, so a failure leaves nothing behind.
    # Inserted oldest first: SQLite's trigger reads the observations already there; PostgreSQL's
    # fires after the statement and finds each one's predecessor by (observed_at, id) itself.
    with store.transaction() as conn:
        conn.execute("DELETE FROM trend_credits")
        conn.execute(f"CREATE TEMP TABLE trend_replay AS SELECT * FROM signals WHERE kind IN {kinds}")
        conn.execute(f"DELETE FROM signals WHERE kind IN {kinds}")
        conn.execute("INSERT INTO signals(id, paper_id, kind, ref, value, observed_at) "
                     "SELECT id, paper_id, kind, ref, value, observed_at FROM trend_replay ORDER BY observed_at, id")
        conn.execute("DROP TABLE trend_replay")
        return conn.execute("SELECT count(*) FROM trend_credits").fetchone()[0]


def newest_data_day(store: Store) -> str | None:
    """The newest day the store has papers for: listed, first published or featured on Hugging
    Face. A store whose newest day is older than a trending window is scored as of that day."""
    days = [latest_day(store)]
    r = store.query_one("SELECT max(featured_on) FROM hf_daily")
    days.append(r[0] if r else None)
    days = [d for d in days if d]
    return max(days) if days else None


def paper_signal_details(store: Store, ids: Iterable[str]) -> dict[str, dict]:
    """For the papers a page shows: their total Hugging Face upvotes, featured day and the GitHub
    repositories with star counts (to name the parts of a score in words)."""
    ids = list(dict.fromkeys(ids))
    out: dict[str, dict] = {i: {"hf_total": None, "featured_on": None, "repos": []} for i in ids}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for pid, total, day in store.query(
                f"SELECT paper_id, upvotes, featured_on FROM hf_daily WHERE paper_id IN ({marks})", tuple(chunk)):
            out[pid]["hf_total"], out[pid]["featured_on"] = total, day
        for pid, ref in store.query(
                f"SELECT DISTINCT paper_id, ref FROM trend_credits WHERE kind = 'github_stars' "
                f"AND paper_id IN ({marks}) ORDER BY paper_id, ref", tuple(chunk)):
            out[pid]["repos"].append(ref)
    return out


# -- GitHub repositories ---------------------------------------------------------------------

def repos_to_refresh(store: Store, limit: int, since_day: str | None = None, now: str | None = None,
                     min_interval_hours: float = 20.0) -> list[tuple[str, list[str]]]:
    """The `limit` most relevant GitHub repos to poll: [(owner/name, [paper ids])].

    Order: repos not checked in the last `min_interval_hours` first (so a run that stopped on the
    rate limit continues where it left off), never-checked before checked, then newest paper first
    (fresh code gains stars fastest), then longest unchecked. Repos known missing are skipped.
    """
    rows = store.query(
        "SELECT l.url, l.paper_id, COALESCE(p.listed, substr(p.published,1,10), '') AS day "
        "FROM links l JOIN papers p ON p.id=l.paper_id WHERE l.kind='github' AND p.hidden=0 "
        + ("AND COALESCE(p.listed, substr(p.published,1,10)) >= ? " if since_day else ""),
        (since_day,) if since_day else ())
    by_repo: dict[str, dict] = {}
    for url, pid, day in rows:
        repo = repo_from_url(url)
        if not repo:
            continue
        entry = by_repo.setdefault(repo, {"papers": [], "day": ""})
        if pid not in entry["papers"]:
            entry["papers"].append(pid)
        entry["day"] = max(entry["day"], day or "")
    now_dt = datetime.fromisoformat((now or utcnow()).replace("Z", "+00:00"))
    recent = (now_dt - timedelta(hours=min_interval_hours)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    state = {r[0]: (r[1], r[2]) for r in store.query("SELECT repo, status, checked_at FROM github_repos")}
    ranked = []
    for repo, e in by_repo.items():
        status, checked = state.get(repo, ("new", None))
        if status == "missing":
            continue
        fresh = checked is not None and checked > recent
        ranked.append(((fresh, checked is not None, _desc(e["day"]), checked or "", repo), repo))
    ranked.sort()
    return [(repo, sorted(by_repo[repo]["papers"])) for _, repo in ranked[:limit]]


_REPO_URL = re.compile(
    r"^(?:https?://)?(?:www\.)?github\.com/([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+?)(?:\.git)?(?:[/?#].*)?$")


def _desc(s: str) -> str:
    # sorts a string in descending order inside an ascending sort key
    return "".join(chr(0x10FFFF - ord(c)) for c in s)


def repo_from_url(url: str) -> str | None:
    """'https://github.com/Owner/Name(.git)(/tree/...)' -> 'owner/name'; None if not a repo URL."""
    m = _REPO_URL.match(url.strip())
    if not m or m.group(2) in (".", ".."):
        return None
    return f"{m.group(1)}/{m.group(2)}".lower()


def get_repo_state(store: Store, repo: str) -> sqlite3.Row | None:
    return store.query_one("SELECT * FROM github_repos WHERE repo=?", (repo,))


def save_repo_state(store: Store, repo: str, *, status: str, http_status: int | None, etag: str | None = None,
                    stars: int | None = None, full_name: str | None = None, papers: Iterable[str] = (),
                    at: str | None = None) -> None:
    """Record a poll outcome; a 200 with a star count also adds a github_stars observation per paper
    (a 304 re-observes the unchanged count, which keeps velocity honest about elapsed time)."""
    at = at or utcnow()
    with store.transaction() as conn:
        old = conn.execute("SELECT stars FROM github_repos WHERE repo=?", (repo,)).fetchone()
        changed = old is None or (stars is not None and old[0] != stars)
        conn.execute(
            "INSERT INTO github_repos(repo, full_name, etag, stars, status, http_status, checked_at, changed_at) "
            "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(repo) DO UPDATE SET "
            "full_name=COALESCE(excluded.full_name, github_repos.full_name), "
            "etag=COALESCE(excluded.etag, github_repos.etag), stars=COALESCE(excluded.stars, github_repos.stars), "
            "status=excluded.status, http_status=excluded.http_status, checked_at=excluded.checked_at, "
            "changed_at=CASE WHEN ? = 1 THEN excluded.changed_at ELSE github_repos.changed_at END",
            (repo, full_name, etag, stars, status, http_status, at, at, 1 if changed else 0))
        if stars is not None:
            add_signals(store, [(pid, "github_stars", repo, stars, at) for pid in papers], conn=conn)
