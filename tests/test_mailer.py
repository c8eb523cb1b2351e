"""paperwire.mailer against a real aiosmtpd server on 127.0.0.1: plain, STARTTLS, SMTPS, AUTH,
and how SMTP replies map to temporary / permanent errors."""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import pytest
import trustme
from aiosmtpd.smtp import AuthResult

from digest_support import RecordingHandler, SMTPServer, mail_settings
from paperwire.mailer import (Mailer, MailDisabled, PermanentMailError, TemporaryMailError, mail_enabled,
                              send_message)


def message(to="reader@example.org", subject="hello") -> EmailMessage:
    msg = EmailMessage()
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("plain body")
    return msg


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server_ctx, str(ca_file)


def test_off_until_configured(tmp_path):
    s = mail_settings(tmp_path / "x.db", None)
    assert not mail_enabled(s)
    with pytest.raises(MailDisabled, match="e-mail is off: set smtp_host"):
        send_message(s, message())


def test_plain_send_fills_from_date_and_message_id(tmp_path):
    with SMTPServer() as srv:
        s = mail_settings(tmp_path / "x.db", srv.port)
        assert mail_enabled(s)
        send_message(s, message())
        [got] = srv.handler.messages
    assert got["From"] == "paperwire <digest@paperwire.test>" and got["To"] == "reader@example.org"
    assert got["Date"] and got["Message-ID"].endswith("@paperwire.test>")
    assert got.get_content().strip() == "plain body"


def test_one_connection_for_many_messages(tmp_path):
    sessions = []

    class Counting(RecordingHandler):
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            sessions.append(hostname)
            session.host_name = hostname
            return responses

    with SMTPServer(Counting()) as srv:
        s = mail_settings(tmp_path / "x.db", srv.port)
        with Mailer(s) as m:
            for i in range(5):
                msg = message(f"r{i}@example.org")
                msg["From"] = s.mail_from
                m.send(msg)
        assert len(srv.handler.messages) == 5
    assert len(sessions) == 1


def test_4xx_is_temporary_and_5xx_permanent(tmp_path):
    with SMTPServer() as srv:
        s = mail_settings(tmp_path / "x.db", srv.port)
        srv.handler.data_replies = ["452 4.2.2 Mailbox full"]
        with pytest.raises(TemporaryMailError) as e:
            send_message(s, message())
        assert e.value.code == 452
        srv.handler.rcpt_replies["gone@example.org"] = "550 5.1.1 User unknown"
        with pytest.raises(PermanentMailError) as e:
            send_message(s, message("gone@example.org"))
        assert e.value.code == 550 and "User unknown" in str(e.value)
        srv.handler.data_replies = ["554 5.7.1 Rejected as spam"]
        with pytest.raises(PermanentMailError):
            send_message(s, message())
        # after failures on one connection, the next message still goes through
        with Mailer(s) as m:
            srv.handler.data_replies = ["451 4.3.0 later"]
            bad = message()
            bad["From"] = s.mail_from
            with pytest.raises(TemporaryMailError):
                m.send(bad)
            ok = message("ok@example.org")
            ok["From"] = s.mail_from
            m.send(ok)
        assert [g["To"] for g in srv.handler.messages] == ["ok@example.org"]


def test_unreachable_server_is_temporary(tmp_path):
    from digest_support import free_port

    s = mail_settings(tmp_path / "x.db", free_port())
    with pytest.raises(TemporaryMailError):
        send_message(s, message())


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"digest" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


def test_starttls_with_auth(tmp_path, tls):
    server_ctx, ca_file = tls
    with SMTPServer(tls_context=server_ctx, require_starttls=True, authenticator=_authenticator,
                    auth_require_tls=True) as srv:
        s = mail_settings(tmp_path / "x.db", srv.port, smtp_security="starttls", smtp_user="digest",
                          smtp_password="s3cret", smtp_ca_file=ca_file)
        send_message(s, message())
        assert len(srv.handler.messages) == 1
        # a wrong password is refused (and reported as our configuration, not the recipient's fault)
        bad = mail_settings(tmp_path / "x.db", srv.port, smtp_security="starttls", smtp_user="digest",
                            smtp_password="wrong", smtp_ca_file=ca_file)
        with pytest.raises(TemporaryMailError, match="535"):
            send_message(bad, message())
        # plain text to a server that requires STARTTLS gets nowhere
        plain = mail_settings(tmp_path / "x.db", srv.port, smtp_security="plain")
        with pytest.raises(TemporaryMailError):
            send_message(plain, message())
        assert len(srv.handler.messages) == 1


def test_starttls_verifies_the_certificate(tmp_path, tls):
    server_ctx, _ = tls
    with SMTPServer(tls_context=server_ctx, require_starttls=True) as srv:
        # no CA file: the system CAs do not know the test CA, so the connection is refused
        s = mail_settings(tmp_path / "x.db", srv.port, smtp_security="starttls")
        with pytest.raises(TemporaryMailError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            send_message(s, message())
        assert srv.handler.messages == []


def test_smtps(tmp_path, tls):
    server_ctx, ca_file = tls
    with SMTPServer(ssl_context=server_ctx) as srv:
        s = mail_settings(tmp_path / "x.db", srv.port, smtp_security="ssl", smtp_ca_file=ca_file)
        send_message(s, message())
        assert len(srv.handler.messages) == 1
