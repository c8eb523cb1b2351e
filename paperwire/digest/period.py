"""Subscriptions and digests: subscribe/confirm/preferences, building a period's digests into
the outbox, and delivering the outbox. The pure scoring and rendering is in digest_build.py;
SMTP is in mailer.py; SQL is in store/subscriptions.py.

Delivery guarantees (the outbox, see store/subscriptions.py):
- ``build_period`` writes each subscriber's digest for a period once: the outbox key
  (subscriber, period) is unique, and the subscriber's "new since" mark moves in the same
  transaction. Building again, or after a crash, adds only the missing ones.
- ``deliver`` marks a message 'sending' before talking to the server and 'sent' right after
  the server accepted it. A run killed at any point is re-run and sends every message not
  yet marked sent. The one window SMTP itself leaves open -- the server accepted the message
  but the process died before writing 'sent' -- resends that one message with the same
  Message-ID, which lets the receiving side drop the duplicate.
- 4xx and network errors retry with exponential backoff (settings.digest_retry_base,
  doubling, at most settings.digest_max_attempts); a 5xx marks the address 'bounced' and
  cancels everything else queued for it.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode, urlsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperwire.config import Settings
from paperwire.store import subscriptions as subs
from paperwire.store.sqlite import Store

log = logging.getLogger(__name__)

PERIOD_DAYS = {"daily": 1, "weekly": 7}
MAX_SIZE = 50
MAX_LIST = {"categories": 30, "authors": 30, "topics": 10, "seeds": 10}
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_CAT_RE = re.compile(r"^[A-Za-z][A-Za-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?$")

# The one public answer to a subscribe request, whatever the address's state: nobody can
# learn from it whether an address is subscribed.
PUBLIC_ANSWER = ("Thanks! If this address can receive our mail, a message with a confirmation link is on its way. "
                 "The digest starts once you click it.")


class TokenError(ValueError):
    """A link that is invalid, expired or already used; the message says which, for the page."""


# --- validation ---------------------------------------------------------------------------

def normalise_email(raw: str) -> str:
    """The address trimmed; ValueError when it is not one."""
    email = (raw or "").strip()
    if len(email) > 254 or not _EMAIL_RE.match(email):
        raise ValueError("That is not a valid e-mail address.")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        parts = re.split(r"[\n,;]+", value)
    else:
        parts = []
        for v in value:
            parts.extend(re.split(r"[\n,;]+", str(v)) if isinstance(v, str) and ("\n" in v or "," in v) else [str(v)])
    return list(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


def parse_preferences(data: dict, partial: bool = False) -> dict:
    """Validate preferences from a form or JSON body. Lists may be lists or comma/line separated
    strings. Raises ValueError naming the bad field; with partial=True absent keys stay absent."""
    from paperwire.text import canonical_id

    out: dict = {}
    if "frequency" in data or not partial:
        freq = str(data.get("frequency") or "daily").strip().lower()
        if freq not in PERIOD_DAYS:
            raise ValueError("frequency must be 'daily' or 'weekly'")
        out["frequency"] = freq
    if "size" in data or not partial:
        raw = data.get("size")
        try:
            size = int(raw) if raw not in (None, "") else 10
        except (TypeError, ValueError):
            raise ValueError("size must be a whole number from 1 to 50")
        if not 1 <= size <= MAX_SIZE:
            raise ValueError("size must be a whole number from 1 to 50")
        out["size"] = size
    for key in ("categories", "authors", "topics", "seeds"):
        if key not in data and partial:
            continue
        values = _as_list(data.get(key))
        if len(values) > MAX_LIST[key]:
            raise ValueError(f"at most {MAX_LIST[key]} {key}")
        if key == "categories":
            bad = [v for v in values if not _CAT_RE.match(v) or len(v) > 40]
            if bad:
                raise ValueError(f"not an arXiv category: {bad[0]!r} (e.g. cs.CL, stat.ML, or cs for all of cs)")
        elif key == "seeds":
            ids = []
            for v in values:
                pid = canonical_id(v)
                if not pid:
                    raise ValueError(f"not an arXiv id: {v!r} (e.g. 2503.11731)")
                ids.append(pid)
            values = list(dict.fromkeys(ids))
        else:
            long = [v for v in values if len(v) > 200]
            if long:
                raise ValueError(f"{key[:-1]} too long (200 characters at most)")
        out[key] = values
    return out


# --- signed links -------------------------------------------------------------------------

def _signer(settings: Settings, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt=salt)


def confirm_token(settings: Settings, sub_id: int, nonce: str) -> str:
    return _signer(settings, "digest-confirm").dumps({"s": sub_id, "n": nonce})


def manage_token(settings: Settings, sub: subs.Subscriber, signer: URLSafeTimedSerializer | None = None) -> str:
    return (signer or _signer(settings, "digest-manage")).dumps({"s": sub.id, "e": sub.link_epoch})


FEEDBACK_SALT = "digest-feedback"


def feedback_token(settings: Settings, sub: subs.Subscriber, signer: URLSafeTimedSerializer | None = None) -> str:
    """One token per subscriber and digest for its "more like this" / "not interested" links.
    It authorises feedback on this subscriber's own profile only (its own salt, so it opens no
    preferences page); the paper and action travel as plain parameters beside it."""
    return (signer or _signer(settings, FEEDBACK_SALT)).dumps({"s": sub.id, "e": sub.link_epoch})


def check_feedback_token(store: Store, settings: Settings, token: str) -> subs.Subscriber:
    """The subscriber a digest feedback link belongs to. Raises TokenError."""
    try:
        data = _signer(settings, FEEDBACK_SALT).loads(token or "", max_age=settings.link_max_age_days * 86400)
    except SignatureExpired:
        raise TokenError("This feedback link has expired. Use the links in your latest digest.")
    except BadSignature:
        raise TokenError("This feedback link is not valid. Use the links in your latest digest.")
    sub = subs.get_subscriber(store, int(data.get("s", 0))) if isinstance(data, dict) else None
    if sub is None or sub.link_epoch != data.get("e"):
        raise TokenError("This feedback link is no longer valid. Use the links in your latest digest.")
    return sub


def links_for(settings: Settings, sub, signer=None, feedback_signer=None):
    from paperwire.digest.builder import Links

    token = manage_token(settings, sub, signer)
    base = settings.base_url.rstrip("/")
    q = urlencode({"token": token})
    return Links(preferences=f"{base}/preferences?{q}", unsubscribe=f"{base}/unsubscribe?{q}",
                 feedback=feedback_token(settings, sub, feedback_signer))


def check_confirm_token(store: Store, settings: Settings, token: str) -> subs.Subscriber:
    """Confirm the subscription the link names. Raises TokenError for a bad, expired or used link."""
    try:
        data = _signer(settings, "digest-confirm").loads(token or "", max_age=settings.confirm_hours * 3600)
    except SignatureExpired:
        raise TokenError("This confirmation link has expired. Subscribe again to get a new one.")
    except BadSignature:
        raise TokenError("This confirmation link is not valid. Copy the whole address from the e-mail, "
                         "or subscribe again.")
    if not isinstance(data, dict):
        raise TokenError("This confirmation link is not valid.")
    sub = subs.get_subscriber(store, int(data.get("s", 0)))
    if sub is None:
        raise TokenError("This confirmation link has expired. Subscribe again to get a new one.")
    if sub.status == "active":
        return sub  # clicked twice: already done, nothing more to do
    if not subs.confirm(store, sub.id, str(data.get("n", ""))):
        raise TokenError("This confirmation link was already used or replaced by a newer one. "
                         "Use the newest e-mail, or subscribe again.")
    return subs.get_subscriber(store, sub.id)


def check_manage_token(store: Store, settings: Settings, token: str) -> subs.Subscriber:
    """The subscriber a preferences/unsubscribe link belongs to. Raises TokenError."""
    try:
        data = _signer(settings, "digest-manage").loads(token or "", max_age=settings.link_max_age_days * 86400)
    except SignatureExpired:
        raise TokenError("This link has expired. Use the link in your latest digest.")
    except BadSignature:
        raise TokenError("This link is not valid. Use the link in your latest digest.")
    sub = subs.get_subscriber(store, int(data.get("s", 0))) if isinstance(data, dict) else None
    if sub is None or sub.link_epoch != data.get("e"):
        raise TokenError("This link is no longer valid. Use the link in your latest digest.")
    return sub


# --- subscribing --------------------------------------------------------------------------

@dataclass
class SubscribeOutcome:
    """What happened (for logs, tests and the CLI; never shown to the public)."""

    action: str  # 'confirm' (confirmation queued), 'reminder' (already active), 'limited' (no mail)
    subscriber: subs.Subscriber
    message_id: int | None = None
    confirm_url: str | None = None
    sent: bool = False


def list_id(settings: Settings) -> str:
    host = (urlsplit(settings.base_url).hostname or "localhost").strip(".")
    if "." not in host:
        host += ".local"
    return f"{settings.site_name} digest <digest.{host}>"


def _new_message_id(settings: Settings) -> str:
    from paperwire.mailer import sender_domain

    return make_msgid(idstring="pw", domain=sender_domain(settings))


def subscribe(store: Store, settings: Settings, email: str, prefs: dict | None = None,
              send: bool = True) -> SubscribeOutcome:
    """Start (or restart) double opt-in for `email`. The caller shows PUBLIC_ANSWER whatever
    the outcome. Raises ValueError only for an address that is not an address."""
    from paperwire.digest.builder import _env

    email = normalise_email(email)
    clean = parse_preferences(prefs or {}, partial=True)
    clean.setdefault("size", settings.digest_size)
    nonce = secrets.token_urlsafe(16)
    env = _env()
    base = settings.base_url.rstrip("/")
    since = _iso(datetime.now(timezone.utc) - timedelta(days=1))
    with store.transaction() as conn:
        sub = subs.upsert_pending(store, email, clean, nonce, conn)
        recent = subs.recent_messages(conn, sub.id, ("confirm", "notice"), since)
        if recent >= settings.confirm_per_address_day:
            # per-address limit: nobody can use us to flood an inbox
            return SubscribeOutcome("limited", sub)
        ctx = {"site_name": settings.site_name, "base_url": base, "email": email, "hours": settings.confirm_hours}
        if sub.status == "active":
            links = links_for(settings, sub)
            ctx.update(preferences_url=links.preferences, unsubscribe_url=links.unsubscribe)
            action, kind, period = "reminder", "notice", f"notice:{nonce}"
            subject = f"You are already subscribed to the {settings.site_name} digest"
            text, html = env.get_template("email/already.txt").render(ctx), None
            confirm_url = None
        else:
            confirm_url = f"{base}/subscribe/confirm?{urlencode({'token': confirm_token(settings, sub.id, nonce)})}"
            ctx["confirm_url"] = confirm_url
            action, kind, period = "confirm", "confirm", f"confirm:{nonce}"
            subject = f"Confirm your {settings.site_name} digest subscription"
            text = env.get_template("email/confirm.txt").render(ctx)
            html = env.get_template("email/confirm.html").render(ctx)
        msg_id = subs.add_message(conn, subscriber_id=sub.id, period=period, kind=kind, to_addr=email,
                                  subject=subject, text_body=text, html_body=html, headers={},
                                  message_id=_new_message_id(settings))
    outcome = SubscribeOutcome(action, sub, msg_id, confirm_url)
    if send and msg_id is not None:
        from paperwire.mailer import mail_enabled

        if mail_enabled(settings):
            report = deliver(store, settings, ids=[msg_id], wait=False)
            outcome.sent = report.sent == 1
        else:
            log.warning("subscription of %s queued; e-mail is off so the confirmation was not sent", email)
    return outcome


def unsubscribe(store: Store, sub: subs.Subscriber) -> None:
    subs.set_status(store, sub.id, "unsubscribed")


def resubscribe(store: Store, sub: subs.Subscriber) -> bool:
    """Undo an unsubscribe from the page that confirmed it (the signed link proves ownership).
    A bounced address must go through double opt-in again."""
    if sub.status != "unsubscribed":
        return sub.status == "active"
    subs.set_status(store, sub.id, "active")
    return True


def expire_unconfirmed(store: Store, settings: Settings, now: datetime | None = None) -> int:
    now = now or datetime.now(timezone.utc)
    cutoff = (now - timedelta(days=settings.pending_expire_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return subs.expire_pending(store, cutoff)


# --- building a period's digests ----------------------------------------------------------

def period_key(kind: str, as_of: date) -> str:
    if kind == "daily":
        return f"daily:{as_of.isoformat()}"
    if kind == "weekly":
        y, w, _ = as_of.isocalendar()
        return f"weekly:{y}-W{w:02d}"
    raise ValueError(f"period must be 'daily' or 'weekly', not {kind!r}")


def resolve_as_of(store: Store, value: str | date | None) -> date:
    """'latest' -> the newest listing day in the store (for historical data such as the demo);
    None -> today (UTC); else an ISO date."""
    if isinstance(value, date):
        return value
    if value in (None, "", "today"):
        return datetime.now(timezone.utc).date()
    if value == "latest":
        from paperwire.store import signals

        day = signals.latest_day(store)
        if not day:
            raise ValueError("the store has no listed papers yet")
        return date.fromisoformat(day)
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"--as-of must be YYYY-MM-DD, 'today' or 'latest', not {value!r}")


@dataclass
class BuildReport:
    period: str
    subscribers: int = 0
    queued: int = 0
    empty: int = 0
    already: int = 0
    papers: int = 0
    written: list[str] = field(default_factory=list)  # dry run: files
    seconds: float = 0.0
    topic_method: str = ""

    def line(self) -> str:
        s = (f"{self.period}: {self.subscribers} subscriber(s), {self.papers} new paper(s); "
             f"queued {self.queued}, nothing new for {self.empty}")
        if self.written:
            s += f"; wrote {len(self.written)} file(s)"
        return s


def _topic_rows_search(engine, topics: list[str], papers, since: str, until: str) -> dict:
    """Each topic run as a saved search (hybrid) over the papers listed in the window.

    A hit counts as a match when the words matched (lexical side) or the meaning is close
    (semantic cosine >= 0.35); its strength is its fused rank position."""
    import numpy as np

    from paperwire.search.engine import Filters

    index = {p.id: i for i, p in enumerate(papers)}
    flt = Filters(date_from=since, date_to=until, date_field="listed")
    rows = {}
    modes = set()
    limit = min(200, max(20, len(papers)))
    for t in topics:
        row = np.zeros(len(papers), dtype=np.float32)
        res = engine.search(t, filters=flt, mode="hybrid", limit=limit)
        modes.add(res.mode)
        hits = [h for h in res.hits if h.paper_id in index and
                ("lexical_rank" in h.parts or float(h.parts.get("semantic_score", 0)) >= 0.35)]
        for r, h in enumerate(hits):
            row[index[h.paper_id]] = 1.0 - 0.5 * r / max(1, len(hits))
        rows[t] = row
    return rows, ",".join(sorted(modes))


def _interest_rows(store: Store, settings: Settings, papers, topics: list[str], seeds: list[str], since: str,
                   until: str, engine=None) -> tuple[dict, dict, str]:
    """Score rows for every distinct topic and seed paper over the window's papers."""
    import numpy as np

    from paperwire.digest.builder import lexical_rows, vector_rows
    from paperwire.store.papers import get_papers

    topic_rows: dict = {}
    seed_rows: dict = {}
    method = "lexical"
    if engine is not None and topics:
        try:
            topic_rows, modes = _topic_rows_search(engine, topics, papers, since, until)
            method = f"saved searches ({modes})"
        except Exception as exc:  # no index yet, a broken model: words still work
            log.warning("search unavailable for digest topics (%s); using word matching", exc)
            topic_rows = {}
    if engine is not None and seeds and papers:
        try:
            vecs = engine.paper_vectors([*seeds, *(p.id for p in papers)])
            have = [s for s in seeds if s in vecs]
            if have and all(p.id in vecs for p in papers):
                pv = np.stack([vecs[p.id] for p in papers])
                seed_rows = dict(zip(have, vector_rows(np.stack([vecs[s] for s in have]), pv)))
        except Exception as exc:
            log.warning("paper vectors unavailable for seed papers (%s); using word matching", exc)
            seed_rows = {}
    if topics and not topic_rows:
        topic_rows = dict(zip(topics, lexical_rows(topics, papers)))
    missing = [s for s in seeds if s not in seed_rows]
    if missing:
        seed_papers = get_papers(store, missing, with_details=False)
        have = [s for s in missing if s in seed_papers]
        texts = [f"{seed_papers[s].title_display} {seed_papers[s].abstract_display}" for s in have]
        if have:
            seed_rows.update(zip(have, lexical_rows(texts, papers, min_score=0.15)))
    return topic_rows, seed_rows, method


