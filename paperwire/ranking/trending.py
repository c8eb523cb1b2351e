"""Trending: a transparent, pure score over (papers, signals, now), every part named in words.

    score(p) = decay(p) * ( w_hf   * ln(1 + Hugging Face upvotes gained in the window)
                          + w_star * ln(1 + GitHub stars gained in the window)
                          + w_up   * ln(1 + upvotes cast here in the window)
                          + w_comm * ln(1 + comments here + on Hugging Face in the window)
                          + w_view * ln(1 + page views here in the window)
                          + w_rec )
    decay(p) = 0.5 ** (age_days(p) / half_life(window))

Every term is reported in ``Trend.parts`` (already multiplied by the decay), so the parts sum
to the score, and in ``Trend.reasons`` as a sentence ("212 upvotes on Hugging Face", "+1,240
GitHub stars this week", "7 upvotes here"). Weights and half-lives are Settings (trend_*).
Written out with a worked example from real data in docs/ranking.md.

What was gained in a window comes from the store's credits (migration 0070): one SQL aggregate
over the papers that have a signal. Papers without any signal only carry the recency term, so
their order is newest first; they are read from the papers table as a second, already sorted
stream and merged in, and Trend objects are made for the requested page only.

``window_end`` decides where a window ends: at the clock on a live install, or, for a store whose
newest data is older than the window (the demo, an archive), at the end of its newest day
("as of D"), while this site's own votes, views and comments keep counting up to the clock.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import numpy as np

from paperwire.config import Settings
from paperwire.store import signals as sig

WINDOWS = {"day": 1, "week": 7, "month": 30}
# the parts of a score, in the order a "why" panel lists them
PARTS = ("hf_upvotes", "stars", "upvotes", "comments", "views", "recency")
_IN_WINDOW = {"day": "in the last day", "week": "this week", "month": "this month"}


@dataclass
class Reason:
    part: str  # the key in Trend.parts
    text: str  # the part in words: "212 upvotes on Hugging Face"
    points: float  # = Trend.parts[part]


@dataclass
class Trend:
    paper_id: str
    score: float
    parts: dict[str, float]
    # raw inputs behind the parts (counts gained in the window, age, decay); not summed
    inputs: dict[str, float] = field(default_factory=dict)
    reasons: list[Reason] = field(default_factory=list)  # the non-zero parts, largest first
    freshness: str = ""  # one sentence on the paper's age and what the decay did to its signals


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_utc(now: datetime | date | str | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc).replace(microsecond=0)
    if isinstance(now, str):
        now = datetime.fromisoformat(now.replace("Z", "+00:00")) if "T" in now else date.fromisoformat(now)
    if isinstance(now, datetime):
        return now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    # a bare date means the end of that day: everything listed on it is in the window
    return datetime(now.year, now.month, now.day, 23, 59, 59, tzinfo=timezone.utc)


def latest_now(store) -> datetime | None:
    """End of the newest listing day in the store: the `now` to use for historical data."""
    day = sig.latest_day(store)
    return as_utc(date.fromisoformat(day)) if day else None


@dataclass(frozen=True)
class WindowEnd:
    now: datetime  # where the window over the papers' data ends
    local_now: datetime  # where the window over this site's own votes, views and comments ends
    as_of: date | None  # set when the store is older than the window: "as of D"


def window_end(store, window: str, clock: datetime | date | str | None = None) -> WindowEnd:
    """The end of a trending window: the clock (default: now), unless the store's newest day
    ended more than the window's length before it; then the end of that newest day, as of
    which the store is scored."""
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}, not {window!r}")
    real = as_utc(clock)
    day = sig.newest_data_day(store)
    if day:
        newest = as_utc(date.fromisoformat(day))
        if newest < real - timedelta(days=WINDOWS[window]):
            return WindowEnd(newest, real, newest.date())
    return WindowEnd(real, real, None)


def _half_life(s: Settings, window: str) -> float:
    return {"day": s.trend_half_life_day, "week": s.trend_half_life_week, "month": s.trend_half_life_month}[window]


def _decay(days: list[str | None], end: datetime, window: str, half_life: float) -> tuple[np.ndarray, np.ndarray]:
    """(age in days, decay) per paper day; a paper of the window's last day is age 0 whatever
    the hour, a paper without a day is as old as the window."""
    end_day = end.date().isoformat()
    ages: dict[str | None, float] = {}
    for d in set(days):
        if not d:
            ages[d] = float(WINDOWS[window])
        elif d >= end_day:
            ages[d] = 0.0
        else:
            start = datetime.fromisoformat(d[:10]).replace(tzinfo=timezone.utc)
            ages[d] = max(0.0, (end - start).total_seconds() / 86400)
    age = np.array([ages[d] for d in days], dtype=np.float64)
    decay = np.power(0.5, age / half_life) if half_life > 0 else np.ones_like(age)
    return age, decay


def trending(store, window: str = "day", now: datetime | date | str | None = None, limit: int = 50,
             offset: int = 0, settings: Settings | None = None,
             local_now: datetime | date | str | None = None) -> list[Trend]:
    """Papers trending in the window ending at `now`, best first (ties broken by newer, then id).

    `local_now` ends the window for this site's own upvotes, views and comments (default: `now`).
    """
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}, not {window!r}")
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must be >= 0")
    s = settings or Settings()
    end = as_utc(now)
    local_end = as_utc(local_now) if local_now is not None else end
    span = timedelta(days=WINDOWS[window])
    start = end - span
    half_life = _half_life(s, window)

    want = offset + limit
    bounds = (_iso(start), _iso(end), _iso(local_end - span), _iso(local_end))
    # SQL ranks the papers with a signal by the same formula and returns the best few (a margin
    # for rounding); their exact scores, parts and order are computed here
    order = sig.ScoreOrder((s.trend_weight_hf, s.trend_weight_stars, s.trend_weight_upvotes,
                            s.trend_weight_comments, s.trend_weight_views, s.trend_weight_recency),
                           half_life, end.date().isoformat(), float(WINDOWS[window]))
    fetched = want + 20
    rows = sig.window_signals(store, *bounds, best=(order, fetched)) if want else []
    ranked = _score_signalled(rows, end, window, half_life, s, want)
    # a paper without signals scores at most w_rec: when the page is full of better ones, the
    # recency-only tail cannot reach it
    if want == 0 or (len(ranked) >= want and ranked[want - 1][0][0] < -s.trend_weight_recency):
        tail = iter(())
    else:
        skip = {r[0] for r in rows} if len(rows) < fetched else set(sig.window_signals(store, *bounds, ids_only=True))
        tail = _recency_tail(store, start, end, window, half_life, s, skip, want)
    merged = list(heapq.merge(ranked, tail, key=lambda t: t[0]))[offset:want]
    out = [make() for _, make in merged]
    _explain(store, out, window, end, half_life)
    return out


def _score_signalled(rows: list[tuple], end: datetime, window: str, half_life: float, s: Settings,
                     want: int) -> list[tuple]:
    """[(sort key, Trend factory)] for the best `want` papers with a signal, best first: the
    scores of all of them in arrays, Trend objects only for those a page can show."""
    if not rows or want <= 0:
        return []
    ids = np.array([r[0] for r in rows])
    age, decay = _decay([r[1] for r in rows], end, window, half_life)
    raw = np.maximum(np.array([r[2:] for r in rows], dtype=np.float64).reshape(len(rows), 6), 0.0)
    up, views, comments, hf, hf_comments, stars = raw.T
    parts = {
        "hf_upvotes": decay * s.trend_weight_hf * np.log1p(hf),
        "stars": decay * s.trend_weight_stars * np.log1p(stars),
        "upvotes": decay * s.trend_weight_upvotes * np.log1p(up),
        "comments": decay * s.trend_weight_comments * np.log1p(comments + hf_comments),
        "views": decay * s.trend_weight_views * np.log1p(views),
        "recency": decay * s.trend_weight_recency,
    }
    score = np.zeros(len(rows))
    for k in PARTS:  # left to right, as sum(parts.values()) adds them
        score = score + parts[k]
    order = np.lexsort((ids, -decay, -score))  # best first; ties: newer, then id
    order = order[score[order] > 0][:want]
    out = []
    for i in order.tolist():
        def make(i=i):
            inputs = {"hf_upvotes": float(hf[i]), "stars": float(stars[i]), "upvotes": float(up[i]),
                      "comments": float(comments[i]), "hf_comments": float(hf_comments[i]),
                      "views": float(views[i]), "age_days": float(age[i]), "decay": float(decay[i])}
            return Trend(str(ids[i]), float(score[i]), {k: float(parts[k][i]) for k in PARTS}, inputs)

        out.append(((-float(score[i]), -float(decay[i]), str(ids[i])), make))
    return out


def _recency_tail(store, start: datetime, end: datetime, window: str, half_life: float, s: Settings,
                  skip: set[str], want: int):
    """The papers of the window without any signal, as a sorted stream of (key, Trend factory):
    their score is the recency term alone, so newest first (then by id) is their order."""
    if s.trend_weight_recency <= 0 or want <= 0:
        return iter(())
    rows = sig.recent_papers(store, start.date().isoformat(), end.date().isoformat(), skip, want)
    age, decay = _decay([d for _, d in rows], end, window, half_life)

    def stream():
        for (pid, _), a, dc in zip(rows, age.tolist(), decay.tolist()):
            rec = dc * s.trend_weight_recency

            def make(pid=pid, a=a, dc=dc, rec=rec):
                parts = {k: 0.0 for k in PARTS}
                parts["recency"] = rec
                inputs = {"hf_upvotes": 0.0, "stars": 0.0, "upvotes": 0.0, "comments": 0.0, "hf_comments": 0.0,
                          "views": 0.0, "age_days": a, "decay": dc}
                return Trend(pid, rec, parts, inputs)

            yield (-rec, -dc, pid), make

    return stream()


# --- the parts in words ----------------------------------------------------------------------------

def _n(x: float, one: str, many: str) -> str:
    k = int(round(x))
    return f"{k:,} {one if k == 1 else many}"


def _explain(store, trends: list[Trend], window: str, end: datetime, half_life: float) -> None:
    """Fill in each Trend's reasons and freshness sentence."""
    if not trends:
        return
    details = sig.paper_signal_details(store, [t.paper_id for t in trends])
    when = _IN_WINDOW[window]
    for t in trends:
        d, x = details.get(t.paper_id, {}), t.inputs
        texts = {}
        if x["hf_upvotes"] > 0:
            total = d.get("hf_total")
            gained = int(round(x["hf_upvotes"]))
            texts["hf_upvotes"] = (_n(gained, "upvote", "upvotes") + " on Hugging Face" if total == gained
                                   else "+" + _n(gained, "upvote", "upvotes") + f" on Hugging Face {when}")
        if x["stars"] > 0:
            repos = d.get("repos") or []
            texts["stars"] = ("+" + _n(x["stars"], "GitHub star", "GitHub stars") + f" {when}"
                              + (f" ({repos[0]})" if len(repos) == 1 else ""))
        if x["upvotes"] > 0:
            texts["upvotes"] = _n(x["upvotes"], "upvote", "upvotes") + " here"
        if x["comments"] > 0 or x["hf_comments"] > 0:
            said = [_n(x["comments"], "comment", "comments") + " here"] if x["comments"] > 0 else []
            if x["hf_comments"] > 0:
                said.append(_n(x["hf_comments"], "comment", "comments") + " on Hugging Face")
            texts["comments"] = " and ".join(said)
        if x["views"] > 0:
            texts["views"] = _n(x["views"], "view", "views") + " here"
        texts["recency"] = "new in this window" if x["age_days"] < WINDOWS[window] else "recency"
        t.reasons = sorted((Reason(k, texts[k], t.parts[k]) for k in PARTS if k in texts and t.parts[k] > 0),
                           key=lambda r: (r.part == "recency", -r.points))
        age = x["age_days"]
        if age == 0:
            t.freshness = f"It appeared on {end.date().isoformat()}, the last day of the window: its signals count in full."
        else:
            t.freshness = (f"It appeared {age:.1f} days before the end of the window ({end.date().isoformat()}): "
                           f"its signals count at {x['decay']:.0%} (halved every {half_life:g} days).")
