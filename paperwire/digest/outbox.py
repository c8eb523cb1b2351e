"""Delivering the outbox: every message is written there before it is sent (store/subscriptions.py),
and this module turns outbox rows into MIME messages and hands them to the SMTP server.

Delivery guarantees:
- ``deliver`` marks a message 'sending' before talking to the server and 'sent' right after
  the server accepted it. A run killed at any point is re-run and sends every message not
  yet marked sent. The one window SMTP itself leaves open -- the server accepted the message
  but the process died before writing 'sent' -- resends that one message with the same
  Message-ID, which lets the receiving side drop the duplicate.
- Runs on any number of hosts never both send a message: a run claims one message at a time
  (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one write transaction on SQLite:
  paperwire.store.shared_state.claim_message) and holds it for settings.digest_lease_seconds;
  another run takes it over only when the holder's process is gone (same host) or the lease
  ran out (any host). 'sent' is written in the same UPDATE that records the sending run.
- 4xx and network errors retry with exponential backoff (settings.digest_retry_base,
  doubling, at most settings.digest_max_attempts); a 5xx marks the address 'bounced' and
  cancels everything else queued for it.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Callable

from paperwire.config import Settings
from paperwire.mailer import Mailer, PermanentMailError, TemporaryMailError, sender_domain
from paperwire.store import shared_state, subscriptions as subs
from paperwire.store.sqlite import Store

log = logging.getLogger(__name__)

def new_message_id(settings: Settings) -> str:
    """A Message-ID fixed when the message is queued, so every retry reuses it. Its random part
    comes from `secrets`, not the `random` module that make_msgid uses (which a seeded caller,
    e.g. a property-based test, makes repeat: the outbox keeps message ids unique)."""
    return f"<{int(time.time())}.{secrets.token_hex(12)}.pw@{sender_domain(settings)}>"


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


def write_dry_run(out_dir: Path, settings: Settings, digest) -> list[str]:
    """A built digest written as .eml (the MIME message that would be sent), .html and .txt;
    returns the files' paths."""
    row = subs.OutboxRow(0, digest.subscriber_id, digest.period, "digest", digest.email, digest.subject,
                         digest.text, digest.html, digest.headers, new_message_id(settings), "pending", 0, "", None)
    msg = compose(settings, row)
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", digest.email)[:80]
    base = out_dir / f"{safe_name}.{digest.period.replace(':', '-')}"
    files = []
    for suffix, content in ((".eml", msg.as_bytes()), (".html", digest.html.encode()), (".txt", digest.text.encode())):
        p = base.with_name(base.name + suffix)
        p.write_bytes(content)
        files.append(str(p))
    return files


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


# --- who holds a message ---------------------------------------------------------------------

process_id = shared_state.process_id


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# --- sending ----------------------------------------------------------------------------------

def due_for(store: Store, email: str) -> list[int]:
    """Ids of the queued messages to one (normalised) address, for `digest send --to`."""
    return shared_state.queued_ids(store, email)


def _claims(store: Store, settings: Settings, owner: str, ids: list[int] | None,
            now: Callable[[], datetime]):
    """The messages this run takes, one claim at a time (so a killed run strands one message,
    not a batch): first those whose sender died on this host, then each due one in turn."""
    lease = lambda: subs.outbox_time(now() + timedelta(seconds=settings.digest_lease_seconds))  # noqa: E731
    for msg_id, holder, _attempts in shared_state.orphaned_messages(store, ids):
        if shared_state.take_over(store, msg_id, holder, owner, lease()):
            log.warning("took over message %d from %s (that sender is gone)", msg_id, holder)
            yield msg_id
    while True:
        msg_id = shared_state.claim_message(store, owner, subs.outbox_time(now()), lease(), ids)
        if msg_id is None:
            return
        yield msg_id


def _temporary_failure(store: Store, settings: Settings, row: subs.OutboxRow, exc: Exception,
                       now: Callable[[], datetime], report: DeliverReport) -> None:
    """Schedule another attempt with exponential backoff, or give up after the last one.
    `row.attempts` already counts this attempt (the claim counted it)."""
    attempts = row.attempts
    if attempts >= settings.digest_max_attempts:
        subs.mark_failed(store, row.id, f"gave up after {attempts} attempts: {exc}")
        report.failed += 1
        return
    delay = settings.digest_retry_base * 2 ** (attempts - 1)
    subs.mark_retry(store, row.id, subs.outbox_time(now() + timedelta(seconds=delay)), str(exc))
    report.retried += 1
    log.info("temporary failure for %s (%s); retry in %.1fs", row.to_addr, exc, delay)


