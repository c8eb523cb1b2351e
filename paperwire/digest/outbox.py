"""Delivering the outbox: every message is written there before it is sent (store/subscriptions.py),
and this module turns outbox rows into MIME messages and hands them to the SMTP server.

Delivery guarantees:
- ``deliver`` marks a message 'sending' before talking to the server and 'sent' right after
  the server accepted it. A run killed at any point is re-run and sends every message not
  yet marked sent. The one window SMTP itself leaves open -- the server accepted the message
  but the process died before writing 'sent' -- resends that one message with the same
  Message-ID, which lets the receiving side drop the duplicate.
- Two overlapping runs never both send a message: a run claims it with a compare-and-swap
  and holds it for LEASE_SECONDS; another run takes it over only when the holder's process
  is gone or the lease ran out.
- 4xx and network errors retry with exponential backoff (settings.digest_retry_base,
  doubling, at most settings.digest_max_attempts); a 5xx marks the address 'bounced' and
  cancels everything else queued for it.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Callable

import psutil

from paperwire.config import Settings
from paperwire.mailer import Mailer, PermanentMailError, TemporaryMailError, sender_domain
from paperwire.store import subscriptions as subs
from paperwire.store.sqlite import Store

log = logging.getLogger(__name__)

LEASE_SECONDS = 900  # how long a run may hold a message before another run may take it over


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

def process_id() -> str:
    """This process as "host:pid:start time" (a pid alone is reused once the process is gone)."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(psutil.Process().create_time())}"


def _holder_alive(claimed_by: str | None) -> bool:
    """Is the process that claimed a message still running? Unknown (another host) counts as alive,
    so only its lease running out frees the message."""
    if not claimed_by:
        return False
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


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# --- sending ----------------------------------------------------------------------------------

def due_for(store: Store, email: str) -> list[int]:
    """Ids of the queued messages to one (normalised) address, for `digest send --to`."""
    return [r.id for r in subs.due_messages(store, "9999", limit=10**9) if r.to_addr.lower() == email.lower()]


def _due_now(store: Store, ids: list[int] | None, now: str) -> list[subs.OutboxRow]:
    # a 'sending' message is taken over only from a run that died or overran its lease
    return [r for r in subs.due_messages(store, now, ids=ids)
            if r.status == "pending" or r.next_attempt_at <= now or not _holder_alive(r.claimed_by)]


def _temporary_failure(store: Store, settings: Settings, row: subs.OutboxRow, exc: Exception,
                       now: Callable[[], datetime], report: DeliverReport) -> None:
    """Schedule another attempt with exponential backoff, or give up after the last one."""
    attempts = row.attempts + 1
    if attempts >= settings.digest_max_attempts:
        subs.mark_failed(store, row.id, f"gave up after {attempts} attempts: {exc}")
        report.failed += 1
        return
    delay = settings.digest_retry_base * 2 ** (attempts - 1)
    subs.mark_retry(store, row.id, subs.outbox_time(now() + timedelta(seconds=delay)), str(exc))
    report.retried += 1
    log.info("temporary failure for %s (%s); retry in %.1fs", row.to_addr, exc, delay)


def _send_one(store: Store, settings: Settings, mailer: Mailer, row: subs.OutboxRow, owner: str,
              now: Callable[[], datetime], report: DeliverReport) -> bool:
    """Claim and send one message, recording the outcome; True when the server accepted it."""
    state = subs.subscriber_status(store, row.subscriber_id)
    if row.kind == "digest" and state != "active" or state == "bounced":
        subs.mark_failed(store, row.id, f"subscriber {state or 'deleted'}", status="cancelled")
        report.cancelled += 1
        return False
    if not subs.claim(store, row, owner, subs.outbox_time(now() + timedelta(seconds=LEASE_SECONDS))):
        return False  # another run took it first
    try:
        mailer.send(compose(settings, row))
    except PermanentMailError as exc:
        log.warning("permanent failure for %s: %s; address marked bounced", row.to_addr, exc)
        subs.bounce(store, row.id, row.subscriber_id, str(exc))
        report.bounced += 1
        return False
    except TemporaryMailError as exc:
        _temporary_failure(store, settings, row, exc, now, report)
        return False
    subs.mark_sent(store, row.id)
    report.sent += 1
    return True


def _pause_before_next_round(store: Store, settings: Settings, ids: list[int] | None, had_due: bool,
                             wait: bool, now: Callable[[], datetime]) -> float | None:
    """Seconds to wait before the next round over the outbox (0: go on at once), or None to stop:
    nothing is queued, or the next retry is not this run's to wait for."""
    if ids is None:
        nxt = subs.next_due(store)
    else:
        rows = (subs.get_message(store, i) for i in ids)
        nxt = min((r.next_attempt_at for r in rows if r and r.status in ("pending", "sending")), default=None)
    if nxt is None:
        return None
    wait_s = (subs.parse_outbox_time(nxt) - now()).total_seconds()
    if wait_s <= 0 and had_due:
        return 0.0
    if not wait or wait_s > settings.digest_retry_wait or wait_s <= 0:
        return None
    return wait_s


def deliver(store: Store, settings: Settings, ids: list[int] | None = None, wait: bool = True,
            now: Callable[[], datetime] = utc_now, sleep: Callable[[float], None] = time.sleep,
            on_sent: Callable[[subs.OutboxRow], None] | None = None) -> DeliverReport:
    """Send every due message in the outbox (or just `ids`). With `wait`, temporary failures due
    again within settings.digest_retry_wait seconds are retried in this run."""
    report = DeliverReport()
    owner = f"{process_id()}:{secrets.token_hex(4)}"
    with Mailer(settings) as mailer:  # raises MailDisabled with a clear message when off
        while True:
            due = _due_now(store, ids, subs.outbox_time(now()))
            for row in due:
                if _send_one(store, settings, mailer, row, owner, now, report) and on_sent:
                    on_sent(row)
            pause = _pause_before_next_round(store, settings, ids, bool(due), wait, now)
            if pause is None:
                break
            if pause > 0:
                sleep(pause)
    if ids is None:
        report.waiting = len(subs.due_messages(store, "9999", limit=10**9))
    return report
