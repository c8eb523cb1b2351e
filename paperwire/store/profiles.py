"""Table access for reader profiles: positive/negative papers, follows, private feed tokens,
and the lookups a library import needs (by arXiv id, DOI, title).

Profile keys are strings ('user:12', 'sub:7'), so a profile belongs to an account or to a
digest subscriber alike without a foreign key to either; a user's upvotes are read from the
accounts' `upvotes` table.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Iterable

from paperwire.store import search_index
from paperwire.store.sqlite import Store, utcnow

POSITIVE = ("like", "save", "import")
KINDS = POSITIVE + ("dismiss",)


@dataclass
class Profile:
    key: str
    positives: dict[str, tuple[str, str]] = field(default_factory=dict)  # paper_id -> (kind, created_at)
    negatives: dict[str, str] = field(default_factory=dict)  # paper_id -> created_at
    categories: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.positives or self.categories or self.authors)


def check_key(key: str) -> str:
    if not re.fullmatch(r"(user|sub):[A-Za-z0-9_.@+-]{1,200}(/[a-z0-9-]{1,40})?", key or ""):
        raise ValueError(f"profile key must look like 'user:<id>', 'sub:<id>' or '<that>/<profile>', not {key!r}")
    return key


def owner_key(key: str) -> str:
    """The default profile a (named) profile belongs to: 'user:12/thesis' -> 'user:12'."""
    return key.split("/", 1)[0]


# -- named interest profiles -----------------------------------------------------------------------

MAX_NAMED = 20


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return slug or "profile"


def create_named(store: Store, owner: str, name: str) -> str:
    """A new named profile of `owner` (a default key); returns its key. Names are unique per
    owner; the slug in the key is derived from the name (made unique with a number)."""
    check_key(owner)
    if "/" in owner:
        raise ValueError("a named profile belongs to a reader's default profile, not to another named one")
    name = " ".join((name or "").split())
    if not name or len(name) > 80:
        raise ValueError("a profile name needs 1 to 80 characters")
    with store.transaction() as conn:
        have = conn.execute("SELECT profile_key, name FROM interest_profiles WHERE owner_key=?", (owner,)).fetchall()
        if any(n.lower() == name.lower() for _, n in have):
            raise ValueError(f"you already have a profile named {name!r}")
        if len(have) >= MAX_NAMED:
            raise ValueError(f"at most {MAX_NAMED} named profiles")
        taken = {k for k, _ in have}
        base = f"{owner}/{_slug(name)}"[: len(owner) + 1 + 40]
        key, n = base, 1
        while key in taken:
            n += 1
            key = f"{base[: len(owner) + 1 + 36]}-{n}"
        conn.execute("INSERT INTO interest_profiles(profile_key, owner_key, name, created_at) VALUES (?,?,?,?)",
                     (key, owner, name, utcnow()))
    return key


def named_profiles(store: Store, owner: str) -> list[tuple[str, str]]:
    """(key, name) of an owner's named profiles, oldest first."""
    return [(r[0], r[1]) for r in store.query(
        "SELECT profile_key, name FROM interest_profiles WHERE owner_key=? ORDER BY created_at, profile_key",
        (owner,))]


def named_profile(store: Store, owner: str, slug: str) -> tuple[str, str] | None:
    """(key, name) of the owner's profile with this slug, or None."""
    row = store.query_one("SELECT profile_key, name FROM interest_profiles WHERE profile_key=? AND owner_key=?",
                          (f"{owner}/{slug}", owner))
    return (row[0], row[1]) if row else None


def delete_named(store: Store, key: str) -> bool:
    """Delete a named profile with its papers, follows and feed token."""
    if "/" not in key:
        raise ValueError("only named profiles can be deleted; the default one stays")
    with store.transaction() as conn:
        gone = conn.execute("DELETE FROM interest_profiles WHERE profile_key=?", (key,)).rowcount
        for table in ("profile_items", "profile_follows", "profile_feed_tokens"):
            conn.execute(f"DELETE FROM {table} WHERE profile_key=?", (key,))
    return bool(gone)


