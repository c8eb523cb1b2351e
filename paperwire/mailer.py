"""SMTP delivery: plain, STARTTLS or SMTPS, with optional auth. Off until settings.smtp_host is set.

Callers build an ``email.message.EmailMessage`` and hand it over::

    from paperwire.mailer import mail_enabled, send_message, MailError
    if mail_enabled(settings):
        send_message(settings, msg)      # raises TemporaryMailError / PermanentMailError / MailDisabled

Failures are sorted the way SMTP defines them (RFC 5321 section 4.2.1): a 4xx reply or a
broken connection is temporary (try again later), a 5xx reply is permanent (the address or
message is refused; trying again will not help). The digest sender uses that to retry with
backoff or to stop mailing an address.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from paperwire.config import Settings

log = logging.getLogger(__name__)


class MailError(Exception):
    """Any failure to hand a message to the SMTP server."""

    code: int | None = None


class MailDisabled(MailError):
    pass


class TemporaryMailError(MailError):
    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class PermanentMailError(MailError):
    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


DISABLED_MESSAGE = ("e-mail is off: set smtp_host (PAPERWIRE_SMTP_HOST, with PAPERWIRE_SMTP_PORT, "
                    "PAPERWIRE_SMTP_SECURITY=plain|starttls|ssl, PAPERWIRE_SMTP_USER/PASSWORD) to send mail")


def sender_domain(settings: Settings) -> str:
    """The domain of mail_from: used in Message-IDs (never the machine's own host name)."""
    addr = parseaddr(settings.mail_from)[1]
    return addr.rsplit("@", 1)[1] if "@" in addr else "localhost"


def mail_enabled(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def _classify(exc: BaseException) -> MailError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        code = max(codes) if codes else None
        text = "; ".join(f"{rcpt}: {c} {m.decode(errors='replace') if isinstance(m, bytes) else m}"
                         for rcpt, (c, m) in exc.recipients.items())
        cls = PermanentMailError if code and code >= 500 else TemporaryMailError
        return cls(f"recipient refused: {text}", code)
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        cls = PermanentMailError if exc.smtp_code >= 500 else TemporaryMailError
        # 530/535 (authentication) are our configuration, not the recipient's fault
        if exc.smtp_code in (530, 534, 535, 538):
            cls = TemporaryMailError
        return cls(f"{exc.smtp_code} {msg}", exc.smtp_code)
    if isinstance(exc, (smtplib.SMTPException, OSError, socket.timeout, ssl.SSLError)):
        return TemporaryMailError(f"{type(exc).__name__}: {exc}")
    return TemporaryMailError(str(exc))


class Mailer:
    """One SMTP connection reused for many messages (a digest run), reopened when it drops.

    with Mailer(settings) as m:
        m.send(msg)
    """

    def __init__(self, settings: Settings, timeout: float = 30.0):
        if not mail_enabled(settings):
            raise MailDisabled(DISABLED_MESSAGE)
        if settings.smtp_security not in ("plain", "starttls", "ssl"):
            raise MailError(f"smtp_security must be 'plain', 'starttls' or 'ssl', not {settings.smtp_security!r}")
        self.settings = settings
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=s.smtp_ca_file or None)
        if s.smtp_security == "ssl":
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout)
        smtp.ehlo()
        if s.smtp_security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if s.smtp_user:
            smtp.login(s.smtp_user, s.smtp_password)
        return smtp

    def send(self, msg: EmailMessage) -> None:
        """Hand one message to the server; raises TemporaryMailError or PermanentMailError."""
        for attempt in (1, 2):
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                refused = self._smtp.send_message(msg)
                if refused:  # some of several recipients refused; we only ever send to one
                    raise smtplib.SMTPRecipientsRefused(refused)
                return
            except smtplib.SMTPServerDisconnected as exc:
                # a server may drop an idle connection between messages: reconnect once
                self.close(quiet=True)
                if attempt == 2:
                    raise _classify(exc) from exc
            except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
                # keep the connection usable for the next message
                try:
                    if self._smtp is not None:
                        self._smtp.rset()
                except (smtplib.SMTPException, OSError):
                    self.close(quiet=True)
                raise _classify(exc) from exc
            except (smtplib.SMTPException, OSError) as exc:
                self.close(quiet=True)
                raise _classify(exc) from exc

    def close(self, quiet: bool = False) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                try:
                    smtp.close()
                except OSError:
                    pass

    def __enter__(self) -> "Mailer":
        return self

    def __exit__(self, *exc) -> None:
        self.close(quiet=True)


def send_message(settings: Settings, msg: EmailMessage) -> None:
    """Send one message on its own connection (password resets, confirmations).

    Raises MailDisabled when smtp_host is empty, TemporaryMailError (4xx, network) or
    PermanentMailError (5xx) otherwise. Sets From from settings.mail_from if missing.
    """
    if "From" not in msg:
        msg["From"] = settings.mail_from
    if "Date" not in msg:
        msg["Date"] = formatdate(usegmt=True)
    if "Message-ID" not in msg:
        msg["Message-ID"] = make_msgid(domain=sender_domain(settings))
    with Mailer(settings) as m:
        m.send(msg)