def build_period(store: Store, settings: Settings, kind: str = "daily", as_of: str | date | None = None,
                 to: str | None = None, dry_run_dir: str | Path | None = None, engine=None,
                 progress: Callable[[int, int], None] | None = None, batch: int = 200,
                 workers: int = 1) -> BuildReport:
    """Write this period's digest of every active subscriber of `kind` into the outbox (or,
    with dry_run_dir, into files there, leaving the database as it was). With workers > 1 the
    subscribers are split over that many forked processes, each writing its own batches."""
    from paperwire.ranking import trending as rank
    from paperwire.digest.builder import DigestBuilder, distinct, norm_topic
    from paperwire.store import signals
    from paperwire.store.papers import get_papers

    t0 = time.perf_counter()
    day = resolve_as_of(store, as_of)
    period = period_key(kind, day)
    report = BuildReport(period)
    candidates = subs.list_subscribers(store, status="active", frequency=kind,
                                       period=None if dry_run_dir else period)
    if to:
        to_norm = normalise_email(to)
        who = subs.get_by_email(store, to_norm)
        if who is None or who.status != "active" or who.frequency != kind:
            raise ValueError(f"{to_norm} is not an active {kind} subscriber")
        candidates = [s for s in candidates if s.id == who.id]
    report.subscribers = len(candidates)
    if not candidates:
        report.seconds = time.perf_counter() - t0
        return report
    until = day.isoformat()
    first_since = (day - timedelta(days=PERIOD_DAYS[kind])).isoformat()
    for s in candidates:
        # first digest: the last period; later ones: everything since the last digest
        if not s.last_until or s.last_until < first_since:
            s.last_until = first_since
    since = min(s.last_until for s in candidates)
    ids = signals.window_papers(store, since, until)
    papers = [p for p in get_papers(store, ids).values() if not p.hidden]
    papers.sort(key=lambda p: (p.listed or "", p.id))
    report.papers = len(papers)
    end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=timezone.utc)
    # only the signals (upvotes, views, HF, stars) count here: the recency part of the trending
    # score is the same for every paper of a day and would make everything look "trending"
    trend = {t.paper_id: t.score - t.parts.get("recency", 0.0)
             for t in rank.trending(store, "week" if kind == "weekly" else "day", now=end, limit=10**6,
                                    settings=settings)}
    # "trending this week" needs signals: recency alone would just list the newest papers
    week = [t for t in rank.trending(store, "week", now=end, limit=200, settings=settings)
            if t.score - t.parts.get("recency", 0.0) > 0][:8]
    week_papers = get_papers(store, [t.paper_id for t in week])
    topics = distinct((s.topics for s in candidates), key=norm_topic)
    seeds = distinct(s.seeds for s in candidates)
    topic_rows, seed_rows, report.topic_method = _interest_rows(store, settings, papers, topics, seeds,
                                                                since, until, engine)
    builder = DigestBuilder(papers, period=period, site_name=settings.site_name, base_url=settings.base_url,
                            trend=trend, trending_week=[week_papers[t.paper_id] for t in week if t.paper_id in week_papers],
                            topic_rows=topic_rows, seed_rows=seed_rows, send_empty=bool(settings.digest_send_empty),
                            list_id=list_id(settings))
    signer = _signer(settings, "digest-manage")
    fb_signer = _signer(settings, FEEDBACK_SALT)
    # "For you": only subscribers with a profile (likes, imports, dismissals, follows) pay for
    # recommendations; the builder gets them as data and stays pure
    from paperwire.store.profiles import profile_keys, subscriber_key

    profiled = {k for k in profile_keys(store) if k.startswith("sub:")}

    def for_you(st: Store, s: subs.Subscriber) -> list[tuple[str, str]]:
        key = subscriber_key(s.id)
        if key not in profiled or not papers:
            return []
        from paperwire.ranking import recommend

        try:
            # the digest's window is (last_until, until]; the recommender's is inclusive
            start = (date.fromisoformat(s.last_until or since) + timedelta(days=1)).isoformat()
            ids, _scores, reasons = recommend.recommend_for(st, settings, key, start, limit=20, window_end=until,
                                                            engine=engine)
        except Exception:  # a broken recommender must not cost anyone their digest
            log.exception("recommendations failed for subscriber %s", s.id)
            return []
        return list(zip(ids, reasons))

    out_dir = Path(dry_run_dir) if dry_run_dir else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)

    def work(chunk: list, st: Store, report_progress: bool) -> dict:
        counts = {"queued": 0, "empty": 0, "already": 0, "written": []}
        pending: list[tuple[subs.Subscriber, object]] = []

        def flush():
            if out_dir or not pending:
                pending.clear()
                return
            with st.transaction() as conn:
                for s, d in pending:
                    if d is None:
                        subs.mark_period_done(conn, s.id, until)
                        continue
                    mid = subs.add_message(conn, subscriber_id=s.id, period=period, kind="digest", to_addr=s.email,
                                           subject=d.subject, text_body=d.text, html_body=d.html, headers=d.headers,
                                           message_id=_new_message_id(settings), n_items=len(d.items),
                                           last_until=until)
                    if mid is None:  # another run wrote this one meanwhile
                        counts["already"] += 1
                        counts["queued"] -= 1
            pending.clear()

        for n, s in enumerate(chunk, 1):
            d = builder.build(s, links_for(settings, s, signer, fb_signer), for_you=for_you(st, s))
            if d is None:
                counts["empty"] += 1
            else:
                counts["queued"] += 1
                if out_dir:
                    counts["written"] += _write_dry_run(out_dir, settings, d)
            pending.append((s, d))
            if len(pending) >= batch:
                flush()
            if progress and report_progress:
                progress(n, len(chunk))
        flush()
        return counts

    if workers <= 1 or len(candidates) < 2 * batch:
        results = [work(candidates, store, True)]
    else:
        from paperwire.digest.builder import parallel_chunks

        def child(chunk):
            # a forked child must not touch the parent's SQLite connection: it opens its own
            st = Store(store.path, migrate=False)
            try:
                return work(chunk, st, False)
            finally:
                st.close()

        results = parallel_chunks(child, candidates, workers)
        if progress:
            progress(len(candidates), len(candidates))
    for r in results:
        report.queued += r["queued"]
        report.empty += r["empty"]
        report.already += r["already"]
        report.written += r["written"]
    report.seconds = time.perf_counter() - t0
    return report


