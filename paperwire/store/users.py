"""Accounts and the community layer: users, upvotes, submissions, comments, API tokens.

All SQL of the site's own tables lives here (web handlers never touch sqlite3).
Writes run in ``store.transaction()`` so each action is all-or-nothing; "one upvote per
user per paper" is the primary key of ``upvotes``, so it holds under any concurrency.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from datetime import date, datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from paperwire.store.sqlite import Store, utcnow

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,29}$")
EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,190}\.[A-Za-z]{2,}$")
MIN_PASSWORD = 8


class AccountError(ValueError):
    """A request the user can fix (bad e-mail, name taken, limit reached...). The message is shown."""


class EmailTaken(AccountError):
    """The address already has an account (the web answer must not say so: web.auth.signup)."""


@dataclasses.dataclass
class User:
    id: int
    email: str
    username: str
    password_hash: str
    is_admin: bool
    session_epoch: int
    created_at: str


def _user(row) -> User | None:
    if row is None:
        return None
    return User(row["id"], row["email"], row["username"], row["password_hash"], bool(row["is_admin"]),
                row["session_epoch"], row["created_at"])


# --- users ---------------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_new_account(email: str, username: str, password: str) -> tuple[str, str]:
    email, username = (email or "").strip(), (username or "").strip()
    if not EMAIL_RE.match(email):
        raise AccountError("Enter a valid e-mail address.")
    if not USERNAME_RE.match(username):
        raise AccountError("User names are 2-30 letters, digits, '.', '_' or '-', starting with a letter or digit.")
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD} characters.")
    if len(password) > 1024:
        raise AccountError("That password is too long.")
    return email, username


def create_user(store: Store, email: str, username: str, password: str | None = None, *,
                password_hash: str | None = None, is_admin: bool = False) -> User:
    """Create an account. `password_hash` lets callers reuse one hash (bulk fixtures, imports)."""
    email, username = check_new_account(email, username, password if password is not None else "x" * MIN_PASSWORD)
    pw_hash = password_hash or hash_password(password)
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM users WHERE email=?", (email,)).fetchone():
            raise EmailTaken("An account with that e-mail address exists; sign in or reset the password.")
        if conn.execute("SELECT 1 FROM users WHERE username=?", (username,)).fetchone():
            raise AccountError("That user name is taken.")
        uid = conn.execute(
            "INSERT INTO users(email, username, password_hash, is_admin, created_at) VALUES (?,?,?,?,?) RETURNING id",
            (email, username, pw_hash, int(is_admin), utcnow())).fetchone()[0]
    return get_user(store, uid)


def get_user(store: Store, user_id: int) -> User | None:
    return _user(store.query_one("SELECT * FROM users WHERE id=?", (user_id,)))


def get_user_by_email(store: Store, email: str) -> User | None:
    return _user(store.query_one("SELECT * FROM users WHERE email=?", ((email or "").strip(),)))


def get_user_by_name(store: Store, username: str) -> User | None:
    return _user(store.query_one("SELECT * FROM users WHERE username=?", (username,)))


def authenticate(store: Store, email: str, password: str) -> User | None:
    user = get_user_by_email(store, email)
    if user is None:
        # same work as a real check, so response time does not reveal which e-mails exist
        try:
            _hasher.verify(_DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            pass
        return None
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return user


_DUMMY_HASH = _hasher.hash("not-a-real-password")


def set_password(store: Store, user_id: int, password: str) -> User:
    """A new password voids every session and API token of the account: whoever knew the old
    one (the reason for a reset, often) keeps nothing it let them make."""
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD} characters.")
    if len(password) > 1024:
        raise AccountError("That password is too long.")
    pw_hash = hash_password(password)
    with store.transaction() as conn:
        conn.execute("UPDATE users SET password_hash=?, session_epoch=session_epoch+1 WHERE id=?", (pw_hash, user_id))
        conn.execute("DELETE FROM sessions WHERE user_id=?", (user_id,))
        conn.execute("DELETE FROM api_tokens WHERE user_id=?", (user_id,))
    return get_user(store, user_id)


def set_admin(store: Store, user_id: int, is_admin: bool = True) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE users SET is_admin=? WHERE id=?", (int(is_admin), user_id))


def bump_session_epoch(store: Store, user_id: int) -> None:
    """Sign the user out everywhere: every session row goes."""
    with store.transaction() as conn:
        conn.execute("UPDATE users SET session_epoch=session_epoch+1 WHERE id=?", (user_id,))
        conn.execute("DELETE FROM sessions WHERE user_id=?", (user_id,))


# --- sessions ------------------------------------------------------------------------------------

SESSION_DAYS = 30


def _later(days: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_session(store: Store, user_id: int, days: float = SESSION_DAYS) -> str:
    """A new session id for the cookie; only its hash is stored (a database leak gives no cookie)."""
    sid = secrets.token_urlsafe(32)
    with store.transaction() as conn:
        conn.execute("DELETE FROM sessions WHERE user_id=? AND expires_at<=?", (user_id, utcnow()))
        conn.execute("INSERT INTO sessions(id_hash, user_id, created_at, expires_at) VALUES (?,?,?,?)",
                     (_token_hash(sid), user_id, utcnow(), _later(days)))
    return sid


def session_user(store: Store, sid: str) -> User | None:
    if not sid or len(sid) > 100:
        return None
    return _user(store.query_one("SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id "
                                 "WHERE s.id_hash=? AND s.expires_at>?", (_token_hash(sid), utcnow())))


def end_session(store: Store, sid: str) -> None:
    with store.transaction() as conn:
        conn.execute("DELETE FROM sessions WHERE id_hash=?", (_token_hash(sid or ""),))


def count_sessions(store: Store, user_id: int) -> int:
    return store.query_one("SELECT count(*) FROM sessions WHERE user_id=? AND expires_at>?", (user_id, utcnow()))[0]


def usernames(store: Store, user_ids) -> dict[int, str]:
    ids = list({int(i) for i in user_ids})
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return {r[0]: r[1] for r in store.query(f"SELECT id, username FROM users WHERE id IN ({marks})", ids)}


# --- upvotes -------------------------------------------------------------------------------------

def paper_exists(store: Store, paper_id: str, include_hidden: bool = False) -> bool:
    sql = "SELECT 1 FROM papers WHERE id=?" + ("" if include_hidden else " AND hidden=0")
    return store.query_one(sql, (paper_id,)) is not None


def set_upvote(store: Store, user_id: int, paper_id: str, on: bool | None = None) -> tuple[bool, int]:
    """Add (on=True), remove (on=False) or toggle (on=None) a user's upvote.
    Returns (upvoted now, local upvote count). Raises KeyError for an unknown paper."""
    with store.transaction() as conn:
        if not conn.execute("SELECT 1 FROM papers WHERE id=? AND hidden=0", (paper_id,)).fetchone():
            raise KeyError(paper_id)
        had = conn.execute("SELECT 1 FROM upvotes WHERE user_id=? AND paper_id=?", (user_id, paper_id)).fetchone()
        want = (not had) if on is None else on
        if want and not had:
            conn.execute("INSERT INTO upvotes(user_id, paper_id, created_at) VALUES (?,?,?)", (user_id, paper_id, utcnow()))
        elif had and not want:
            conn.execute("DELETE FROM upvotes WHERE user_id=? AND paper_id=?", (user_id, paper_id))
        row = conn.execute("SELECT upvotes FROM paper_counts WHERE paper_id=?", (paper_id,)).fetchone()
    return want, (row[0] if row else 0)


def upvoted_by(store: Store, user_id: int, paper_ids) -> set[str]:
    ids = list(paper_ids)
    if not ids:
        return set()
    out: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        out.update(r[0] for r in store.query(
            f"SELECT paper_id FROM upvotes WHERE user_id=? AND paper_id IN ({marks})", [user_id, *chunk]))
    return out


def count_upvotes(store: Store, paper_id: str) -> int:
    """Exact count from the rows themselves (the counter table is checked against this in tests)."""
    return store.query_one("SELECT count(*) FROM upvotes WHERE paper_id=?", (paper_id,))[0]


# --- submissions ---------------------------------------------------------------------------------

def today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def submit_paper(store: Store, user_id: int, paper_id: str, day: str | None = None, daily_limit: int = 5,
                 max_age_days: int | None = None) -> str:
    """Put a stored paper on `day`'s curated list (default today, UTC). Returns the day.
    The paper's own dates (listing, publication) are not touched: the submission adds a curated day.
    Raises AccountError, with the reason in words, when the paper is already on a curated list
    (submitted here or featured on Hugging Face), when it is older than `max_age_days` before
    `day`, or when the user's daily limit is reached."""
    day = day or today()
    with store.transaction() as conn:
        row = conn.execute("SELECT COALESCE(listed, substr(published, 1, 10)) FROM papers WHERE id=? AND hidden=0",
                           (paper_id,)).fetchone()
        if not row:
            raise KeyError(paper_id)
        done = conn.execute("SELECT day FROM submissions WHERE paper_id=?", (paper_id,)).fetchone()
        if done:
            raise AccountError(f"{paper_id} was already submitted to the list of {done[0]}.")
        featured = conn.execute("SELECT min(day) FROM hf_featured WHERE paper_id=?", (paper_id,)).fetchone()
        if featured and featured[0]:
            raise AccountError(f"{paper_id} is already on the list of {featured[0]} (featured on Hugging Face).")
        if max_age_days is not None and row[0]:
            oldest = (date.fromisoformat(day) - timedelta(days=max_age_days)).isoformat()
            if row[0] < oldest:
                raise AccountError(f"{paper_id} is from {row[0]}; only papers from the last {max_age_days} days "
                                   f"(since {oldest}) can be submitted to the list of {day}.")
        n = conn.execute("SELECT count(*) FROM submissions WHERE user_id=? AND substr(created_at, 1, 10)=?",
                         (user_id, today())).fetchone()[0]
        if n >= daily_limit:
            raise AccountError(f"You can submit {daily_limit} papers a day; try again tomorrow.")
        conn.execute("INSERT INTO submissions(paper_id, user_id, day, created_at) VALUES (?,?,?,?)",
                     (paper_id, user_id, day, utcnow()))
    return day


