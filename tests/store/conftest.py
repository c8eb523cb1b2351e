"""Fixtures of the store tests: a real database per test (tests/conftest.py's `store`: a SQLite
file, or a PostgreSQL database in the PostgreSQL pass), a blank one that no migration has touched,
and a short way to put papers in it through the same path every importer takes (upsert_papers)."""

from __future__ import annotations

import pytest

import pg_engine

from paperwire.models import Paper, Version
from paperwire.store.papers import upsert_papers


@pytest.fixture
def blank_db(tmp_path):
    """The path or URL of an empty database of the engine under test, no migration applied."""
    if pg_engine.postgres():
        url = pg_engine.create_db(pg_engine.new_name("blank"))
        yield url
        pg_engine.drop_db(url)
    else:
        yield str(tmp_path / "blank.db")


@pytest.fixture
def put(store):
    """put(paper_id, title=..., **fields) stores one paper (source 'listing') and returns it.
    `version_dates` is a shortcut for versions numbered 1, 2, ... with those dates."""

    def put_paper(paper_id: str, title: str | None = None, *, source: str = "listing",
                  version_dates: tuple[str, ...] = (), **fields) -> Paper:
        versions = [Version(n, created) for n, created in enumerate(version_dates, 1)]
        paper = Paper(id=paper_id, title=title or f"Paper {paper_id}", versions=versions, **fields)
        upsert_papers(store, [paper], source)
        return paper

    return put_paper


@pytest.fixture
def user_factory(store):
    """user_factory(name) creates the account name@example.org with a cheap password hash."""
    from paperwire.store import users

    def make(name: str, admin: bool = False) -> users.User:
        return users.create_user(store, f"{name}@example.org", name, password_hash="not-a-hash", is_admin=admin)

    return make