def _safe_name(email: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", email)[:80]


def _write_dry_run(out_dir: Path, settings: Settings, d) -> list[str]:
    row = subs.OutboxRow(0, d.subscriber_id, d.period, "digest", d.email, d.subject, d.text, d.html, d.headers,
                         _new_message_id(settings), "pending", 0, "", None)
    msg = compose(settings, row)
    base = out_dir / f"{_safe_name(d.email)}.{d.period.replace(':', '-')}"
    files = []
    for suffix, content in ((".eml", msg.as_bytes()), (".html", d.html.encode()), (".txt", d.text.encode())):
        p = base.with_name(base.name + suffix)
        p.write_bytes(content)
        files.append(str(p))
    return files


# --- delivering the outbox ----------------------------------------------------------------

def compose(settings: Settings, row: subs.OutboxRow) -> EmailMessage:
    """The MIME message of an outbox row: text, plus HTML as the alternative when present."""
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = row.message_id
    for k, v in row.headers.items():
        msg[k] = v
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(row.text_body)
    if row.html_body:
        msg.add_alternative(row.html_body, subtype="html")
    return msg


@dataclass
class DeliverReport:
    sent: int = 0
    retried: int = 0  # temporary failures scheduled for another attempt
    failed: int = 0   # gave up after settings.digest_max_attempts
    bounced: int = 0  # permanent rejections: address marked and no longer mailed
    cancelled: int = 0  # subscriber left before the message went out
    waiting: int = 0  # still queued for a later run

    def line(self) -> str:
        return (f"sent {self.sent}, retried {self.retried}, bounced {self.bounced}, failed {self.failed}, "
                f"cancelled {self.cancelled}, waiting {self.waiting}")


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


LEASE_SECONDS = 900  # how long a run may hold a message before another run may take it over


def _process_id() -> str:
    import os
    import socket

    import psutil

    return f"{socket.gethostname()}:{os.getpid()}:{int(psutil.Process().create_time())}"


def _holder_alive(claimed_by: str | None) -> bool:
    """Is the process that claimed a message still running? Unknown (another host) counts as alive,
    so only its lease running out frees the message."""
    if not claimed_by:
        return False
    import socket

    import psutil

    try:
        host, pid, started, _run = claimed_by.split(":", 3)
        if host != socket.gethostname():
            return True
        proc = psutil.Process(int(pid))
        # the same pid with another start time is a new process: the old one is gone
        return int(proc.create_time()) == int(started) and proc.status() != psutil.STATUS_ZOMBIE
    except (ValueError, psutil.NoSuchProcess):
        return False
    except psutil.Error:
        return True


def _now() -> datetime:
    return datetime.now(timezone.utc)


def due_for(store: Store, email: str) -> list[int]:
    """Ids of the queued messages to one address (for `digest send --to`)."""
    email = normalise_email(email)
    return [r.id for r in subs.due_messages(store, "9999", limit=10**9) if r.to_addr.lower() == email.lower()]


def deliver(store: Store, settings: Settings, ids: list[int] | None = None, wait: bool = True,
            now: Callable[[], datetime] = _now, sleep: Callable[[float], None] = time.sleep,
            on_sent: Callable[[subs.OutboxRow], None] | None = None) -> DeliverReport:
    """Send every due message in the outbox (or just `ids`). With `wait`, temporary failures due
    again within settings.digest_retry_wait seconds are retried in this run."""
    from paperwire.mailer import Mailer, PermanentMailError, TemporaryMailError

    report = DeliverReport()
    owner = f"{_process_id()}:{secrets.token_hex(4)}"
    with Mailer(settings) as mailer:  # raises MailDisabled with a clear message when off
        while True:
            t = _iso(now())
            due = [r for r in subs.due_messages(store, t, ids=ids)
                   # a 'sending' message is taken over only from a run that died or overran its lease
                   if r.status == "pending" or r.next_attempt_at <= t or not _holder_alive(r.claimed_by)]
            for row in due:
                state = subs.subscriber_status(store, row.subscriber_id)
                if row.kind == "digest" and state != "active" or state == "bounced":
                    subs.mark_failed(store, row.id, f"subscriber {state or 'deleted'}", status="cancelled")
                    report.cancelled += 1
                    continue
                if not subs.claim(store, row, owner, _iso(now() + timedelta(seconds=LEASE_SECONDS))):
                    continue  # another run took it first
                try:
                    mailer.send(compose(settings, row))
                except PermanentMailError as exc:
                    log.warning("permanent failure for %s: %s; address marked bounced", row.to_addr, exc)
                    subs.bounce(store, row.id, row.subscriber_id, str(exc))
                    report.bounced += 1
                    continue
                except TemporaryMailError as exc:
                    attempts = row.attempts + 1
                    if attempts >= settings.digest_max_attempts:
                        subs.mark_failed(store, row.id, f"gave up after {attempts} attempts: {exc}")
                        report.failed += 1
                    else:
                        delay = settings.digest_retry_base * 2 ** (attempts - 1)
                        subs.mark_retry(store, row.id, _iso(now() + timedelta(seconds=delay)), str(exc))
                        report.retried += 1
                        log.info("temporary failure for %s (%s); retry in %.1fs", row.to_addr, exc, delay)
                    continue
                subs.mark_sent(store, row.id)
                report.sent += 1
                if on_sent:
                    on_sent(row)
            nxt = subs.next_due(store) if ids is None else min(
                (r.next_attempt_at for r in (subs.get_message(store, i) for i in ids)
                 if r and r.status in ("pending", "sending")), default=None)
            if nxt is None:
                break
            wait_s = (datetime.strptime(nxt, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
                      - now()).total_seconds()
            if wait_s <= 0 and due:
                continue
            if not wait or wait_s > settings.digest_retry_wait or (wait_s <= 0 and not due):
                break
            sleep(max(0.0, wait_s))
    if ids is None:
        report.waiting = len(subs.due_messages(store, "9999", limit=10**9))
    return report


# --- the daily job ----------------------------------------------------------------------

def run_daily(store: Store, settings: Settings, day: date | None = None, harvest: bool = True,
              refresh: bool = True, echo: Callable[[str], None] = log.info) -> dict:
    """One scheduled run: harvest new papers, refresh the indexes, build and send digests
    (daily ones every day; weekly ones on settings.digest_weekday), drop expired sign-ups."""
    day = day or _now().date()
    result: dict = {"day": day.isoformat()}
    if harvest:
        try:
            from paperwire.ingest import harvest as harvest_fn  # issue 2: may not exist in every install
        except ImportError:
            harvest_fn = None
        if harvest_fn is not None:
            try:
                result["harvest"] = str(harvest_fn(store, settings))
                echo(f"harvest: {result['harvest']}")
            except Exception as exc:  # a failed harvest must not stop the digests of what we have
                log.exception("harvest failed")
                result["harvest"] = f"failed: {exc}"
                echo(f"harvest failed: {exc}")
        else:
            echo("harvest: no harvester in this install; digests use the papers already stored")
    engine = None
    try:
        from paperwire.search.engine import SearchEngine

        engine = SearchEngine(store, settings)
        if refresh:
            result["index"] = str(engine.refresh())
            echo(f"index refresh: {result['index']}")
    except Exception as exc:
        log.warning("index refresh failed: %s", exc)
        result["index"] = f"failed: {exc}"
        echo(f"index refresh failed ({exc}); topics fall back to word matching")
        engine = None
    if settings.github_token:
        # star velocity feeds the trending part of the digests; a failed refresh (network, rate
        # limit) only makes it older, so the digests go out anyway
        try:
            from paperwire.ranking.stars import refresh_github_stars

            result["stars"] = str(refresh_github_stars(store, settings))
            echo(f"github stars: {result['stars']}")
        except Exception as exc:
            log.exception("github star refresh failed")
            result["stars"] = f"failed: {exc}"
            echo(f"github star refresh failed: {exc}")
    result["expired"] = expire_unconfirmed(store, settings)
    kinds = ["daily"] + (["weekly"] if day.weekday() == settings.digest_weekday else [])
    for kind in kinds:
        rep = build_period(store, settings, kind, as_of=day, engine=engine)
        result[kind] = rep.line()
        echo(rep.line())
    from paperwire.mailer import mail_enabled, DISABLED_MESSAGE

    if mail_enabled(settings):
        d = deliver(store, settings)
        result["deliver"] = d.line()
        echo(d.line())
    else:
        result["deliver"] = DISABLED_MESSAGE
        echo(DISABLED_MESSAGE + " (digests stay queued in the outbox)")
    return result


def next_run(now: datetime, hour: int) -> datetime:
    """The next time `hour`:00 UTC comes round after `now`."""
    t = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return t if t > now else t + timedelta(days=1)
