"""Helpers for the digest/subscription tests: a real aiosmtpd server on 127.0.0.1 whose
handler can answer 4xx/5xx on demand, and a store holding two real listing days of the demo
data (2026-06-30 and 2026-07-01)."""

from __future__ import annotations

import email
import email.policy
import gzip
import json
import re
import shutil
import socket
import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from aiosmtpd.controller import Controller

DEMO = Path(__file__).parent.parent / "demo"
SECRET = "test-secret-" + "x" * 40
DAYS = ("2026-06-30", "2026-07-01")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RecordingHandler:
    """Accepts mail and keeps it; `data_replies` (consumed in order) make DATA fail, `rcpt_replies`
    refuse given recipients, `on_mail(n_accepted)` may return a reply (and do things) before MAIL."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.data_replies: list[str] = []
        self.rcpt_replies: dict[str, str] = {}
        self.on_mail = None
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.on_mail is not None:
            reply = self.on_mail(len(self.messages))
            if reply:
                return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(msg)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


class SMTPServer:
    def __init__(self, handler: RecordingHandler | None = None, **kw):
        self.handler = handler or RecordingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kw)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def demo_records(days=DAYS, limit_per_day: int | None = None) -> list[dict]:
    out, per = [], {}
    with gzip.open(DEMO / "records.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            d = r.get("listing_date")
            if d in days and (limit_per_day is None or per.get(d, 0) < limit_per_day):
                per[d] = per.get(d, 0) + 1
                out.append(r)
    return out


_TEMPLATE: dict[str, Path] = {}


def demo_db(tmp_path: Path) -> Path:
    """A copy of a database with the demo's last two listing days (built once per session)."""
    from paperwire.ingest import import_file
    from paperwire.store import open_store

    if "db" not in _TEMPLATE:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="pw-digest-"))
        src = folder / "records.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in demo_records()), encoding="utf-8")
        db = folder / "template.db"
        st = open_store(str(db))
        import_file(st, src, "listing")
        st.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        st.close()
        _TEMPLATE["db"] = db
    dst = tmp_path / "test.db"
    shutil.copy(_TEMPLATE["db"], dst)
    return dst


def mail_settings(db: Path, port: int | None, **kw):
    from paperwire.config import Settings

    values = dict(db=str(db), secret_key=SECRET, base_url="http://testserver", smtp_security="plain",
                  mail_from="paperwire <digest@paperwire.test>", digest_retry_base=0.05, digest_retry_wait=5.0)
    if port:
        values.update(smtp_host="127.0.0.1", smtp_port=port)
    values.update(kw)
    return Settings.load(env={}, **values)


def text_part(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def html_part(msg) -> str:
    return msg.get_body(("html",)).get_content()


def link_in(text: str, path: str) -> str:
    """The first URL in `text` whose path is `path` (e.g. '/subscribe/confirm')."""
    for url in re.findall(r"https?://[^\s<>\"]+", text):
        if urlsplit(url).path == path:
            return url.replace("&amp;", "&")
    raise AssertionError(f"no {path} link in:\n{text}")


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def local(url: str) -> str:
    """The path+query of a link, for the in-process client."""
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no csrf field in page"
    return unquote(m.group(1))


def active(store, settings, address, **prefs):
    """A confirmed subscriber, with the confirmation mail cancelled (tests count digests only)."""
    from paperwire.digest import subscriptions
    from paperwire.store import subscriptions as subs

    out = subscriptions.subscribe(store, settings, address, prefs, send=False)
    subscriptions.check_confirm_token(store, settings, token_of(out.confirm_url))
    for row in subs.outbox_rows(store, status="pending"):
        subs.mark_failed(store, row.id, "test: not sent", status="cancelled")
    return subs.get_by_email(store, address)


def confirm_by_link(client, url: str):
    """Follow a confirmation link as a reader does: the GET page shows a button (and confirms
    nothing), its form posts the confirmation. Returns the POST's answer."""
    page = client.get(local(url))
    assert page.status_code == 200 and "Confirm my subscription" in page.text, page.text[:500]
    return client.post(local(url), data={"csrf": csrf_from(page.text)})
