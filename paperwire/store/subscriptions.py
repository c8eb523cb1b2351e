"""Table access for subscribers and the outbox. All SQL of the digest lives here.

The outbox is what makes delivery safe: a digest is written (one row per subscriber and
period, unique) before any SMTP traffic, and its status moves pending -> sending -> sent.
A run that dies leaves rows in 'pending' or 'sending'; the next run picks both up.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone

from paperwire.store.sqlite import Store, utcnow

PREF_FIELDS = ("frequency", "size", "categories", "authors", "topics", "seeds")
_LIST_FIELDS = ("categories", "authors", "topics", "seeds")


@dataclass
class Subscriber:
    id: int
    email: str
    status: str = "pending"
    frequency: str = "daily"
    size: int = 10
    categories: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    seeds: list[str] = field(default_factory=list)
    confirm_nonce: str | None = None
    link_epoch: int = 0
    last_until: str | None = None
    created_at: str = ""
    confirmed_at: str | None = None
    unsubscribed_at: str | None = None
    bounced_at: str | None = None
    bounce_reason: str | None = None

    def preferences(self) -> dict:
        return {k: getattr(self, k) for k in PREF_FIELDS}


@dataclass
class OutboxRow:
    id: int
    subscriber_id: int | None
    period: str
    kind: str
    to_addr: str
    subject: str
    text_body: str
    html_body: str | None
    headers: dict
    message_id: str
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    claimed_by: str | None = None


_SUB_COLS = ("id, email, status, frequency, size, categories, authors, topics, seeds, confirm_nonce, link_epoch, "
             "last_until, created_at, confirmed_at, unsubscribed_at, bounced_at, bounce_reason")


def _sub(row: sqlite3.Row | None) -> Subscriber | None:
    if row is None:
        return None
    d = dict(row)
    for k in _LIST_FIELDS:
        d[k] = json.loads(d[k] or "[]")
    return Subscriber(**d)


def _where(conditions: dict[str, object]) -> tuple[str, list]:
    """A WHERE clause (with its parameters) of the conditions whose value is given, each a
    fragment with one "?"; an empty string when none is, so every row qualifies."""
    given = [(fragment, value) for fragment, value in conditions.items() if value]
    if not given:
        return "", []
    return " WHERE " + " AND ".join(f for f, _ in given), [v for _, v in given]


def get_subscriber(store: Store, sub_id: int) -> Subscriber | None:
    return _sub(store.query_one(f"SELECT {_SUB_COLS} FROM subscribers WHERE id=?", (sub_id,)))


def get_by_email(store: Store, email: str) -> Subscriber | None:
    return _sub(store.query_one(f"SELECT {_SUB_COLS} FROM subscribers WHERE email=?", (email,)))


def list_subscribers(store: Store, status: str | None = None, frequency: str | None = None,
                     period: str | None = None) -> list[Subscriber]:
    """Subscribers by status/frequency; with `period`, only those without an outbox row for it."""
    where, params = _where({"status=?": status, "frequency=?": frequency,
                            "NOT EXISTS (SELECT 1 FROM outbox o WHERE o.subscriber_id=s.id AND o.period=?)": period})
    return [_sub(r) for r in store.query(f"SELECT {_SUB_COLS} FROM subscribers s{where} ORDER BY id", params)]


def upsert_pending(store: Store, email: str, prefs: dict, nonce: str, conn: sqlite3.Connection) -> Subscriber:
    """A subscribe request: new address -> pending with `nonce`; pending, unsubscribed or bounced
    -> pending again with a fresh nonce (old links stop working) and the new preferences;
    active -> unchanged (the caller mails a reminder instead of a confirmation)."""
    now = utcnow()
    row = conn.execute(f"SELECT {_SUB_COLS} FROM subscribers WHERE email=?", (email,)).fetchone()
    values = {k: json.dumps(v) if k in _LIST_FIELDS else v for k, v in prefs.items() if k in PREF_FIELDS}
    if row is None:
        cols = ["email", "status", "confirm_nonce", "created_at", "updated_at", *values]
        conn.execute(f"INSERT INTO subscribers({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                     (email, "pending", nonce, now, now, *values.values()))
    elif row["status"] != "active":
        sets = "".join(f", {k}=?" for k in values)
        conn.execute(f"UPDATE subscribers SET status='pending', confirm_nonce=?, updated_at=?{sets} WHERE id=?",
                     (nonce, now, *values.values(), row["id"]))
    return _sub(conn.execute(f"SELECT {_SUB_COLS} FROM subscribers WHERE email=?", (email,)).fetchone())


def confirm(store: Store, sub_id: int, nonce: str) -> bool:
    """Activate a pending subscriber if `nonce` is the current one; the nonce is used up."""
    now = utcnow()
    with store.transaction() as conn:
        cur = conn.execute(
            "UPDATE subscribers SET status='active', confirm_nonce=NULL, confirmed_at=?, updated_at=?, "
            "unsubscribed_at=NULL, bounced_at=NULL, bounce_reason=NULL "
            "WHERE id=? AND status='pending' AND confirm_nonce=?", (now, now, sub_id, nonce))
        return cur.rowcount == 1


def rotate_links(store: Store, sub_id: int) -> None:
    """Void every preferences, unsubscribe and feedback link already sent to the subscriber (they
    are signed with the old link_epoch), e.g. after a digest was forwarded."""
    with store.transaction() as conn:
        conn.execute("UPDATE subscribers SET link_epoch=link_epoch+1, updated_at=? WHERE id=?", (utcnow(), sub_id))


def update_preferences(store: Store, sub_id: int, prefs: dict) -> None:
    values = {k: json.dumps(v) if k in _LIST_FIELDS else v for k, v in prefs.items() if k in PREF_FIELDS}
    if not values:
        return
    sets = ", ".join(f"{k}=?" for k in values)
    with store.transaction() as conn:
        conn.execute(f"UPDATE subscribers SET {sets}, updated_at=? WHERE id=?", (*values.values(), utcnow(), sub_id))


def set_status(store: Store, sub_id: int, status: str, reason: str | None = None,
               conn: sqlite3.Connection | None = None) -> None:
    """unsubscribed / bounced / active (resubscribe from an unsubscribe page). Leaving 'active'
    cancels the subscriber's unsent digests at once: they take effect immediately."""
    if conn is None:
        with store.transaction() as c:
            return set_status(store, sub_id, status, reason, conn=c)
    now = utcnow()
    if status == "unsubscribed":
        conn.execute("UPDATE subscribers SET status='unsubscribed', unsubscribed_at=?, updated_at=? WHERE id=?",
                     (now, now, sub_id))
    elif status == "bounced":
        conn.execute("UPDATE subscribers SET status='bounced', bounced_at=?, bounce_reason=?, updated_at=? WHERE id=?",
                     (now, (reason or "")[:500], now, sub_id))
    elif status == "active":
        conn.execute("UPDATE subscribers SET status='active', unsubscribed_at=NULL, updated_at=? WHERE id=?",
                     (now, sub_id))
    else:
        raise ValueError(f"unknown status {status!r}")
    if status != "active":
        conn.execute("UPDATE outbox SET status='cancelled', last_error=? WHERE subscriber_id=? "
                     "AND kind='digest' AND status IN ('pending', 'sending')", (f"subscriber {status}", sub_id))


