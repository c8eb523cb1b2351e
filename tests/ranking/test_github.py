"""The GitHub client and the star refresh against a local HTTP server replaying GitHub-shaped
responses (tests/data/github): 200 with ETag, 304 on If-None-Match, 403 rate limits, 404."""

from __future__ import annotations

import time

import pytest

from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.ranking import trending as rank
from paperwire.ranking.stars import GitHubClient, RateLimited, refresh_github_stars
from paperwire.store import signals as sig
from paperwire.store.papers import upsert_papers

from github_replay import Replay, ok, rate_limited



@pytest.fixture
def gh():
    r = Replay()
    yield r
    r.close()


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def test_200_then_304_with_etag(gh):
    gh.script["/repos/octocat/hello-world"] = [ok("octocat/Hello-World", 80, etag='"abc123"')]
    with GitHubClient(gh.url, token="t0ken", sleep=Sleeps()) as c:
        first = c.get_repo("octocat/hello-world")
        assert (first.status, first.stars, first.etag, first.full_name) == ("ok", 80, '"abc123"', "octocat/Hello-World")
        second = c.get_repo("octocat/hello-world", etag=first.etag)
        assert second.status == "not_modified" and second.http_status == 304 and second.stars is None
    (_, h1), (_, h2) = gh.requests
    assert "if-none-match" not in h1 and h2["if-none-match"] == '"abc123"'
    assert h1["authorization"] == "Bearer t0ken" and h1["x-github-api-version"] == "2022-11-28"


def test_404_is_missing(gh):
    with GitHubClient(gh.url, sleep=Sleeps()) as c:
        res = c.get_repo("nobody/nothing")
    assert res.status == "missing" and res.http_status == 404 and res.message == "Not Found"


def test_403_rate_limit_waits_for_reset_then_retries(gh):
    gh.script["/repos/a/b"] = [rate_limited(reset_in=5), ok("a/b", 7)]
    sleeps = Sleeps()
    with GitHubClient(gh.url, sleep=sleeps, max_wait=60) as c:
        res = c.get_repo("a/b")
    assert res.status == "ok" and res.stars == 7
    assert len(sleeps) == 1 and 4 <= sleeps[0] <= 7  # until X-RateLimit-Reset (+1 s)
    assert len(gh.requests) == 2


def test_403_rate_limit_longer_than_max_wait_stops(gh):
    gh.script["/repos/a/b"] = [rate_limited(reset_in=3000)]
    sleeps = Sleeps()
    with GitHubClient(gh.url, sleep=sleeps, max_wait=60) as c:
        with pytest.raises(RateLimited) as err:
            c.get_repo("a/b")
    assert sleeps == [] and err.value.reset_at > time.time() + 2000


def test_secondary_limit_retry_after_and_429(gh):
    gh.script["/repos/a/b"] = [{"status": 403, "body": '{"message":"You have exceeded a secondary rate limit."}',
                                "headers": {"Retry-After": "3"}}, ok("a/b", 1)]
    gh.script["/repos/c/d"] = [{"status": 429, "body": "{}", "headers": {"Retry-After": "2"}}, ok("c/d", 2)]
    sleeps = Sleeps()
    with GitHubClient(gh.url, sleep=sleeps) as c:
        assert c.get_repo("a/b").stars == 1
        assert c.get_repo("c/d").stars == 2
    assert sleeps == [3.0, 2.0]


def test_remaining_zero_waits_before_next_request(gh):
    gh.script["/repos/a/b"] = [ok("a/b", 1, remaining=0, reset=int(time.time()) + 10)]
    gh.script["/repos/c/d"] = [ok("c/d", 2)]
    sleeps = Sleeps()
    with GitHubClient(gh.url, sleep=sleeps) as c:
        c.get_repo("a/b")
        assert sleeps == []
        assert c.get_repo("c/d").stars == 2
    assert len(sleeps) == 1 and 8 <= sleeps[0] <= 12
    assert len(gh.requests) == 2  # no request was wasted on a certain 403


def test_server_error_backs_off_then_reports(gh):
    gh.script["/repos/a/b"] = [{"status": 502, "body": "bad gateway"}]
    sleeps = Sleeps()
    with GitHubClient(gh.url, sleep=sleeps, retries=2) as c:
        res = c.get_repo("a/b")
    assert res.status == "error" and res.http_status == 502
    assert sleeps == [2.0, 4.0] and len(gh.requests) == 3


