"""Trending: a transparent, pure score over (papers, signals, now).

    score(p) = decay(p) * ( w_up  * ln(1 + local upvotes in window)
                          + w_view* ln(1 + page views in window)
                          + w_hf  * ln(1 + HF daily upvotes, if featured in window)
                          + w_star* ln(1 + GitHub stars gained per day over window)
                          + w_rec )
    decay(p) = 0.5 ** (age_days(p) / half_life(window))

Every term is reported in ``Trend.parts`` (already multiplied by the decay), so the parts
sum to the score and the "why is this trending" view can show them as they are. All weights
and half-lives are Settings (trend_*). Written out with examples in docs/ranking.md.

``now`` defaults to the real current time. For historical data (the demo, benchmarks) pass
the latest listing day instead (``latest_now(store)``), or every paper looks months old
and no signal falls in the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from paperwire.config import Settings
from paperwire.store import signals as sig

WINDOWS = {"day": 1, "week": 7, "month": 30}


@dataclass
class Trend:
    paper_id: str
    score: float
    parts: dict[str, float]
    # raw inputs behind the parts (counts, velocity, age, decay) for display; not summed
    inputs: dict[str, float] = field(default_factory=dict)


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


def _parse_time(s: str) -> datetime:
    if len(s) == 10:
        return datetime.fromisoformat(s).replace(tzinfo=timezone.utc)
    dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def star_velocity(series: list[tuple[str, float]], start: datetime, end: datetime,
                  paper_day: str | None) -> float:
    """Stars gained per day over the window from one repo's observations (sorted by time).

    With two or more observations: (last - first) / days between them, at least one day apart
    counted (losses count as 0). With a single observation, the repository is assumed to have
    started at zero on the paper's day (code released with the paper): stars / days since then.
    """
    if not series:
        return 0.0
    if len(series) >= 2:
        (t0, s0), (t1, s1) = series[0], series[-1]
        days = max(1.0, (_parse_time(t1) - _parse_time(t0)).total_seconds() / 86400)
        return max(0.0, s1 - s0) / days
    t1, s1 = series[0]
    if not paper_day:
        return 0.0
    days = max(1.0, (_parse_time(t1) - _parse_time(paper_day)).total_seconds() / 86400)
    return max(0.0, s1) / days


def trending(store, window: str = "day", now: datetime | date | str | None = None, limit: int = 50,
             offset: int = 0, settings: Settings | None = None) -> list[Trend]:
    """Papers trending in the window ending at `now`, best first (ties broken by newer, then id)."""
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}, not {window!r}")
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must be >= 0")
    s = settings or Settings()
    end = as_utc(now)
    start = end - timedelta(days=WINDOWS[window])
    half_life = {"day": s.trend_half_life_day, "week": s.trend_half_life_week,
                 "month": s.trend_half_life_month}[window]
    start_iso, end_iso = _iso(start), _iso(end)
    start_day, end_day = start.date().isoformat(), end.date().isoformat()

    upvotes = sig.local_upvotes(store, start_iso, end_iso)
    views = sig.signal_sums(store, "view", start_iso, end_iso)
    hf = sig.hf_upvotes(store, start_day, end_day)
    stars = sig.star_history(store, start_iso, end_iso)
    candidates = set(sig.window_papers(store, start_day, end_day))
    candidates.update(upvotes, views, hf, stars)
    days = sig.paper_dates(store, candidates)  # also drops hidden and unknown papers

    out: list[Trend] = []
    for pid, day in days.items():
        age = max(0.0, (end - _parse_time(day)).total_seconds() / 86400) if day else float(WINDOWS[window])
        # a paper listed on the last day is age 0 whatever the hour of `now`
        if day and day >= end_day:
            age = 0.0
        decay = 0.5 ** (age / half_life) if half_life > 0 else 1.0
        vel = sum(star_velocity(series, start, end, day) for series in stars.get(pid, {}).values())
        raw = {"upvotes": float(upvotes.get(pid, 0)), "views": views.get(pid, 0.0),
               "hf_upvotes": float(hf.get(pid, 0)), "star_velocity": vel}
        parts = {
            "upvotes": decay * s.trend_weight_upvotes * math.log1p(raw["upvotes"]),
            "views": decay * s.trend_weight_views * math.log1p(raw["views"]),
            "hf_upvotes": decay * s.trend_weight_hf * math.log1p(raw["hf_upvotes"]),
            "star_velocity": decay * s.trend_weight_stars * math.log1p(vel),
            "recency": decay * s.trend_weight_recency,
        }
        score = math.fsum(parts.values())
        if score <= 0:
            continue
        out.append(Trend(pid, score, parts, {**raw, "age_days": age, "decay": decay}))
    out.sort(key=lambda t: (-t.score, -(t.inputs["decay"]), t.paper_id))
    return out[offset: offset + limit]