def expire_pending(store: Store, before: str) -> int:
    """Delete never-confirmed subscribers created before `before` (ISO UTC)."""
    with store.transaction() as conn:
        return conn.execute("DELETE FROM subscribers WHERE status='pending' AND confirmed_at IS NULL "
                            "AND updated_at < ?", (before,)).rowcount


def recent_messages(conn: sqlite3.Connection, sub_id: int, kinds: tuple[str, ...], since: str) -> int:
    """How many messages of these kinds were queued for this subscriber since `since` (rate limit)."""
    marks = ",".join("?" * len(kinds))
    return conn.execute(f"SELECT count(*) FROM outbox WHERE subscriber_id=? AND kind IN ({marks}) AND created_at >= ?",
                        (sub_id, *kinds, since)).fetchone()[0]


def counts(store: Store) -> dict:
    subs = {r[0]: r[1] for r in store.query("SELECT status, count(*) FROM subscribers GROUP BY status")}
    out = {r[0]: r[1] for r in store.query("SELECT status, count(*) FROM outbox GROUP BY status")}
    return {"subscribers": subs, "outbox": out}


# -- outbox ----------------------------------------------------------------------------------

# Outbox times carry microseconds, in one fixed format, so text comparison is time order.
OUTBOX_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def outbox_time(moment: datetime) -> str:
    """`moment` (UTC) written as the outbox writes its times."""
    return moment.strftime(OUTBOX_TIME_FORMAT)


def parse_outbox_time(text: str) -> datetime:
    return datetime.strptime(text, OUTBOX_TIME_FORMAT).replace(tzinfo=timezone.utc)


def add_message(conn: sqlite3.Connection, *, subscriber_id: int | None, period: str, kind: str, to_addr: str,
                subject: str, text_body: str, html_body: str | None, headers: dict, message_id: str,
                n_items: int = 0, last_until: str | None = None) -> int | None:
    """Queue one message (inside the caller's transaction). Returns its id, or None when this
    subscriber already has a message for `period` (building twice is a no-op). With
    `last_until`, the subscriber's "new since" mark moves in the same transaction."""
    now = outbox_time(datetime.now(timezone.utc))
    row = conn.execute(
        "INSERT INTO outbox(subscriber_id, period, kind, to_addr, subject, text_body, html_body, headers, message_id, "
        "n_items, status, attempts, next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,'pending',0,?,?) "
        "ON CONFLICT(subscriber_id, period) DO NOTHING RETURNING id",
        (subscriber_id, period, kind, to_addr, subject, text_body, html_body, json.dumps(headers), message_id,
         n_items, now, now)).fetchone()
    if row is None:
        return None
    if last_until and subscriber_id is not None:
        conn.execute("UPDATE subscribers SET last_until=? WHERE id=? AND (last_until IS NULL OR last_until < ?)",
                     (last_until, subscriber_id, last_until))
    return row[0]