def submissions_for(store: Store, paper_ids) -> dict[str, tuple[str, str]]:
    """paper_id -> (username, day) for the submitted ones."""
    ids = list(paper_ids)
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for r in store.query(f"SELECT s.paper_id, u.username, s.day FROM submissions s JOIN users u ON u.id = s.user_id "
                             f"WHERE s.paper_id IN ({marks})", chunk):
            out[r[0]] = (r[1], r[2])
    return out


def user_submission_ids(store: Store, user_id: int, limit: int = 50, offset: int = 0) -> list[str]:
    return [r[0] for r in store.query(
        "SELECT paper_id FROM submissions WHERE user_id=? ORDER BY created_at DESC, paper_id LIMIT ? OFFSET ?",
        (user_id, limit, offset))]


def user_upvote_ids(store: Store, user_id: int, limit: int = 50, offset: int = 0) -> list[str]:
    return [r[0] for r in store.query(
        "SELECT paper_id FROM upvotes WHERE user_id=? ORDER BY created_at DESC, paper_id LIMIT ? OFFSET ?",
        (user_id, limit, offset))]


# --- comments ------------------------------------------------------------------------------------

@dataclasses.dataclass
class Comment:
    id: int
    paper_id: str
    user_id: int
    username: str
    body: str
    hidden: bool
    created_at: str


