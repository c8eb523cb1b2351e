"""Helpers for the site tests (not fixtures: plain functions a test calls with its client or store)."""

from __future__ import annotations

import re
import socket

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "correct horse battery"


def csrf_of(client, url: str = "/signin") -> str:
    r = client.get(url)
    m = CSRF_RE.search(r.text)
    assert m, f"no CSRF field on {url}"
    return m.group(1)


def make_user(store, name: str, shared_hash: str, admin: bool = False):
    from paperwire.store import users

    return users.create_user(store, f"{name}@example.org", name, password_hash=shared_hash, is_admin=admin)


def sign_in(client, email: str, password: str = PASSWORD):
    token = csrf_of(client, "/signin")
    r = client.post("/signin", data={"csrf": token, "email": email, "password": password})
    assert r.status_code == 303, r.text[:500]
    return r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rec_ids(html: str) -> list[str]:
    """The paper ids of the "For you" page's recommendations, in order (their thumbs-up forms)."""
    return re.findall(r'name="paper_id" value="([^"]+)"><input type="hidden" name="action" value="up"', html)


def older_papers(store, like: str, n: int = 6) -> list[str]:
    """Up to n papers listed over a week before the latest day whose title is LIKE the pattern,
    ignoring case (as SQLite's LIKE does for ASCII; PostgreSQL's minds it): the same papers on
    both engines."""
    from paperwire.store import listings

    day = listings.latest_day(store)
    return [r[0] for r in store.query(
        "SELECT id FROM papers WHERE listed < date(?, '-7 days') AND lower(title_display) LIKE lower(?) "
        "ORDER BY id LIMIT ?",
        (day, like, n))]
