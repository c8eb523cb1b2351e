"""Two `paperwire serve` processes on different ports over one database (SQLite file, or the
PostgreSQL database PAPERWIRE_TEST_DB names): what one host writes, the other serves at once."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time

import httpx

from multihost_support import host_env
from paperwire.store import open_store, users
from web_support import CSRF_RE, PASSWORD, make_user

N_VOTERS = 100


def _count(html: str) -> int:
    return int(re.search(r'<span class="count">(\d+)</span>', html).group(1))


def _unvoted_paper(store) -> str:
    return store.query_one("SELECT p.id FROM papers p LEFT JOIN paper_counts c ON c.paper_id = p.id "
                           "WHERE p.hidden = 0 AND COALESCE(c.upvotes, 0) = 0 ORDER BY p.id LIMIT 1")[0]


def test_concurrent_upvotes_over_two_hosts_count_exactly_and_show_on_both(hosts, site, shared_hash):
    a, b = hosts
    store = open_store(site.db)
    pid = _unvoted_paper(store)
    tokens = [users.create_token(store, make_user(store, f"voter{i}", shared_hash).id, "multihost")
              for i in range(N_VOTERS)]
    # both hosts cache the anonymous paper page with its count of 0
    for h in hosts:
        assert _count(httpx.get(f"{h.url}/papers/{pid}", timeout=30).text) == 0
    go = threading.Barrier(N_VOTERS)
    answers: list = [None] * N_VOTERS

    def vote(i: int) -> None:
        url = (a if i % 2 == 0 else b).url
        with httpx.Client(timeout=60) as c:
            go.wait(30)
            answers[i] = c.post(f"{url}/api/v1/papers/{pid}/upvote", headers={"Authorization": f"Bearer {tokens[i]}"})

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(N_VOTERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [r.status_code for r in answers] == [200] * N_VOTERS, {r.status_code: r.text[:200] for r in answers}
    assert users.count_upvotes(store, pid) == N_VOTERS
    assert store.query_one("SELECT upvotes FROM paper_counts WHERE paper_id = ?", (pid,))[0] == N_VOTERS
    # each host shows the new count on its very next request, though both had the page cached
    for h in hosts:
        assert _count(httpx.get(f"{h.url}/papers/{pid}", timeout=30).text) == N_VOTERS, h.url
    # a vote taken by one host only: the other host (which saw no write itself) shows it at once
    for voter, (took, other) in ((N_VOTERS, (a, b)), (N_VOTERS + 1, (b, a))):
        token = users.create_token(store, make_user(store, f"voter{voter}", shared_hash).id, "multihost")
        assert httpx.post(f"{took.url}/api/v1/papers/{pid}/upvote", headers={"Authorization": f"Bearer {token}"},
                          timeout=30).status_code == 200
        assert _count(httpx.get(f"{other.url}/papers/{pid}", timeout=30).text) == voter + 1, other.url
    store.close()


def test_a_paper_ingested_beside_one_host_is_found_by_words_and_by_meaning_on_the_other(hosts, site, tmp_path):
    a, b = hosts
    record = {"id": "2607.99901", "categories": ["cs.CL"], "authors": ["Ada Quillfeather"],
              "title": "Zyphorine Gradients: Training Subword Tokenisers in Fewer Steps",
              "summary": "We study zyphorine gradients, a new family of optimiser updates that learn the subword "
                         "vocabulary of a language model tokeniser in fewer steps.",
              "listing_date": "2026-07-01"}
    src = tmp_path / "new.jsonl"
    src.write_text(json.dumps(record) + "\n", encoding="utf-8")
    # the search page on B before the paper exists: nothing found (and the answer is cached)
    assert "2607.99901" not in httpx.get(f"{b.url}/papers", params={"q": "zyphorine"}, timeout=30).text
    # `paperwire ingest` run with host A's settings (its own index folder), a separate process
    done = subprocess.run([sys.executable, "-m", "paperwire", "ingest", str(src)], capture_output=True, text=True,
                          env=host_env(site, a.data_dir), timeout=120)
    assert done.returncode == 0, done.stderr
    ingested = time.monotonic()
    found_page = found_api = found_meaning = None
    # by meaning: a paraphrase, answered by vectors alone (no fallback to words), among the
    # demo's 3,000 papers: one of the serving hosts embeds the new paper, B's index picks it up
    meaning = {"q": "a novel optimiser for splitting text into subword units", "mode": "semantic", "limit": 5}
    while time.monotonic() - ingested < 5 and not (found_page and found_api and found_meaning):
        if found_page is None and "2607.99901" in httpx.get(f"{b.url}/papers", params={"q": "zyphorine"},
                                                             timeout=30).text:
            found_page = time.monotonic() - ingested
        if found_api is None:
            hits = httpx.get(f"{b.url}/api/v1/search", params={"q": "zyphorine", "mode": "lexical"}, timeout=30).json()
            if any(h.get("id") == "2607.99901" for h in hits["hits"]):
                found_api = time.monotonic() - ingested
        if found_meaning is None:
            res = httpx.get(f"{b.url}/api/v1/search", params=meaning, timeout=30).json()
            if res["mode"] == "semantic" and not res["fallback"] and any(h.get("id") == "2607.99901" for h in res["hits"]):
                found_meaning = time.monotonic() - ingested
        time.sleep(0.2)
    assert found_page is not None and found_page < 5, "the search page on host B did not find the paper within 5 s"
    assert found_api is not None and found_api < 5, "/api/v1/search on host B did not find the paper within 5 s"
    assert found_meaning is not None and found_meaning < 5, "host B did not find the paper by meaning within 5 s"
    # and its page is there on B
    assert httpx.get(f"{b.url}/papers/2607.99901", timeout=30).status_code == 200


def _signed_in_client(url: str, email: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
    token = CSRF_RE.search(c.get("/signin").text).group(1)
    r = c.post("/signin", data={"csrf": token, "email": email, "password": PASSWORD})
    assert r.status_code == 303, r.text[:300]
    return c


def test_a_session_signed_out_on_one_host_is_refused_on_the_other(hosts, site, shared_hash):
    a, b = hosts
    store = open_store(site.db)
    make_user(store, "roamer", shared_hash)
    on_a = _signed_in_client(a.url, "roamer@example.org")
    # the same browser (its cookies) going to host B through the proxy
    on_b = httpx.Client(base_url=b.url, timeout=30, follow_redirects=False, cookies=on_a.cookies)
    assert on_b.get("/settings/tokens").status_code == 200
    token = CSRF_RE.search(on_a.get("/settings/tokens").text).group(1)
    assert on_a.post("/signout", data={"csrf": token}).status_code == 303
    refused = on_b.get("/settings/tokens")
    assert refused.status_code == 303 and refused.headers["location"].startswith("/signin")
    # "sign out everywhere" on B ends a session that was opened on A
    again = _signed_in_client(a.url, "roamer@example.org")
    elsewhere = httpx.Client(base_url=b.url, timeout=30, follow_redirects=False, cookies=again.cookies)
    assert elsewhere.get("/settings/tokens").status_code == 200
    form = CSRF_RE.search(elsewhere.get("/settings/tokens").text).group(1)
    assert elsewhere.post("/signout/everywhere", data={"csrf": form}).status_code == 303
    assert again.get("/settings/tokens").status_code == 303
    store.close()


def test_an_api_token_revoked_on_one_host_is_refused_on_the_other(hosts, site, shared_hash):
    a, b = hosts
    store = open_store(site.db)
    user = make_user(store, "tokenholder", shared_hash)
    token = users.create_token(store, user.id, "laptop")
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{b.url}/api/v1/me", headers=auth, timeout=30).status_code == 200
    on_a = _signed_in_client(a.url, "tokenholder@example.org")
    page = on_a.get("/settings/tokens").text
    token_id = re.search(r'/settings/tokens/(\d+)/revoke', page).group(1)
    r = on_a.post(f"/settings/tokens/{token_id}/revoke", data={"csrf": CSRF_RE.search(page).group(1)})
    assert r.status_code == 303
    assert httpx.get(f"{b.url}/api/v1/me", headers=auth, timeout=30).status_code == 401
    store.close()


def test_a_rate_limit_holds_across_hosts(hosts):
    """Password-reset requests: 5 an hour per client. Spread over two hosts they still count
    as one client's: the sixth is refused, whichever host gets it."""
    a, b = hosts
    codes = []
    for i in range(7):
        h = (a, b)[i % 2]
        with httpx.Client(base_url=h.url, timeout=30, follow_redirects=False) as c:
            token = CSRF_RE.search(c.get("/reset").text).group(1)
            codes.append(c.post("/reset", data={"csrf": token, "email": f"nobody{i}@example.org"}).status_code)
    assert codes[:5] == [303] * 5 and codes[5:] == [429, 429], codes


def test_page_views_counted_on_both_hosts_reach_the_database_without_a_restart(hosts, site):
    """Each host counts views in memory and writes them every view_flush_seconds (1 s here) even
    when no further view comes: a host killed later has lost none of these."""
    a, b = hosts
    store = open_store(site.db)
    pid = store.query_one("SELECT id FROM papers WHERE hidden = 0 ORDER BY id DESC LIMIT 1")[0]

    def views() -> float:
        return store.query_one("SELECT COALESCE(sum(value), 0) FROM signals WHERE kind = 'view' AND paper_id = ?",
                               (pid,))[0]

    # views an earlier test left in a host's memory reach the database within a flush interval:
    # start counting once the total has stopped moving
    before = views()
    while True:
        time.sleep(2.5)
        settled = views()
        if settled == before:
            break
        before = settled
    for h, n in ((a, 3), (b, 2)):
        for _ in range(n):
            assert httpx.get(f"{h.url}/papers/{pid}", timeout=30).status_code == 200
    deadline = time.monotonic() + 10
    while views() - before < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert views() - before == 5
    store.close()