def mark_period_done(conn: sqlite3.Connection, sub_id: int, last_until: str) -> None:
    """Nothing new for this subscriber this period (and empty digests are off): move the mark."""
    conn.execute("UPDATE subscribers SET last_until=? WHERE id=? AND (last_until IS NULL OR last_until < ?)",
                 (last_until, sub_id, last_until))


_OUT_COLS = ("id, subscriber_id, period, kind, to_addr, subject, text_body, html_body, headers, message_id, status, "
             "attempts, next_attempt_at, last_error, claimed_by")


def _out(row) -> OutboxRow:
    d = dict(row)
    d["headers"] = json.loads(d["headers"] or "{}")
    return OutboxRow(**d)


def due_messages(store: Store, now: str, limit: int = 500, ids: list[int] | None = None) -> list[OutboxRow]:
    """Messages to (re)send now, oldest first: pending ones that are due, and every 'sending' one
    (another run's, or a killed run's: the caller decides whether it may take it over)."""
    sql = (f"SELECT {_OUT_COLS} FROM outbox WHERE (status='pending' AND next_attempt_at <= ?) "
           "OR status='sending'")
    sql = f"SELECT * FROM ({sql}) due WHERE 1=1"
    params: list = [now]
    if ids is not None:
        if not ids:
            return []
        sql += f" AND id IN ({','.join('?' * len(ids))})"
        params += ids
    return [_out(r) for r in store.query(sql + " ORDER BY id LIMIT ?", (*params, limit))]


def next_due(store: Store) -> str | None:
    row = store.query_one("SELECT min(next_attempt_at) FROM outbox WHERE status IN ('pending', 'sending')")
    return row[0] if row else None


def get_message(store: Store, msg_id: int) -> OutboxRow | None:
    row = store.query_one(f"SELECT {_OUT_COLS} FROM outbox WHERE id=?", (msg_id,))
    return _out(row) if row else None


def subscriber_status(store: Store, sub_id: int | None) -> str | None:
    if sub_id is None:
        return None
    row = store.query_one("SELECT status FROM subscribers WHERE id=?", (sub_id,))
    return row[0] if row else None


def claim(store: Store, row: OutboxRow, owner: str, lease_until: str) -> bool:
    """Take a message for sending: only if nobody changed it since `row` was read (so of two
    runs reading the same row, one wins). Counts the attempt; the lease is next_attempt_at."""
    with store.transaction() as conn:
        cur = conn.execute(
            "UPDATE outbox SET status='sending', attempts=attempts+1, claimed_by=?, next_attempt_at=? "
            "WHERE id=? AND status=? AND attempts=? AND COALESCE(claimed_by, '')=?",
            (owner, lease_until, row.id, row.status, row.attempts, row.claimed_by or ""))
        return cur.rowcount == 1


def mark_sent(store: Store, msg_id: int) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE outbox SET status='sent', sent_at=?, last_error=NULL, claimed_by=NULL WHERE id=?",
                     (utcnow(), msg_id))


def mark_retry(store: Store, msg_id: int, next_at: str, error: str) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE outbox SET status='pending', next_attempt_at=?, last_error=?, claimed_by=NULL WHERE id=?",
                     (next_at, error[:500], msg_id))


def mark_failed(store: Store, msg_id: int, error: str, status: str = "failed") -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE outbox SET status=?, last_error=?, claimed_by=NULL WHERE id=?", (status, error[:500], msg_id))


def bounce(store: Store, msg_id: int, sub_id: int | None, error: str) -> None:
    """A permanent rejection: this message failed and the address is never mailed again."""
    with store.transaction() as conn:
        conn.execute("UPDATE outbox SET status='failed', last_error=? WHERE id=?", (error[:500], msg_id))
        if sub_id is not None:
            set_status(store, sub_id, "bounced", error, conn=conn)
            conn.execute("UPDATE outbox SET status='cancelled', last_error='address bounced' WHERE subscriber_id=? "
                         "AND status IN ('pending', 'sending')", (sub_id,))


def outbox_rows(store: Store, period: str | None = None, status: str | None = None) -> list[OutboxRow]:
    where, params = _where({"period=?": period, "status=?": status})
    return [_out(r) for r in store.query(f"SELECT {_OUT_COLS} FROM outbox{where} ORDER BY id", params)]