def _send_one(store: Store, settings: Settings, mailer: Mailer, msg_id: int, owner: str,
              now: Callable[[], datetime], report: DeliverReport) -> subs.OutboxRow | None:
    """Send one message this run has claimed, recording the outcome; the row when the server
    accepted it."""
    row = subs.get_message(store, msg_id)
    if row is None:
        return None
    state = subs.subscriber_status(store, row.subscriber_id)
    if row.kind == "digest" and state != "active" or state == "bounced":
        subs.mark_failed(store, row.id, f"subscriber {state or 'deleted'}", status="cancelled")
        report.cancelled += 1
        return None
    try:
        mailer.send(compose(settings, row))
    except PermanentMailError as exc:
        log.warning("permanent failure for %s: %s; address marked bounced", row.to_addr, exc)
        subs.bounce(store, row.id, row.subscriber_id, str(exc))
        report.bounced += 1
        return None
    except TemporaryMailError as exc:
        _temporary_failure(store, settings, row, exc, now, report)
        return None
    # A kill between the server's acceptance and this commit is the one window that sends a
    # message twice: the next run resends it with the same Message-ID (docs/deployment.md).
    if not shared_state.mark_sent(store, row.id, owner, subs.outbox_time(now())):
        log.warning("message %d to %s was sent after this run's lease ran out; another run may have "
                    "sent it too (same Message-ID %s)", row.id, row.to_addr, row.message_id)
    report.sent += 1
    return row


POLL_SECONDS = 1.0  # how often a run looks again while another run holds messages


def _pause_before_next_round(store: Store, settings: Settings, ids: list[int] | None, had_due: bool,
                             wait: bool, now: Callable[[], datetime], owner: str) -> float | None:
    """Seconds to wait before the next round over the outbox (0: go on at once), or None to stop:
    nothing is queued, or the next retry is not this run's to wait for.

    While another run (on any host) holds messages, this one looks again every POLL_SECONDS
    (up to settings.digest_retry_wait): the other run usually sends them and this one stops;
    if it died, this run takes its messages over -- at once when it died on this host, when its
    lease runs out otherwise."""
    if ids is None:
        nxt = subs.next_due(store)
    else:
        rows = (subs.get_message(store, i) for i in ids)
        nxt = min((r.next_attempt_at for r in rows if r and r.status in ("pending", "sending")), default=None)
    if nxt is None:
        return None
    wait_s = (subs.parse_outbox_time(nxt) - now()).total_seconds()
    if wait_s <= 0 and had_due or shared_state.orphaned_messages(store, ids):
        return 0.0
    if not wait or wait_s > settings.digest_retry_wait or wait_s <= 0:
        return None
    if shared_state.held_by_others(store, owner, ids):
        return min(wait_s, POLL_SECONDS)
    return wait_s


def deliver(store: Store, settings: Settings, ids: list[int] | None = None, wait: bool = True,
            now: Callable[[], datetime] = utc_now, sleep: Callable[[float], None] = time.sleep,
            on_sent: Callable[[subs.OutboxRow], None] | None = None) -> DeliverReport:
    """Send every due message in the outbox (or just `ids`). With `wait`, temporary failures due
    again within settings.digest_retry_wait seconds are retried in this run."""
    report = DeliverReport()
    owner = shared_state.new_holder()
    with Mailer(settings) as mailer:  # raises MailDisabled with a clear message when off
        while True:
            had_due = False
            for msg_id in _claims(store, settings, owner, ids, now):
                had_due = True
                row = _send_one(store, settings, mailer, msg_id, owner, now, report)
                if row is not None and on_sent:
                    on_sent(row)
            pause = _pause_before_next_round(store, settings, ids, had_due, wait, now, owner)
            if pause is None:
                break
            if pause > 0:
                sleep(pause)
    if ids is None:
        report.waiting = len(shared_state.queued_ids(store))
    return report