MAX_COMMENT = 5000


def add_comment(store: Store, user_id: int, paper_id: str, body: str) -> int:
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise AccountError("The comment is empty.")
    if len(body) > MAX_COMMENT:
        raise AccountError(f"Comments are limited to {MAX_COMMENT} characters.")
    with store.transaction() as conn:
        if not conn.execute("SELECT 1 FROM papers WHERE id=? AND hidden=0", (paper_id,)).fetchone():
            raise KeyError(paper_id)
        return conn.execute("INSERT INTO comments(paper_id, user_id, body, created_at) VALUES (?,?,?,?) RETURNING id",
                            (paper_id, user_id, body, utcnow())).fetchone()[0]


def list_comments(store: Store, paper_id: str, include_hidden: bool = False) -> list[Comment]:
    where = "" if include_hidden else " AND c.hidden = 0"
    return [Comment(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6]) for r in store.query(
        "SELECT c.id, c.paper_id, c.user_id, u.username, c.body, c.hidden, c.created_at FROM comments c "
        f"JOIN users u ON u.id = c.user_id WHERE c.paper_id=?{where} ORDER BY c.id", (paper_id,))]


def get_comment(store: Store, comment_id: int) -> Comment | None:
    r = store.query_one("SELECT c.id, c.paper_id, c.user_id, u.username, c.body, c.hidden, c.created_at FROM comments c "
                        "JOIN users u ON u.id = c.user_id WHERE c.id=?", (comment_id,))
    return Comment(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6]) if r else None