def user_key(user_id) -> str:
    return f"user:{user_id}"


def subscriber_key(sub_id) -> str:
    return f"sub:{sub_id}"


def add_items(store: Store, key: str, paper_ids: Iterable[str], kind: str, source: str | None = None,
              at: str | None = None) -> int:
    """Mark papers in a profile. A positive clears an earlier dismissal and vice versa (the latest
    opinion wins). Returns how many were new."""
    check_key(key)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    at = at or utcnow()
    opposite = ("dismiss",) if kind in POSITIVE else POSITIVE
    n = 0
    with store.transaction() as conn:
        for pid in dict.fromkeys(paper_ids):
            marks = ",".join("?" * len(opposite))
            conn.execute(f"DELETE FROM profile_items WHERE profile_key=? AND paper_id=? AND kind IN ({marks})",
                         (key, pid, *opposite))
            cur = conn.execute(
                "INSERT INTO profile_items(profile_key, paper_id, kind, source, created_at) "
                "SELECT ?,?,?,?,? WHERE EXISTS (SELECT 1 FROM papers WHERE id=?) "
                "ON CONFLICT(profile_key, paper_id, kind) DO NOTHING", (key, pid, kind, source, at, pid))
            n += cur.rowcount
    return n


def remove_item(store: Store, key: str, paper_id: str, kind: str | None = None) -> int:
    with store.transaction() as conn:
        if kind:
            return conn.execute("DELETE FROM profile_items WHERE profile_key=? AND paper_id=? AND kind=?",
                                (key, paper_id, kind)).rowcount
        return conn.execute("DELETE FROM profile_items WHERE profile_key=? AND paper_id=?", (key, paper_id)).rowcount


def follow(store: Store, key: str, kind: str, value: str) -> None:
    check_key(key)
    if kind not in ("category", "author"):
        raise ValueError("follow kind must be 'category' or 'author'")
    value = value.strip()
    if not value:
        raise ValueError("nothing to follow")
    with store.transaction() as conn:
        conn.execute("INSERT INTO profile_follows(profile_key, kind, value, created_at) VALUES (?,?,?,?) "
                     "ON CONFLICT DO NOTHING",
                     (key, kind, value, utcnow()))


def unfollow(store: Store, key: str, kind: str, value: str) -> None:
    with store.transaction() as conn:
        conn.execute("DELETE FROM profile_follows WHERE profile_key=? AND kind=? AND value=?", (key, kind, value))


def load_profile(store: Store, key: str) -> Profile:
    check_key(key)
    prof = Profile(key)
    for pid, kind, at in store.query(
            "SELECT paper_id, kind, created_at FROM profile_items WHERE profile_key=? ORDER BY created_at, paper_id",
            (key,)):
        if kind == "dismiss":
            prof.negatives[pid] = at
        else:
            prof.positives[pid] = (kind, at)
    if key.startswith("user:") and key[5:].isdigit():
        for pid, at in store.query("SELECT paper_id, created_at FROM upvotes WHERE user_id=?", (int(key[5:]),)):
            if pid not in prof.negatives:
                prof.positives.setdefault(pid, ("upvote", at))
    for kind, value in store.query("SELECT kind, value FROM profile_follows WHERE profile_key=? ORDER BY value",
                                   (key,)):
        (prof.categories if kind == "category" else prof.authors).append(value)
    return prof


def load_profiles(store: Store, prefix: str) -> dict[str, Profile]:
    """Every profile whose key starts with `prefix` ('sub:'), loaded with three table scans
    instead of three queries per profile (a day's digests need all of them at once). Account
    upvotes are not included: use load_profile for 'user:' keys."""
    out: dict[str, Profile] = {}
    hi = prefix + "\U0010ffff"
    for key, pid, kind, at in store.query(
            "SELECT profile_key, paper_id, kind, created_at FROM profile_items WHERE profile_key >= ? AND profile_key < ? "
            "ORDER BY profile_key, created_at, paper_id", (prefix, hi)):
        prof = out.setdefault(key, Profile(key))
        if kind == "dismiss":
            prof.negatives[pid] = at
        else:
            prof.positives[pid] = (kind, at)
    for key, kind, value in store.query(
            "SELECT profile_key, kind, value FROM profile_follows WHERE profile_key >= ? AND profile_key < ? "
            "ORDER BY profile_key, value", (prefix, hi)):
        prof = out.setdefault(key, Profile(key))
        (prof.categories if kind == "category" else prof.authors).append(value)
    return out


