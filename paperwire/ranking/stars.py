"""GitHub stars: poll the star counts of the most relevant linked repositories.

`refresh_github_stars` picks the N most relevant repos (newest papers first, never-checked
before long-unchecked; known-missing repos skipped), asks GitHub conditionally, and records a
time-stamped star observation per linked paper. Star velocity is derived from these
observations at ranking time (paperwire.ranking.trending). A rate-limit stop keeps everything
recorded so far; the next run continues with the repos checked least recently.

`GitHubClient` (GET /repos/{owner}/{repo}) is careful because the unauthenticated limit is 60
requests an hour (5,000 with a token), so
- every request is conditional (If-None-Match with the stored ETag): an unchanged repo answers
  304, which GitHub does not count against the rate limit;
- X-RateLimit-Remaining / X-RateLimit-Reset are obeyed before the next request, and a 403/429
  rate-limit answer (primary: Remaining 0; secondary: Retry-After) waits and retries once —
  unless the wait is longer than `max_wait`, then the run stops with RateLimited and the rest
  is left for the next run;
- 404/410/451 mark the repository missing so it is not asked again;
- server errors (5xx) and connection errors back off and retry a few times.
The client only speaks HTTP; `refresh_github_stars` stores what it learns (paperwire.store.signals).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import httpx

from paperwire.config import Settings
from paperwire.ingest.http import unrecoverable
from paperwire.store import signals as sig

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"


class RateLimited(Exception):
    """The rate limit is spent and resets later than we are willing to wait."""

    def __init__(self, reset_at: float, message: str = ""):
        super().__init__(message or f"GitHub rate limit exhausted until {time.strftime('%H:%M:%S', time.gmtime(reset_at))} UTC")
        self.reset_at = reset_at


class Unreachable(Exception):
    """GitHub cannot be reached at all (the host name does not resolve): no repository can be
    polled this run."""


@dataclass
class RepoResult:
    repo: str
    status: str  # ok | not_modified | missing | error
    http_status: int | None
    stars: int | None = None
    etag: str | None = None
    full_name: str | None = None
    message: str = ""


class GitHubClient:
    def __init__(self, base_url: str = "https://api.github.com", token: str = "", timeout: float = 30.0,
                 max_wait: float = 60.0, retries: int = 3, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, transport: httpx.BaseTransport | None = None):
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION,
                   "User-Agent": "paperwire (self-hosted paper tracker)"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout,
                                 follow_redirects=True, transport=transport)
        self.max_wait, self.retries, self.sleep, self.clock = max_wait, retries, sleep, clock
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self.requests = 0

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- rate limit bookkeeping --------------------------------------------------------------
    def _note_limits(self, r: httpx.Response) -> None:
        rem, reset = r.headers.get("x-ratelimit-remaining"), r.headers.get("x-ratelimit-reset")
        if rem is not None and rem.strip().isdigit():
            self.remaining = int(rem)
        if reset is not None and reset.strip().isdigit():
            self.reset_at = float(reset)

    def _wait(self, seconds: float, reset_at: float) -> None:
        if seconds > self.max_wait:
            raise RateLimited(reset_at)
        if seconds > 0:
            log.info("GitHub rate limit: waiting %.0f s", seconds)
            self.sleep(seconds)

    def _before_request(self) -> None:
        # spent budget: wait for the reset (+1 s for clock skew) instead of burning a 403
        if self.remaining == 0 and self.reset_at is not None:
            wait = self.reset_at - self.clock() + 1
            if wait > 0:
                self._wait(wait, self.reset_at)
            self.remaining = None

    @staticmethod
    def _is_rate_limited(r: httpx.Response) -> bool:
        if r.status_code == 429:
            return True
        if r.status_code != 403:
            return False
        return (r.headers.get("x-ratelimit-remaining") == "0" or "retry-after" in r.headers
                or "rate limit" in r.text.lower())

    def _limit_wait(self, r: httpx.Response) -> tuple[float, float]:
        retry_after = r.headers.get("retry-after", "").strip()
        now = self.clock()
        if retry_after.isdigit():
            return float(retry_after), now + float(retry_after)
        if r.headers.get("x-ratelimit-remaining") == "0" and self.reset_at is not None:
            return max(0.0, self.reset_at - now + 1), self.reset_at
        # secondary limit without a hint: GitHub asks for at least a minute
        return 60.0, now + 60.0

    # -- the one call ------------------------------------------------------------------------
    def get_repo(self, repo: str, etag: str | None = None) -> RepoResult:
        """Current star count of 'owner/name' (conditional on `etag`). Raises RateLimited."""
        headers = {"If-None-Match": etag} if etag else {}
        limited_once = False
        attempt = 0
        while True:
            self._before_request()
            try:
                self.requests += 1
                r = self.http.get(f"/repos/{repo}", headers=headers)
            except httpx.TransportError as exc:
                permanent = unrecoverable(exc)
                if permanent:  # the same for every repository: the run stops (see refresh_github_stars)
                    raise Unreachable(f"{self.http.base_url}: {permanent}") from exc
                attempt += 1
                if attempt > self.retries:
                    return RepoResult(repo, "error", None, message=f"connection failed after {attempt} tries: {exc}")
                self.sleep(min(30.0, 2.0 ** attempt))
                continue
            self._note_limits(r)
            if r.status_code == 200:
                try:
                    data = r.json()
                    stars = int(data["stargazers_count"])
                except (ValueError, KeyError, TypeError) as exc:
                    return RepoResult(repo, "error", 200, message=f"unexpected response body: {exc}")
                return RepoResult(repo, "ok", 200, stars, r.headers.get("etag"), data.get("full_name"))
            if r.status_code == 304:
                return RepoResult(repo, "not_modified", 304, etag=r.headers.get("etag") or etag)
            if r.status_code in (404, 410, 451):
                return RepoResult(repo, "missing", r.status_code, message=_message(r))
            if self._is_rate_limited(r):
                wait, reset_at = self._limit_wait(r)
                if limited_once:
                    raise RateLimited(reset_at, f"GitHub still rate-limits after waiting: {_message(r)}")
                limited_once = True
                self._wait(wait, reset_at)
                self.remaining = None
                continue
            if r.status_code >= 500:
                attempt += 1
                if attempt <= self.retries:
                    self.sleep(min(30.0, 2.0 ** attempt))
                    continue
            return RepoResult(repo, "error", r.status_code, message=_message(r))


def _message(r: httpx.Response) -> str:
    try:
        return str(r.json().get("message", ""))[:200]
    except ValueError:
        return r.text[:200]


# -- the polling run -------------------------------------------------------------------------------

@dataclass
class RefreshReport:
    checked: int = 0
    updated: int = 0
    not_modified: int = 0
    missing: int = 0
    errors: int = 0
    stopped: str = ""  # why the run ended early, if it did
    unreachable: bool = False  # stopped because GitHub could not be reached at all
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        s = (f"checked {self.checked}, updated {self.updated}, not modified {self.not_modified}, "
             f"missing {self.missing}, errors {self.errors}")
        return s + (f"; stopped: {self.stopped}" if self.stopped else "")


def refresh_github_stars(store, settings: Settings, limit: int | None = None, client: GitHubClient | None = None,
                         since_day: str | None = None) -> RefreshReport:
    limit = settings.github_refresh_limit if limit is None else limit
    own = client is None
    client = client or GitHubClient(settings.github_api_url, settings.github_token, timeout=settings.http_timeout,
                                    max_wait=settings.github_max_wait)
    report = RefreshReport()
    try:
        for repo, papers in sig.repos_to_refresh(store, limit, since_day):
            prev = sig.get_repo_state(store, repo)
            try:
                res = client.get_repo(repo, prev["etag"] if prev else None)
            except RateLimited as exc:
                report.stopped = str(exc)
                break
            except Unreachable as exc:
                report.stopped = str(exc)
                report.unreachable = True
                break
            report.checked += 1
            if res.status == "ok":
                report.updated += 1
                sig.save_repo_state(store, repo, status="ok", http_status=200, etag=res.etag, stars=res.stars,
                                    full_name=res.full_name, papers=papers)
            elif res.status == "not_modified":
                report.not_modified += 1
                # same count as last time, observed now: velocity sees the flat stretch
                sig.save_repo_state(store, repo, status="ok", http_status=304, etag=res.etag,
                                    stars=prev["stars"] if prev else None, papers=papers)
            elif res.status == "missing":
                report.missing += 1
                sig.save_repo_state(store, repo, status="missing", http_status=res.http_status)
            else:
                report.errors += 1
                status = f"HTTP {res.http_status} " if res.http_status else ""
                report.problems.append(f"{repo}: {status}{res.message}".strip())
                sig.save_repo_state(store, repo, status="error", http_status=res.http_status)
    finally:
        if own:
            client.close()
    return report
