"""Collecting signals: poll GitHub for the stars of the most relevant linked repositories.

`refresh_github_stars` picks the N most relevant repos (newest papers first, never-checked
before long-unchecked; known-missing repos skipped), asks GitHub conditionally, and records a
time-stamped star observation per linked paper. Star velocity is derived from these
observations at ranking time (paperwire.ranking.trending). A rate-limit stop keeps everything recorded
so far; the next run continues with the repos checked least recently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from paperwire.config import Settings
from paperwire.ranking.github import GitHubClient, RateLimited
from paperwire.store import signals as sig

log = logging.getLogger(__name__)


@dataclass
class RefreshReport:
    checked: int = 0
    updated: int = 0
    not_modified: int = 0
    missing: int = 0
    errors: int = 0
    stopped: str = ""  # why the run ended early, if it did
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
                report.problems.append(f"{repo}: HTTP {res.http_status} {res.message}".strip())
                sig.save_repo_state(store, repo, status="error", http_status=res.http_status)
    finally:
        if own:
            client.close()
    return report
