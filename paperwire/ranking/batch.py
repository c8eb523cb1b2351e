"""Recommendations for many readers at once, for evaluation (``paperwire recommend --batch``).

Each reader is a line of JSON: ``{"reader": "r1", "profile": [{"id": "2506.01234", "added":
"2026-05-30"}, ...], "negatives": ["2506.04321", ...]}`` — profile papers as an imported library,
negatives as "not interested". The candidates are the store's papers listed from D1 to D2
inclusive, and every candidate is ranked for every reader, with the same prepared window
(``recommend.prepare_day``), recommender and settings the site and the digests use; the window,
the text model and each profile paper's features are computed once for all readers.

Papers a reader already has (profile) or dismissed are ranked last, below every other candidate,
as the site never shows them; the run still lists every candidate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timezone

from paperwire.ranking import recommend as rec


class BatchError(ValueError):
    """A readers file that cannot be used; the message names the line."""


@dataclass
class BatchReader:
    name: str
    reader: rec.Reader


def _day(value, where: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise BatchError(f"{where}: 'added' must be a date YYYY-MM-DD, not {value!r}")


def read_readers(lines, now: datetime, half_life_days: float) -> list[BatchReader]:
    """Parse READERS.jsonl lines; profile papers are weighted by their 'added' day as on the site."""
    out: list[BatchReader] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BatchError(f"{where}: not JSON ({exc.msg})")
        if not isinstance(obj, dict) or not isinstance(obj.get("reader"), str) or not obj["reader"].strip():
            raise BatchError(f"{where}: needs a \"reader\" name (a string)")
        name = obj["reader"].strip()
        if any(c.isspace() for c in name):
            raise BatchError(f"{where}: the reader name {name!r} contains white space (a TREC run cannot hold it)")
        if name in seen:
            raise BatchError(f"{where}: reader {name!r} appears twice")
        seen.add(name)
        profile = obj.get("profile", [])
        negatives = obj.get("negatives", [])
        if not isinstance(profile, list) or not isinstance(negatives, list):
            raise BatchError(f"{where}: \"profile\" and \"negatives\" must be lists")
        pos: dict[str, float] = {}
        for item in profile:
            if isinstance(item, str):
                item = {"id": item}
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise BatchError(f"{where}: each profile entry needs an \"id\" (an arXiv id)")
            weight = 1.0
            if item.get("added"):
                age = (now.date() - _day(item["added"], where)).days
                weight = 0.5 ** (max(0, age) / half_life_days) if half_life_days > 0 else 1.0
            pos[item["id"].strip()] = weight
        if not all(isinstance(x, str) for x in negatives):
            raise BatchError(f"{where}: \"negatives\" must be a list of arXiv ids")
        out.append(BatchReader(name, rec.Reader(pos, {p: "import" for p in pos}, [x.strip() for x in negatives])))
    return out


def rank_all(day: rec.Day, readers: list[BatchReader], method: str, settings):
    """Yield (reader name, [(paper id, score)] over every candidate, best first)."""
    ids = day.cand_ids
    n = len(ids)
    index = {pid: i for i, pid in enumerate(ids)}
    if method == "fused":
        got = day.recommend_many([b.reader for b in readers], limit=n, settings=settings)
    else:
        got = ((k, day.recommend(b.reader, method, n, settings)) for k, b in enumerate(readers))
    for k, recs in got:
        ranked = [(r.paper_id, r.score) for r in recs]
        shown = {pid for pid, _ in ranked}
        floor = min((s for _, s in ranked), default=0.0)
        rest = sorted((pid for pid in ids if pid not in shown), key=index.get)
        ranked += [(pid, floor - 1.0 - j / max(1, n)) for j, pid in enumerate(rest)]
        yield readers[k].name, ranked


def trec_lines(name: str, ranked: list[tuple[str, float]], tag: str):
    for rank, (pid, score) in enumerate(ranked, 1):
        s = score if math.isfinite(score) else -1e9
        yield f"{name} Q0 {pid} {rank} {s:.6f} {tag}\n"


def run_batch(store, settings, lines, d1: str, d2: str, method: str | None, out_fh) -> dict:
    """Rank the window's candidates for every reader in `lines`; write the TREC run to `out_fh`."""
    method = method or settings.rec_method
    if method not in rec.METHODS:
        raise BatchError(f"method must be one of {', '.join(rec.METHODS)}, not {method!r}")
    for v in (d1, d2):
        _day(v, "--from/--to")
    if d2 < d1:
        raise BatchError(f"--to {d2} is before --from {d1}")
    now = datetime.fromisoformat(d2[:10]).replace(hour=23, minute=59, tzinfo=timezone.utc)
    readers = read_readers(lines, now, settings.rec_half_life_days)
    day = rec.prepare_day(store, settings, d1, d2)
    if not day.cand_ids:
        raise BatchError(f"no papers listed from {d1} to {d2} in this store")
    from paperwire.store.profiles import existing_ids

    wanted = {p for b in readers for p in b.reader.positives}
    missing = wanted - existing_ids(store, wanted)
    tag = f"paperwire-{method}"
    written = 0
    for name, ranked in rank_all(day, readers, method, settings):
        out_fh.writelines(trec_lines(name, ranked, tag))
        written += 1
    return {"readers": written, "candidates": len(day.cand_ids), "method": method,
            "unknown_profile_papers": len(missing)}
