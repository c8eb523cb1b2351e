"""Subscribing on the site while e-mail is off: the page says so (instead of promising a mail),
and in development the confirmation link is logged, so it can still be confirmed."""

from __future__ import annotations

import logging
import re

from web_support import csrf_of


def test_subscribe_with_mail_off_says_so_and_logs_the_link(client, app, caplog):
    assert not app.state.settings.smtp_host
    with caplog.at_level(logging.WARNING, logger="paperwire.web.subscriptions"):
        r = client.post("/subscribe", data={"csrf": csrf_of(client, "/"), "email": "reader@example.org"})
    assert r.status_code == 200
    assert "E-mail is not set up" in r.text and "on its way" not in r.text
    link = re.search(r"confirm the subscription of reader@example.org at (\S+)", caplog.text)
    assert link, caplog.text
    path = link.group(1).split("testserver", 1)[-1] if "testserver" in link.group(1) else \
        "/" + link.group(1).split("/", 3)[3]
    page = client.get(path)
    assert page.status_code == 200 and "Link not valid" not in page.text
    # the page's button confirms (its GET does not)
    done = client.post(path, data={"csrf": re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)})
    assert done.status_code == 200 and "You are subscribed" in done.text


def test_the_answer_is_the_same_for_a_subscribed_address(client, app):
    first = client.post("/subscribe", data={"csrf": csrf_of(client, "/"), "email": "twice@example.org"})
    second = client.post("/subscribe", data={"csrf": csrf_of(client, "/"), "email": "twice@example.org"})
    assert first.status_code == second.status_code == 200
    strip = lambda t: re.sub(r'name="csrf" value="[^"]*"', "", t)  # noqa: E731
    assert strip(first.text) == strip(second.text)