def named_profiles_of(store: Store, prefix: str) -> dict[str, list[tuple[str, str]]]:
    """{owner key: [(key, name), ...]} for every owner whose key starts with `prefix`."""
    out: dict[str, list[tuple[str, str]]] = {}
    for key, owner, name in store.query(
            "SELECT profile_key, owner_key, name FROM interest_profiles WHERE owner_key >= ? AND owner_key < ? "
            "ORDER BY owner_key, created_at, profile_key", (prefix, prefix + "\U0010ffff")):
        out.setdefault(owner, []).append((key, name))
    return out


def profile_keys(store: Store) -> list[str]:
    """Every profile with some content (items or follows)."""
    return [r[0] for r in store.query(
        "SELECT profile_key FROM profile_items UNION SELECT profile_key FROM profile_follows ORDER BY 1")]


# -- private feed tokens -------------------------------------------------------------------------

def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_feed_token(store: Store, key: str) -> str:
    """A fresh private feed token for the profile (the old one stops working)."""
    check_key(key)
    token = secrets.token_urlsafe(24)
    with store.transaction() as conn:
        conn.execute("INSERT INTO profile_feed_tokens(profile_key, token_hash, created_at) VALUES (?,?,?) "
                     "ON CONFLICT(profile_key) DO UPDATE SET token_hash=excluded.token_hash, created_at=excluded.created_at",
                     (key, _hash(token), utcnow()))
    return token


def has_feed_token(store: Store, key: str) -> bool:
    return store.query_one("SELECT 1 FROM profile_feed_tokens WHERE profile_key=?", (key,)) is not None


def profile_for_feed_token(store: Store, token: str) -> str | None:
    if not token or len(token) > 200:
        return None
    row = store.query_one("SELECT profile_key FROM profile_feed_tokens WHERE token_hash=?", (_hash(token),))
    return row[0] if row else None


# -- lookups for library import -------------------------------------------------------------------

def existing_ids(store: Store, ids: Iterable[str]) -> set[str]:
    ids = list(dict.fromkeys(ids))
    out: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        out.update(r[0] for r in store.query(
            f"SELECT id FROM papers WHERE id IN ({','.join('?' * len(chunk))})", tuple(chunk)))
    return out


def ids_by_doi(store: Store, dois: Iterable[str]) -> dict[str, str]:
    """{lower-case DOI: paper id}."""
    dois = [d.lower() for d in dict.fromkeys(dois)]
    out: dict[str, str] = {}
    for i in range(0, len(dois), 500):
        chunk = dois[i:i + 500]
        for pid, doi in store.query(
                f"SELECT id, lower(doi) FROM papers WHERE doi IS NOT NULL AND lower(doi) IN ({','.join('?' * len(chunk))})",
                tuple(chunk)):
            out[doi] = pid
    return out