def papers_with_repos(store, repos):
    upsert_papers(store, [Paper(id=f"2603.{i:05d}", title=f"P{i}", listed=f"2026-03-{1 + i:02d}",
                                abstract=f"Code at https://github.com/{r}")
                          for i, r in enumerate(repos)], source="listing")


def test_refresh_records_history_and_velocity(gh, store, settings):
    papers_with_repos(store, ["org/alpha", "org/beta", "org/gone"])
    gh.script["/repos/org/alpha"] = [ok("org/alpha", 100, etag='"a1"'), ok("org/alpha", 100, etag='"a1"'),
                                     ok("org/alpha", 130, etag='"a2"')]
    gh.script["/repos/org/beta"] = [ok("org/beta", 5, etag='"b1"')]
    s = Settings.load(env={}, db=settings.db, github_api_url=gh.url)
    c = GitHubClient(gh.url, sleep=Sleeps())
    rep = refresh_github_stars(store, s, limit=10, client=c)
    assert (rep.checked, rep.updated, rep.missing) == (3, 2, 1)
    assert sig.get_repo_state(store, "org/gone")["status"] == "missing"
    # second run: beta answers 304 (ETag), alpha 304, gone is not asked again
    n_before = len(gh.requests)
    rep2 = refresh_github_stars(store, s, limit=10, client=c)
    assert rep2.not_modified == 2 and rep2.checked == 2
    assert not any(p == "/repos/org/gone" for p, _ in gh.requests[n_before:])
    rep3 = refresh_github_stars(store, s, limit=10, client=c)
    assert rep3.updated == 1 and sig.get_repo_state(store, "org/alpha")["stars"] == 130
    hist = store.query("SELECT value FROM signals WHERE kind='github_stars' AND ref='org/alpha' ORDER BY id")
    assert [r[0] for r in hist] == [100, 100, 130]
    # velocity comes from the recorded history; rewrite the times to a known spacing to check it
    ids = [r[0] for r in store.query("SELECT id FROM signals WHERE ref='org/alpha' ORDER BY id")]
    for i, when in zip(ids, ["2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z", "2026-03-07T00:00:00Z"]):
        store.conn.execute("UPDATE signals SET observed_at=? WHERE id=?", (when, i))
    sig.rebuild_credits(store)  # the credits follow the edited times
    tr = {t.paper_id: t for t in rank.trending(store, "week", "2026-03-07T12:00:00Z", settings=s)}
    # 100 when first seen (spread from the paper's day, 03-01, to 03-05), then +30 on 03-06..07
    assert tr["2603.00000"].inputs["stars"] == pytest.approx(130.0)
    day = {t.paper_id: t for t in rank.trending(store, "day", "2026-03-07T12:00:00Z", settings=s)}
    assert day["2603.00000"].inputs["stars"] == pytest.approx(15.0)  # half of the +30 falls in the last day


def test_refresh_stops_on_rate_limit_and_keeps_progress(gh, store, settings):
    papers_with_repos(store, ["o/one", "o/two", "o/three"])
    gh.script["/repos/o/three"] = [ok("o/three", 3)]  # newest paper, asked first
    gh.script["/repos/o/two"] = [rate_limited(reset_in=5000)]
    s = Settings.load(env={}, db=settings.db, github_api_url=gh.url)
    rep = refresh_github_stars(store, s, limit=10, client=GitHubClient(gh.url, sleep=Sleeps(), max_wait=30))
    assert rep.checked == 1 and "rate limit" in rep.stopped
    assert sig.get_repo_state(store, "o/three")["stars"] == 3
    assert sig.get_repo_state(store, "o/one") is None
    # the next run asks the never-checked repos before re-asking the fresh one
    nxt = [r for r, _ in sig.repos_to_refresh(store, 2)]
    assert nxt == ["o/two", "o/one"]


def test_repo_from_url():
    assert sig.repo_from_url("https://github.com/Foo/Bar.git") == "foo/bar"
    assert sig.repo_from_url("https://github.com/foo/bar/tree/main/src") == "foo/bar"
    assert sig.repo_from_url("github.com/foo/bar.js") == "foo/bar.js"
    assert sig.repo_from_url("https://github.com/foo") is None
    assert sig.repo_from_url("https://gitlab.com/foo/bar") is None
