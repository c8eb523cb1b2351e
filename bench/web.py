"""Web serving speed with 1,000,000 papers: p50/p95 latency and requests/s of the front page,
a paper page, a search page and the search API, measured by `wrk` (a separate process)
against `paperwire serve`.

    python bench/web.py                     # build var/bench/web-1000k.db once (if missing), then measure
    python bench/web.py --papers 200000     # a smaller store
    python bench/web.py --duration 15 --connections 4,16 --workers 2

The store is generated from the 74,728 real listing records in ../shared/data (titles,
abstracts, authors and categories reused under fresh ids), spread over ~1,000 listing days
(~1,000 papers a day), with 2,000 users casting 300,000 upvotes, so day lists sort by real
counters. It is written with executemany for speed; the FTS5 index is
rebuilt once at the end instead of per row by its triggers, and its tantivy index for large
stores is built as `paperwire index` would. No vector index is built (embedding 1M abstracts
takes hours on 2 cores), so hybrid search runs its lexical half plus the query encoder, and
"similar papers" come back empty.

Paper and search requests pick a random paper / query per request (Lua script), so they
mostly miss the few-second page cache; the front page is one URL and mostly hits it, as in
real use. Prints a table and writes bench/results/web.json. Figures, not pass/fail.
daily_day and all_new_day ask a random one of the newest 300 days per request (so they mostly
miss the page cache); front and all_new are one URL each.
Each case also records the load average and the server's CPU per request (its process tree, from
/proc), which a busy machine changes far less than the latency; --page-cache-seconds 0 renders every
request (what a page costs when the cache misses).
Targets (2 cores): front/paper/daily_day/all_new(_day) p95 <= 30 ms at >= 300 req/s; search page p95 <= 80 ms;
trending (each window) p95 <= 30 ms warm; trending computed cold <= 200 ms.
Trending signals at the scale of a self-hosted install are added once (add_trend_signals: votes
spread over the days after each paper, Hugging Face daily lists of 40 papers a day observed on
two harvests, the GitHub stars of each linked repository polled twice, page views, comments), and
`trending_cold` times the ranking itself in this process, without the site's 60 s memo.

Several app hosts and PostgreSQL (bench/web_hosts.py, bench/web_pg.py), both engines in one run:
    python bench/web.py --engines sqlite,postgresql --hosts 2 --duration 10 \
        --only front,paper,search_page,search_api        # writes bench/results/web-pg-1m.json
PostgreSQL: a cluster kept in var/bench/pg-web, filled once from the SQLite store with
`paperwire store copy`. Each host is a `paperwire serve` of --workers with its own index folder
and a `paperwire store follow` beside it; one wrk per host. Before timing, the hosts must serve
the same front page and show each other's votes at once.

Hybrid search with a real vector index: point --db at the store bench/search.py builds (1M
papers with static-tier vectors, an HNSW index and the tantivy index) and serve it with the
static encoder, e.g.
    PAPERWIRE_EMBED_MODEL=static PAPERWIRE_MODEL_CACHE=var/models python bench/web.py \
        --db var/bench-search-1000000/bench.db --only search_page,search_api --out bench/results/web-hybrid.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "arxiv-daily-2025-2026" / "records.jsonl.gz"
DEMO = ROOT / "demo" / "records.jsonl.gz"
RESULTS = ROOT / "bench" / "results" / "web.json"
sys.path.insert(0, str(ROOT))
from web_hosts import free_port, tree_cpu_seconds  # noqa: E402  (bench/ is this script's folder)


def _ts(day_index: int) -> str:
    import datetime as dt

    return (dt.date(2023, 9, 1) + dt.timedelta(days=day_index)).isoformat()


def build(db: Path, n: int, seed: int = 11) -> dict:
    """Generate an n-paper store (see the module docstring)."""
    from paperwire.store import Store
    from paperwire.text import display_text

    t0 = time.perf_counter()
    src = SHARED if SHARED.exists() else DEMO
    base = []
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            base.append((display_text(r.get("title", "")), display_text(r.get("summary", "")),
                         r.get("authors") or [], r.get("categories") or ["cs.LG"]))
    rnd = random.Random(seed)
    tmp = db.with_suffix(".building")
    for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        p.unlink(missing_ok=True)
    store = Store(tmp)
    conn = store.conn
    conn.execute("PRAGMA synchronous=OFF")
    # the search triggers are replaced by one rebuild at the end; the listing ranks (migration
    # 0090) are kept by theirs, as on any install
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name='papers' "
                            "AND name NOT LIKE 'listing_rank%'").fetchall()
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    days = 1000
    per_day = max(1, n // days)
    now = "2026-07-01T00:00:00Z"
    batch_p, batch_a, batch_c, batch_l = [], [], [], []

    def flush():
        with store.transaction() as c:
            c.executemany("INSERT INTO papers(id, title, title_display, abstract, abstract_display, authors, categories, "
                          "primary_category, published, updated, listed, latest_version, created_at, changed_at) "
                          "VALUES (?,?,?,?,?,?,?,?,?,?,?,1,?,?)", batch_p)
            c.executemany("INSERT INTO paper_authors(paper_id, position, name) VALUES (?,?,?)", batch_a)
            c.executemany("INSERT OR IGNORE INTO paper_categories(paper_id, category, position) VALUES (?,?,?)", batch_c)
            c.executemany("INSERT OR IGNORE INTO links(paper_id, url, kind, origin) VALUES (?,?,?,'text')", batch_l)
        for b in (batch_p, batch_a, batch_c, batch_l):
            b.clear()

    ids, seq = [], {}
    for i in range(n):
        d = min(days - 1, i // per_day)
        day = _ts(d)
        month = day[2:4] + day[5:7]
        seq[month] = seq.get(month, 0) + 1  # real-looking new-style ids: YYMM.NNNNN, in order
        pid = f"{month}.{seq[month]:05d}"
        title, abstract, authors, cats = base[i % len(base)]
        ids.append(pid)
        authors_json = json.dumps(authors, ensure_ascii=False)
        batch_p.append((pid, title, title, abstract, abstract, authors_json, json.dumps(cats), cats[0],
                        day + "T12:00:00Z", day + "T12:00:00Z", day, now, now))
        batch_a.extend((pid, k, a) for k, a in enumerate(authors[:50]))
        batch_c.extend((pid, c, k) for k, c in enumerate(cats))
        if i % 10 == 0:
            batch_l.append((pid, f"https://github.com/bench/repo{i}", "github"))
        if len(batch_p) >= 20000:
            flush()
            print(f"\r  papers {i + 1:,}/{n:,}", end="", file=sys.stderr, flush=True)
    flush()
    print(file=sys.stderr)
    # accounts and upvotes (the counters are kept by the accounts migration's triggers)
    from paperwire.store.users import hash_password

    pw = hash_password("bench-password")
    with store.transaction() as c:
        c.executemany("INSERT INTO users(email, username, password_hash, created_at) VALUES (?,?,?,?)",
                      [(f"u{k}@bench.example", f"u{k}", pw, now) for k in range(2000)])
    votes = set()
    recent = ids[-per_day * 30:]
    while len(votes) < min(300_000, n):
        pool = recent if rnd.random() < 0.7 else ids
        votes.add((rnd.randint(1, 2000), pool[int(rnd.paretovariate(1.2)) % len(pool)] if rnd.random() < 0.5
                   else rnd.choice(pool)))
    with store.transaction() as c:
        c.executemany("INSERT INTO upvotes(user_id, paper_id, created_at) VALUES (?,?,?)",
                      [(u, p, now) for u, p in votes])
    print("  rebuilding the search index ...", file=sys.stderr, flush=True)
    with store.transaction() as c:
        has_search = c.execute("SELECT 1 FROM sqlite_master WHERE name='search_docs'").fetchone()
        if has_search:
            c.execute("INSERT INTO search_docs(paper_id, title_key) "
                      "SELECT id, lower(rtrim(trim(title_display), '.')) FROM papers ORDER BY rowid")
            c.execute("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
        for _, sql in triggers:
            c.execute(sql)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    os.replace(tmp, db)
    # the fast lexical index for large stores (what `paperwire index` syncs), without the hours
    # of embedding: only the words side
    from paperwire.config import Settings
    from paperwire.search import indexer

    print("  building the fast lexical index ...", file=sys.stderr, flush=True)
    settings = Settings.load(env={}, db=str(db))
    eng_store = Store(db)
    indexer.sync_lexical(eng_store, settings)
    eng_store.close()
    return {"papers": n, "upvotes": len(votes), "users": 2000, "build_seconds": round(time.perf_counter() - t0, 1),
            "db_mb": round(db.stat().st_size / 2**20)}


def add_trend_signals(db: Path, seed: int = 13) -> dict:
    """Trending signals over the store's days, written the way the site writes them (so the
    credits of migration 0070 come from its triggers); once per store."""
    import datetime as dt

    from paperwire.store import Store

    store = Store(db)
    if store.query_one("SELECT count(*) FROM hf_daily")[0]:
        store.close()
        return {}
    t0 = time.perf_counter()
    rnd = random.Random(seed)
    by_day: dict[str, list[str]] = {}
    for pid, day in store.query("SELECT id, listed FROM papers WHERE listed IS NOT NULL ORDER BY listed, id"):
        by_day.setdefault(day, []).append(pid)
    days = sorted(by_day)
    last_end = dt.datetime.fromisoformat(days[-1]) + dt.timedelta(hours=23, minutes=59)
    day_of = {pid: d for d, ps in by_day.items() for pid in ps}

    def at(day: str, days_after: float) -> str:
        t = dt.datetime.fromisoformat(day) + dt.timedelta(days=days_after)
        return min(t, last_end).strftime("%Y-%m-%dT%H:%M:%SZ")

    with store.transaction() as c:
        # votes come in the days after a paper appears
        votes = c.execute("SELECT user_id, paper_id FROM upvotes").fetchall()
        c.executemany("UPDATE upvotes SET created_at=? WHERE user_id=? AND paper_id=?",
                      [(at(day_of[p], 0.25 + rnd.expovariate(1 / 1.5)), u, p) for u, p in votes])
        # Hugging Face: 40 papers a day, harvested that morning and again the next
        hf = 0
        for d in days:
            for pid in rnd.sample(by_day[d], min(40, len(by_day[d]))):
                up = min(900, int(rnd.paretovariate(1.1) * 4))
                stars = int(rnd.paretovariate(0.9) * 30) if rnd.random() < 0.5 else None
                repo = f"https://github.com/bench-hf/{pid}" if stars is not None else None
                for k, grow in ((0, 1.0), (1, 1.6)):
                    c.execute("INSERT INTO hf_daily(paper_id, featured_on, upvotes, github_repo, github_stars, seen_at) "
                              "VALUES (?,?,?,?,?,?) ON CONFLICT(paper_id) DO UPDATE SET upvotes=excluded.upvotes, "
                              "github_stars=excluded.github_stars, seen_at=excluded.seen_at",
                              (pid, d, int(up * grow), repo, None if stars is None else int(stars * grow),
                               at(d, k + 0.3)))
                hf += 1
        # GitHub: each linked repository polled the day after its paper and a week later
        polls = []
        for pid, url in c.execute("SELECT paper_id, url FROM links WHERE kind='github' AND url LIKE '%/bench/%'"):
            base = int(rnd.paretovariate(1.0) * 5)
            ref = url.rsplit("github.com/", 1)[1].lower()
            polls.append((at(day_of[pid], 1.2), pid, ref, base))
            polls.append((at(day_of[pid], 7.2), pid, ref, base + int(base * rnd.random())))
        polls.sort()
        c.executemany("INSERT INTO signals(paper_id, kind, ref, value, observed_at) VALUES (?, 'github_stars', ?, ?, ?)",
                      [(p, r, v, t) for t, p, r, v in polls])
        # page views (batched by the site: a count per paper per flush) and comments, on recent papers
        views, comments = [], []
        for i, d in enumerate(days):
            recent = [p for dd in days[max(0, i - 6): i + 1] for p in by_day[dd]]
            views += [(rnd.choice(recent), "view", "", rnd.randint(1, 20), at(d, rnd.random())) for _ in range(100)]
            comments += [(rnd.choice(recent), rnd.randint(1, 2000), "a comment", at(d, rnd.random())) for _ in range(20)]
        c.executemany("INSERT INTO signals(paper_id, kind, ref, value, observed_at) VALUES (?,?,?,?,?)", views)
        c.executemany("INSERT INTO comments(paper_id, user_id, body, created_at) VALUES (?,?,?,?)", comments)
    store.conn.execute("ANALYZE")
    credits = store.query_one("SELECT count(*) FROM trend_credits")[0]
    store.close()
    return {"upvotes_retimed": len(votes), "hf_papers": hf, "star_polls": len(polls), "view_rows": len(views),
            "comments": len(comments), "credits": credits, "seconds": round(time.perf_counter() - t0, 1)}


def trending_cold(db: Path, repeats: int = 7) -> dict:
    """The trending ranking computed from the store (no memo), first page of each window: the
    first call after opening the store and the median/max of the next `repeats`."""
    from paperwire.ranking import trending as rank
    from paperwire.store import Store

    out = {}
    store = Store(db)
    for window in rank.WINDOWS:
        times, cpu = [], []
        for _ in range(repeats + 1):
            t, c = time.perf_counter(), time.process_time()
            end = rank.window_end(store, window)
            top = rank.trending(store, window, end.now, limit=30, local_now=end.local_now)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        rest, rest_cpu = sorted(times[1:]), sorted(cpu[1:])
        # on a shared machine the wall time includes waiting for a core; the CPU time (SQLite
        # runs in this process) is the work itself
        out[window] = {"first_ms": round(times[0], 1), "median_ms": round(rest[len(rest) // 2], 1),
                       "max_ms": round(rest[-1], 1), "median_cpu_ms": round(rest_cpu[len(rest_cpu) // 2], 1),
                       "as_of": str(end.as_of), "top": top[0].paper_id if top else None,
                       "top_reasons": [r.text for r in top[0].reasons] if top else []}
        print(f"trending cold {window:<6} first {times[0]:7.1f} ms   median {out[window]['median_ms']:7.1f} ms   "
              f"max {out[window]['max_ms']:7.1f} ms   median CPU {out[window]['median_cpu_ms']:7.1f} ms", flush=True)
    out["load_average"] = os.getloadavg()
    store.close()
    return out


LUA = r"""
local items = {}
local prefix = os.getenv("WRK_PREFIX") or "/"
local file = os.getenv("WRK_ITEMS")
if file then for line in io.lines(file) do items[#items + 1] = line end end
request = function()
  if #items == 0 then return wrk.format("GET", prefix) end
  return wrk.format("GET", prefix .. items[math.random(#items)])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %.3f %d\n", latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
"""


def wrk(url: str, prefix: str, items: Path | None, duration: int, connections: int, threads: int = 1) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(LUA)
        script = fh.name
    env = dict(os.environ, WRK_PREFIX=prefix)
    if items:
        env["WRK_ITEMS"] = str(items)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "10s",
                          "-s", script, url], capture_output=True, text=True, env=env, check=True).stdout
    os.unlink(script)
    m = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) ([\d.]+) (\d+)", out)
    if not m:
        raise RuntimeError(out)
    p50, p95, p99, n, dur, rps, errors = m.groups()
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"p50_ms": int(p50) / 1000, "p95_ms": int(p95) / 1000, "p99_ms": int(p99) / 1000, "requests": int(n),
            "req_per_s": round(float(rps), 1), "errors": int(errors), "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def serve_one(args, db: Path, cases: dict, only: set, sample: list[str], queries: list[str]) -> dict:
    """One `paperwire serve` of --workers over the SQLite store, loaded by one wrk: each case's figures."""
    import httpx

    port = free_port()
    env = dict(os.environ, PAPERWIRE_DB=str(db), PAPERWIRE_RATE_LIMIT_FACTOR="0", PAPERWIRE_SECRET_KEY="b" * 40)
    if args.page_cache_seconds is not None:
        env["PAPERWIRE_PAGE_CACHE_SECONDS"] = str(args.page_cache_seconds)
    server = subprocess.Popen([sys.executable, "-m", "paperwire", "serve", "--port", str(port), "--workers",
                               str(args.workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    results = {}
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/api/openapi.json", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        # warm every worker: the query encoder and similar-papers loader start on first use (only
        # when a case needs them: loading the encoder can take minutes on a busy machine)
        if {"paper", "search_page", "search_api"} & only:
            for k in range(20):
                httpx.get(base + f"/papers?q={queries[k].replace(' ', '+')}", timeout=60)
                httpx.get(base + f"/papers/{sample[k]}", timeout=60)
        else:
            for k in range(20):
                httpx.get(base + "/", timeout=60)
                httpx.get(base + "/new", timeout=60)
        time.sleep(3)
        for conns in [int(x) for x in str(args.connections).split(",")]:
            for name, (prefix, items) in cases.items():
                if name not in only:
                    continue
                cpu0 = tree_cpu_seconds(server.pid)
                r = wrk(base, prefix, items, args.duration, conns)
                r["server_cpu_ms_per_request"] = round((tree_cpu_seconds(server.pid) - cpu0) * 1000 / max(1, r["requests"]), 2)
                # a shared machine's other work shows in the load average: kept beside each figure
                r["connections"], r["load_average"] = conns, [round(x, 2) for x in os.getloadavg()]
                if args.page_cache_seconds is not None:
                    r["page_cache_seconds"] = args.page_cache_seconds
                tag = "" if args.page_cache_seconds is None else f"/cache{args.page_cache_seconds:g}s"
                results[f"{name}@{conns}{tag}"] = r
                print(f"{name:<12} c={conns:<3} p50 {r['p50_ms']:7.1f} ms   p95 {r['p95_ms']:7.1f} ms   "
                      f"p99 {r['p99_ms']:7.1f} ms   {r['req_per_s']:8.1f} req/s   ({r['requests']} requests, "
                      f"{r['errors']} errors, {r['non_2xx']} non-2xx)   server CPU {r['server_cpu_ms_per_request']:.2f} ms/req   "
                      f"load {r['load_average'][0]:.1f}", flush=True)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, help="store to use (default bench/.web-<n>.db, built if missing)")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--connections", default="4,16",
                    help="open connections of wrk, comma list: each case runs once per value (default 4,16)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", help="comma list: front,daily_day,all_new,all_new_day,paper,search_page,search_api,trending_day,trending_week,"
                                   "trending_month,trending_cold")
    ap.add_argument("--out", type=Path, default=None,
                    help="result file (default bench/results/web.json; with --engines/--hosts web-pg-1m.json)")
    ap.add_argument("--page-cache-seconds", type=float, default=None,
                    help="the server's page_cache_seconds (default: the setting's default); 0 renders every "
                         "request, which measures what a page costs when the cache misses")
    ap.add_argument("--engines", default="sqlite",
                    help="comma list: sqlite, postgresql; each measured in this run, one after the other (bench/web_hosts.py)")
    ap.add_argument("--hosts", type=int, default=1,
                    help="app hosts: `paperwire serve` processes of --workers each, own port and index folder (default 1)")
    ap.add_argument("--fresh-hosts", action="store_true",
                    help="build the first host's index folder from the database again (not reused from var/bench/web-hosts)")
    ap.add_argument("--prepare-only", action="store_true",
                    help="with --engines/--hosts: make the databases and each host's index folders, then stop "
                         "(untimed work to run niced, before the timed run takes the bench lock)")
    args = ap.parse_args()
    multi = args.engines != "sqlite" or args.hosts > 1
    if args.out is None:
        args.out = RESULTS if not multi else RESULTS.with_name(
            ("web-pg-" if "postgresql" in args.engines else "web-hosts-")
            + (f"{args.papers // 1_000_000}m" if args.papers % 1_000_000 == 0 else f"{args.papers // 1000}k") + ".json")
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    db = args.db or ROOT / "var" / "bench" / f"web-{args.papers // 1000}k.db"  # var/ is git-ignored
    db.parent.mkdir(parents=True, exist_ok=True)
    built = None
    if args.rebuild or not db.exists():
        print(f"building {db} with {args.papers:,} papers ...", file=sys.stderr)
        built = build(db, args.papers)
        print(f"  built in {built['build_seconds']} s, {built['db_mb']} MB", file=sys.stderr)

    signals_added = add_trend_signals(db)
    if signals_added:
        print(f"  trending signals added: {signals_added}", file=sys.stderr)
    cold = trending_cold(db) if not args.only or "trending_cold" in args.only else None
    from paperwire.store import Store

    store = Store(db)
    n_papers = store.query_one("SELECT count(*) FROM papers")[0]
    sample = [r[0] for r in store.query("SELECT id FROM papers ORDER BY random() LIMIT 5000")]
    titles = [r[0] for r in store.query("SELECT title_display FROM papers ORDER BY random() LIMIT 2000")]
    # the days with a curated list / with listings, for the daily page and the "All new" tab of any day
    curated_days = [r[0] for r in store.query("SELECT DISTINCT day FROM hf_featured ORDER BY day DESC LIMIT 300")]
    listing_days = [r[0] for r in store.query("SELECT DISTINCT listed FROM papers WHERE listed IS NOT NULL "
                                              "ORDER BY listed DESC LIMIT 300")]
    store.close()
    rnd = random.Random(5)
    words = [w.lower() for t in titles for w in re.findall(r"[A-Za-z]{5,}", t)]
    queries = sorted({" ".join(rnd.sample(words, 2)) for _ in range(3000)})
    tmpdir = Path(tempfile.mkdtemp(prefix="pw-bench-"))
    (tmpdir / "papers.txt").write_text("\n".join(sample) + "\n")
    (tmpdir / "queries.txt").write_text("\n".join(q.replace(" ", "+") for q in queries) + "\n")
    (tmpdir / "curated_days.txt").write_text("\n".join(curated_days or listing_days) + "\n")
    (tmpdir / "new_days.txt").write_text("\n".join(f"{d}/new" for d in listing_days) + "\n")

    cases = {
        "front": ("/", None),
        "daily_day": ("/papers/date/", tmpdir / "curated_days.txt"),  # any day's curated list
        "all_new": ("/new", None),  # the newest listing day's All new tab
        "all_new_day": ("/papers/date/", tmpdir / "new_days.txt"),  # any day's All new tab
        "paper": ("/papers/", tmpdir / "papers.txt"),
        "search_page": ("/papers?q=", tmpdir / "queries.txt"),
        "search_api": ("/api/v1/search?limit=20&q=", tmpdir / "queries.txt"),
        "trending_day": ("/papers/trending?window=day", None),
        "trending_week": ("/papers/trending?window=week", None),
        "trending_month": ("/papers/trending?window=month", None),
    }
    only = set(args.only.split(",")) if args.only else set(cases)
    if multi:  # several hosts and/or PostgreSQL: bench/web_hosts.py runs the servers and the load
        import web_hosts

        try:
            multi_out = web_hosts.run_engines(args, db, cases, only, sample, queries)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        results = multi_out.pop("results")
        if args.prepare_only:
            print(json.dumps(multi_out["engines"], indent=2))
            return
    else:
        try:
            results = serve_one(args, db, cases, only, sample, queries)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
    out = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
           "papers": n_papers, "db": str(db), "embed_model": os.environ.get("PAPERWIRE_EMBED_MODEL", "minilm"), "workers": args.workers, "connections": str(args.connections), "duration_s": args.duration,
           "load_generator": "wrk (separate process, 1 thread)", "results": results}
    if multi:
        out.update(multi_out)
    if built:
        out["build"] = built
    if signals_added:
        out["trending_signals"] = signals_added
    if cold:
        out["trending_cold"] = cold
    results_file = args.out
    results_file.parent.mkdir(parents=True, exist_ok=True)
    if args.only and results_file.exists():  # a partial run updates its cases, keeps the others
        try:
            previous = json.loads(results_file.read_text())
            if previous.get("papers") == n_papers:
                out["results"] = {**previous.get("results", {}), **results}
        except ValueError:
            pass
    results_file.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {results_file}")


if __name__ == "__main__":
    main()