def title_candidates(store: Store, words: list[str], limit: int = 20) -> list[tuple[str, str]]:
    """(paper id, display title) of papers whose title shares the given words, best first.
    Uses the full-text index, else (while it cannot answer) a LIKE scan."""
    words = [w for w in words if w.isalnum()][:12]
    if not words:
        return []
    expr = "title : (" + " OR ".join(f'"{w}"' for w in words) + ")"
    if store.dialect == "postgresql":
        # the weighted tsvector is written with the paper (no index mid-rebuild to fall back
        # from), and a failed statement would end the caller's transaction: no try here
        ids = [pid for _, pid, _ in search_index.lexical(store, expr, (1.0, 1.0, 1.0), search_index.FilterSQL(), limit)]
        titles = dict(store.query(f"SELECT id, title_display FROM papers WHERE id IN ({','.join('?' * len(ids))})",
                                  ids)) if ids else {}
        return [(pid, titles[pid]) for pid in ids if pid in titles]
    try:
        return [(r[0], r[1]) for r in store.query(
            "SELECT d.paper_id, p.title_display FROM papers_fts f JOIN search_docs d ON d.docid=f.rowid "
            "JOIN papers p ON p.id=d.paper_id WHERE papers_fts MATCH ? ORDER BY f.rank LIMIT ?", (expr, limit))]
    except Exception:  # an index mid-rebuild must not break an import; fall back to scanning
        pass
    longest = sorted(words, key=len, reverse=True)[:2]
    where = " AND ".join("title_display LIKE ?" for _ in longest)
    return [(r[0], r[1]) for r in store.query(
        f"SELECT id, title_display FROM papers WHERE {where} LIMIT ?", (*(f"%{w}%" for w in longest), limit))]


# -- candidate and background papers for recommenders ---------------------------------------------

def window_paper_ids(store: Store, start_day: str, end_day: str | None = None) -> list[str]:
    """Visible papers that appeared (listed, else first published) on a day in [start_day, end_day]."""
    end_day = end_day or "9999-12-31"
    return [r[0] for r in store.query(
        "SELECT id FROM papers WHERE hidden=0 AND COALESCE(listed, substr(published,1,10)) >= ? "
        "AND COALESCE(listed, substr(published,1,10)) <= ? ORDER BY id", (start_day, end_day))]


def background_ids(store: Store, before_day: str, limit: int) -> list[str]:
    """The `limit` most recent visible papers before `before_day` (negatives for classifiers)."""
    return [r[0] for r in store.query(
        "SELECT id FROM papers WHERE hidden=0 AND COALESCE(listed, substr(published,1,10)) < ? "
        "ORDER BY COALESCE(listed, substr(published,1,10)) DESC, id DESC LIMIT ?", (before_day, limit))]


def paper_texts(store: Store, ids: Iterable[str]) -> dict[str, dict]:
    """{id: {title, text, categories, authors, day}} for the recommenders' features and reasons."""
    ids = list(dict.fromkeys(ids))
    out: dict[str, dict] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for r in store.query(
                "SELECT id, title_display, abstract_display, categories, authors, "
                f"COALESCE(listed, substr(published,1,10)) FROM papers WHERE id IN ({','.join('?' * len(chunk))})",
                tuple(chunk)):
            out[r[0]] = {"title": r[1], "text": f"{r[1]}. {r[2]}", "categories": json.loads(r[3]),
                         "authors": json.loads(r[4]), "day": r[5]}
    return out


def paper_count(store: Store) -> tuple[int, int]:
    """(number of papers, highest rowid): how far the recommenders' text model has counted."""
    r = store.query_one("SELECT count(*), COALESCE(max(rowid), 0) FROM papers")
    return int(r[0]), int(r[1])


def recent_texts(store: Store, limit: int) -> tuple[list[str], int]:
    """Title + abstract of the `limit` most recently added papers, and the highest rowid."""
    rows = store.query("SELECT rowid, title_display, abstract_display FROM papers ORDER BY rowid DESC LIMIT ?",
                       (limit,))
    return [f"{r[1]}. {r[2]}" for r in rows], max((r[0] for r in rows), default=0)


def texts_after_rowid(store: Store, rowid: int) -> tuple[list[str], int]:
    """Title + abstract of papers added after `rowid`, and the new highest rowid."""
    rows = store.query("SELECT rowid, title_display, abstract_display FROM papers WHERE rowid > ? ORDER BY rowid",
                       (rowid,))
    return [f"{r[1]}. {r[2]}" for r in rows], max((r[0] for r in rows), default=rowid)


def data_version(store: Store) -> tuple:
    """Changes whenever papers or profiles change: a cache key for prepared candidate sets."""
    r = store.query_one("SELECT count(*), max(changed_at) FROM papers")
    return (r[0], r[1])
