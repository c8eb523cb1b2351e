"""`paperwire store copy SQLITE_PATH postgresql://...`: an install with papers, accounts, votes,
comments, tokens, subscribers, outbox, signals, profiles and vectors moves to a real PostgreSQL
database, every table's count checked, and the copy works there (search, a vote counted once,
new rows numbered after the copied ones). A non-empty target is refused and left alone."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pg_support import pg_server, pg_url  # noqa: F401
from paperwire.models import Paper, Version
from paperwire.store import open_store
from paperwire.store import profiles, signals, subscriptions, users
from paperwire.store import search_index as si
from paperwire.store.copy import SKIP, copy_store
from paperwire.store.papers import upsert_papers
from paperwire.store.sqlite import Store as SQLiteStore

IDS = [f"2501.{i:05d}" for i in range(1, 41)]


@pytest.fixture
def install(tmp_path):
    """A SQLite install in use: rows in the tables every part of paperwire writes."""
    path = tmp_path / "old.db"
    s = SQLiteStore(path)
    upsert_papers(s, [Paper(id=pid, title=f"Graph paper number {i}", abstract=f"Abstract {i} about graphs.",
                            authors=["Ann Lee", f"Author {i}"], categories=["cs.LG", "cs.AI"],
                            comments="Code: https://github.com/ann/x" if i % 3 == 0 else None,
                            versions=[Version(1, f"2025-01-{1 + i % 27:02d}T00:00:00Z")], listed="2025-02-01")
                      for i, pid in enumerate(IDS)], "listing")
    ann = users.create_user(s, "ann@example.org", "ann", password_hash="not-a-hash")
    bob = users.create_user(s, "bob@example.org", "bob", password_hash="not-a-hash", is_admin=True)
    for pid in IDS[:5]:
        users.set_upvote(s, ann.id, pid, True)
    users.set_upvote(s, bob.id, IDS[0], True)
    users.add_comment(s, ann.id, IDS[0], "Nice result")
    users.create_token(s, ann.id, "laptop")
    users.create_session(s, bob.id)
    users.submit_paper(s, ann.id, IDS[7])
    users.set_paper_hidden(s, IDS[39])
    with s.transaction() as conn:
        sub = subscriptions.upsert_pending(s, "reader@example.org", {"frequency": "daily"}, "nonce", conn)
        subscriptions.add_message(conn, subscriber_id=sub.id, period="2025-02-01", kind="digest",
                                  to_addr="reader@example.org", subject="Digest", text_body="text", html_body=None,
                                  headers={}, message_id="<m1@x>")
    signals.add_signals(s, [(IDS[1], "stars", "ann/x", 12.0, "2025-02-01T00:00:00Z")])
    key = profiles.user_key(ann.id)
    profiles.add_items(s, key, IDS[:3], "save")
    todo = [row for batch in si.docs_to_embed(s, "m", batch=100) for row in batch]
    si.save_vectors(s, "m", [(d, h) for d, _, h in todo], np.eye(len(todo), 8, dtype=np.float32))
    s.close()
    return path


def counts_of(store, tables) -> dict[str, int]:
    return {t: store.query_one(f'SELECT count(*) FROM "{t}"')[0] for t in tables}


def test_every_table_is_copied_with_its_rows_counted_on_both_sides(install, pg_url):
    src, dst = SQLiteStore(install), open_store(pg_url)
    report = copy_store(src, dst)
    assert report.ok, report.mismatches()
    for table in ("papers", "users", "upvotes", "comments", "api_tokens", "sessions", "submissions", "subscribers",
                  "outbox", "signals", "profile_items", "paper_vectors", "search_docs", "paper_authors", "links"):
        assert report.counts[table][0] > 0 and report.counts[table][0] == report.counts[table][1], table
    assert not set(SKIP) & set(report.counts)
    # the same rows, not just as many: ids kept, vote counts as they were, vectors byte for byte
    assert counts_of(dst, ["upvotes"]) == {"upvotes": 6} and users.count_upvotes(dst, IDS[0]) == 2
    assert users.get_user_by_name(dst, "bob").is_admin
    docs = dict(src.query("SELECT paper_id, docid FROM search_docs"))
    assert dict(dst.query("SELECT paper_id, docid FROM search_docs")) == docs
    v_src = dict(src.query("SELECT docid, vector FROM paper_vectors"))
    assert {d: bytes(v) for d, v in dst.query("SELECT docid, vector FROM paper_vectors")} == v_src
    # it works there: words found (hidden paper not), the vectors followed, new ids after the copied
    found = si.lexical(dst, '"graph"', (1.5, 1.0, 1.0), si.FilterSQL(), 100)
    assert len(found) == 39 and IDS[39] not in {pid for _, pid, _ in found}
    assert si.vector_count(dst, "m") == 40 and si.vector_seq(dst, "m") > 0
    carol = users.create_user(dst, "carol@example.org", "carol", password_hash="not-a-hash")
    assert carol.id > max(r[0] for r in src.query("SELECT id FROM users"))
    users.set_upvote(dst, carol.id, IDS[0], True)
    assert users.count_upvotes(dst, IDS[0]) == 3
    upsert_papers(dst, [Paper(id="2502.00001", title="A graph paper after the move")], "listing")
    assert si.docs_for_papers(dst, ["2502.00001"])["2502.00001"] > max(docs.values())
    src.close(), dst.close()


def test_the_command_reports_counts_and_refuses_a_database_in_use(install, pg_url):
    cmd = [sys.executable, "-c", "from paperwire.cli import main; main()", "store", "copy", str(install), pg_url]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "papers" in first.stdout and "MISMATCH" not in first.stdout and "copied" in first.stdout
    line = next(ln for ln in first.stdout.splitlines() if ln.startswith("papers "))
    assert line.split()[1:3] == ["40", "40"]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "already holds papers" in again.stderr
    dst = open_store(pg_url)
    assert dst.query_one("SELECT count(*) FROM papers")[0] == 40  # left as it was
    dst.close()