def set_comment_hidden(store: Store, comment_id: int, hidden: bool = True) -> bool:
    with store.transaction() as conn:
        return conn.execute("UPDATE comments SET hidden=? WHERE id=?", (int(hidden), comment_id)).rowcount > 0


def set_paper_hidden(store: Store, paper_id: str, hidden: bool = True) -> bool:
    """Admin moderation: a hidden paper leaves every list, page and feed (the data is kept)."""
    with store.transaction() as conn:
        return conn.execute("UPDATE papers SET hidden=? WHERE id=?", (int(hidden), paper_id)).rowcount > 0


# --- API tokens ----------------------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, user_id: int, name: str = "", days: float | None = None) -> str:
    """A new API token; only its hash is stored, so this is the one time it can be shown.
    `days`: it stops working after that many days (None: until revoked)."""
    token = "pw_" + secrets.token_urlsafe(32)
    with store.transaction() as conn:
        conn.execute("INSERT INTO api_tokens(user_id, token_hash, name, created_at, expires_at) VALUES (?,?,?,?,?)",
                     (user_id, _token_hash(token), (name or "")[:100], utcnow(),
                      _later(days) if days else None))
    return token


def user_for_token(store: Store, token: str) -> User | None:
    if not token or not token.startswith("pw_") or len(token) > 200:
        return None
    row = store.query_one("SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash=? "
                          "AND (t.expires_at IS NULL OR t.expires_at>?)", (_token_hash(token), utcnow()))
    return _user(row)


@dataclasses.dataclass
class TokenInfo:
    id: int
    name: str
    created_at: str
    expires_at: str | None


def list_tokens(store: Store, user_id: int) -> list[TokenInfo]:
    """The user's tokens (never the token itself: only its hash is kept), newest first."""
    return [TokenInfo(r[0], r[1], r[2], r[3]) for r in store.query(
        "SELECT id, name, created_at, expires_at FROM api_tokens WHERE user_id=? ORDER BY id DESC", (user_id,))]


def revoke_token(store: Store, user_id: int, token_id: int) -> bool:
    """Delete one of the user's tokens; False when the user has no such token."""
    with store.transaction() as conn:
        return conn.execute("DELETE FROM api_tokens WHERE id=? AND user_id=?", (token_id, user_id)).rowcount > 0


def revoke_tokens(store: Store, user_id: int) -> int:
    with store.transaction() as conn:
        return conn.execute("DELETE FROM api_tokens WHERE user_id=?", (user_id,)).rowcount

