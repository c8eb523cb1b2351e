"""Subscribing to the digest: double opt-in, preferences, unsubscribing, and the signed links
every message carries (confirm, manage = preferences/unsubscribe, feedback).

A link is its own permission: it names one subscriber and is signed with settings.signing_key
under a salt per purpose, so a token made for one purpose opens nothing else. Manage and
feedback tokens also carry the subscriber's link epoch: bumping it voids every link sent so far.
SQL is in store/subscriptions.py; the e-mails are rendered by digest/builder.py and queued in
the outbox that digest/outbox.py delivers.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode, urlsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperwire.config import Settings
from paperwire.digest.builder import Links, render_email
from paperwire.digest.outbox import deliver, new_message_id
from paperwire.mailer import mail_enabled
from paperwire.store import subscriptions as subs
from paperwire.store.sqlite import Store
from paperwire.text import canonical_id

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

CONFIRM_SALT = "digest-confirm"
MANAGE_SALT = "digest-manage"
FEEDBACK_SALT = "digest-feedback"


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


def as_list(value) -> list[str]:
    """A preference list from a form or JSON value: a list, or comma/line separated text;
    trimmed, without blanks or repeats."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = re.split(r"[\n,;]+", value)
    elif not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of text or comma-separated text")
    else:
        parts = []
        for v in value:
            parts.extend(re.split(r"[\n,;]+", str(v)) if isinstance(v, str) and ("\n" in v or "," in v) else [str(v)])
    return list(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


def _check_list(key: str, values: list[str]) -> list[str]:
    """One interest list validated (ValueError naming the bad entry); seeds become canonical ids."""
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
    elif any(len(v) > 200 for v in values):
        raise ValueError(f"{key[:-1]} too long (200 characters at most)")
    return values


def parse_preferences(data: dict, partial: bool = False) -> dict:
    """Validate preferences from a form or JSON body. Lists may be lists or comma/line separated
    strings. Raises ValueError naming the bad field; with partial=True absent keys stay absent."""
    out: dict = {}
    if "frequency" in data or not partial:
        freq = str(data.get("frequency") or "daily").strip().lower()
        if freq not in PERIOD_DAYS:
            raise ValueError("frequency must be 'daily' or 'weekly'")
        out["frequency"] = freq
    if "size" in data or not partial:
        raw = data.get("size")
        try:
            if isinstance(raw, (bool, float)) or not isinstance(raw, (int, str, type(None))):
                raise TypeError(raw)  # 2.5, true, 1e999, a list: not a count of papers
            size = int(raw) if raw not in (None, "") else 10
        except (TypeError, ValueError):
            raise ValueError("size must be a whole number from 1 to 50")
        if not 1 <= size <= MAX_SIZE:
            raise ValueError("size must be a whole number from 1 to 50")
        out["size"] = size
    for key in ("categories", "authors", "topics", "seeds"):
        if key in data or not partial:
            try:
                values = as_list(data.get(key))
            except ValueError as exc:
                raise ValueError(f"{key} {exc}")
            out[key] = _check_list(key, values)
    return out


# --- signed links -------------------------------------------------------------------------

def signer(settings: Settings, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt=salt)


def confirm_token(settings: Settings, sub_id: int, nonce: str) -> str:
    return signer(settings, CONFIRM_SALT).dumps({"s": sub_id, "n": nonce})


def manage_token(settings: Settings, sub: subs.Subscriber) -> str:
    return signer(settings, MANAGE_SALT).dumps({"s": sub.id, "e": sub.link_epoch})


def feedback_token(settings: Settings, sub: subs.Subscriber) -> str:
    """One token per subscriber and digest for its "more like this" / "not interested" links.
    It authorises feedback on this subscriber's own profile only (its own salt, so it opens no
    preferences page); the paper and action travel as plain parameters beside it."""
    return signer(settings, FEEDBACK_SALT).dumps({"s": sub.id, "e": sub.link_epoch})


class LinkSigner:
    """A subscriber's own links, for many subscribers: the two serializers are built once (a
    digest run signs two tokens for every subscriber)."""

    def __init__(self, settings: Settings):
        self.base = settings.base_url.rstrip("/")
        self.manage = signer(settings, MANAGE_SALT)
        self.feedback = signer(settings, FEEDBACK_SALT)

    def links(self, sub: subs.Subscriber) -> Links:
        claims = {"s": sub.id, "e": sub.link_epoch}
        q = urlencode({"token": self.manage.dumps(claims)})
        return Links(preferences=f"{self.base}/preferences?{q}", unsubscribe=f"{self.base}/unsubscribe?{q}",
                     feedback=self.feedback.dumps(claims))


def links_for(settings: Settings, sub: subs.Subscriber) -> Links:
    return LinkSigner(settings).links(sub)


def _load(settings: Settings, salt: str, token: str, max_age_s: int, expired: str, invalid: str):
    """The token's claims; TokenError with `expired` or `invalid` as its message."""
    try:
        return signer(settings, salt).loads(token or "", max_age=max_age_s)
    except SignatureExpired:
        raise TokenError(expired)
    except BadSignature:
        raise TokenError(invalid)


def _linked_subscriber(store: Store, settings: Settings, salt: str, token: str, what: str,
                       hint: str) -> subs.Subscriber:
    """The subscriber a manage or feedback link belongs to, if the link is still valid."""
    data = _load(settings, salt, token, settings.link_max_age_days * 86400,
                 f"This {what} has expired. {hint}", f"This {what} is not valid. {hint}")
    sub = subs.get_subscriber(store, int(data.get("s", 0))) if isinstance(data, dict) else None
    if sub is None or sub.link_epoch != data.get("e"):
        raise TokenError(f"This {what} is no longer valid. {hint}")
    return sub


def check_feedback_token(store: Store, settings: Settings, token: str) -> subs.Subscriber:
    """The subscriber a digest feedback link belongs to. Raises TokenError."""
    return _linked_subscriber(store, settings, FEEDBACK_SALT, token, "feedback link",
                              "Use the links in your latest digest.")


def check_manage_token(store: Store, settings: Settings, token: str) -> subs.Subscriber:
    """The subscriber a preferences/unsubscribe link belongs to. Raises TokenError."""
    return _linked_subscriber(store, settings, MANAGE_SALT, token, "link", "Use the link in your latest digest.")


def check_confirm_token(store: Store, settings: Settings, token: str, apply: bool = True) -> subs.Subscriber:
    """Confirm the subscription the link names. Raises TokenError for a bad, expired or used link.
    apply=False only checks the link (the page a GET shows: link scanners follow GET links, so
    the confirmation itself is the page's POST)."""
    expired = "This confirmation link has expired. Subscribe again to get a new one."
    data = _load(settings, CONFIRM_SALT, token, settings.confirm_hours * 3600, expired,
                 "This confirmation link is not valid. Copy the whole address from the e-mail, or subscribe again.")
    if not isinstance(data, dict):
        raise TokenError("This confirmation link is not valid.")
    sub = subs.get_subscriber(store, int(data.get("s", 0)))
    if sub is None:
        raise TokenError(expired)
    if sub.status == "active":
        return sub  # clicked twice: already done, nothing more to do
    if not apply and sub.confirm_nonce == str(data.get("n", "")) and sub.status == "pending":
        return sub
    if not apply or not subs.confirm(store, sub.id, str(data.get("n", ""))):
        raise TokenError("This confirmation link was already used or replaced by a newer one. "
                         "Use the newest e-mail, or subscribe again.")
    return subs.get_subscriber(store, sub.id)


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
    """The List-Id header of every digest (RFC 2919): mail clients group and filter by it."""
    host = (urlsplit(settings.base_url).hostname or "localhost").strip(".")
    if "." not in host:
        host += ".local"
    return f"{settings.site_name} digest <digest.{host}>"


@dataclass
class _Mail:
    kind: str  # the outbox kind: 'confirm' or 'notice'
    subject: str
    text: str
    html: str | None = None


def _confirmation(settings: Settings, sub: subs.Subscriber, nonce: str, ctx: dict) -> tuple[_Mail, str]:
    """The double opt-in mail and its confirmation link."""
    url = f"{ctx['base_url']}/subscribe/confirm?{urlencode({'token': confirm_token(settings, sub.id, nonce)})}"
    ctx = {**ctx, "confirm_url": url}
    return _Mail("confirm", f"Confirm your {settings.site_name} digest subscription",
                 render_email("email/confirm.txt", ctx), render_email("email/confirm.html", ctx)), url


def _reminder(settings: Settings, sub: subs.Subscriber, ctx: dict) -> _Mail:
    """For an address already subscribed: its preferences link instead of a new confirmation."""
    links = links_for(settings, sub)
    ctx = {**ctx, "preferences_url": links.preferences, "unsubscribe_url": links.unsubscribe}
    return _Mail("notice", f"You are already subscribed to the {settings.site_name} digest",
                 render_email("email/already.txt", ctx))


def subscribe(store: Store, settings: Settings, email: str, prefs: dict | None = None,
              send: bool = True) -> SubscribeOutcome:
    """Start (or restart) double opt-in for `email`. The caller shows PUBLIC_ANSWER whatever
    the outcome. Raises ValueError only for an address that is not an address."""
    email = normalise_email(email)
    clean = parse_preferences(prefs or {}, partial=True)
    clean.setdefault("size", settings.digest_size)
    nonce = secrets.token_urlsafe(16)
    since = subs.outbox_time(datetime.now(timezone.utc) - timedelta(days=1))
    with store.transaction() as conn:
        sub = subs.upsert_pending(store, email, clean, nonce, conn)
        if subs.recent_messages(conn, sub.id, ("confirm", "notice"), since) >= settings.confirm_per_address_day:
            # per-address limit: nobody can use us to flood an inbox
            return SubscribeOutcome("limited", sub)
        ctx = {"site_name": settings.site_name, "base_url": settings.base_url.rstrip("/"), "email": email,
               "hours": settings.confirm_hours}
        if sub.status == "active":
            action, mail, confirm_url = "reminder", _reminder(settings, sub, ctx), None
        else:
            action, (mail, confirm_url) = "confirm", _confirmation(settings, sub, nonce, ctx)
        msg_id = subs.add_message(conn, subscriber_id=sub.id, period=f"{mail.kind}:{nonce}", kind=mail.kind,
                                  to_addr=email, subject=mail.subject, text_body=mail.text, html_body=mail.html,
                                  headers={}, message_id=new_message_id(settings))
    outcome = SubscribeOutcome(action, sub, msg_id, confirm_url)
    if send and msg_id is not None:
        if mail_enabled(settings):
            outcome.sent = deliver(store, settings, ids=[msg_id], wait=False).sent == 1
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
    """Delete the sign-ups nobody confirmed within settings.pending_expire_days."""
    now = now or datetime.now(timezone.utc)
    cutoff = (now - timedelta(days=settings.pending_expire_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return subs.expire_pending(store, cutoff)
