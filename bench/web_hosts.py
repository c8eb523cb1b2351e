"""bench/web.py with several app hosts and either engine (``--engines sqlite,postgresql --hosts 2``).

Each host is its own `paperwire serve` process (``--workers`` each) on its own port with its own
index folder (PAPERWIRE_DATA_DIR), the same secret, over one database, as docs/deployment.md
describes; beside each runs `paperwire store follow` (its folder following the store's change
sequence every 2 s), as on a real host.
  - PostgreSQL: the cluster of bench/web_pg.py, filled once from the SQLite bench store with
    `paperwire store copy`. The first host's tantivy folder is built from the database as an
    empty host builds it (`paperwire store follow --once`, timed and recorded); the others get a
    copy of that folder, then catch up with `store follow --once` (seconds).
  - SQLite: with two or more hosts, a copy of the bench store (<db>-hosts.db, made once: the
    hosts write view counts and the check's vote) shared by the hosts on this machine; each host's
    tantivy folder is a copy of the bench store's, caught up with `store follow --once`.
Folders live under var/bench/web-hosts/ and are reused by later runs (``--fresh-hosts`` builds
the first host's from empty again).

Before timing, the run checks the setup: every host serves the same front page ordering, and a
vote taken by host A shows on host B's next request (its page cache dropped through the
database), withdrawn through B shows on A. The load is spread evenly: one `wrk` per host, each
with its share of the connections, started together; the latency percentiles are merged from
each wrk's quantiles weighted by its requests, the throughputs added.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOSTS_ROOT = ROOT / "var" / "bench" / "web-hosts"
SECRET = "bench-web-hosts-" + "s" * 32  # one secret for every host, as production requires
QUANTILES = 400  # per wrk: p0.25, p0.5, ... p100 (the merge's resolution)

LUA = r"""
local items = {}
local prefix = os.getenv("WRK_PREFIX") or "/"
local file = os.getenv("WRK_ITEMS")
if file then for line in io.lines(file) do items[#items + 1] = line end end
init = function(args) math.randomseed(tonumber(os.getenv("WRK_SEED") or "1")) end
request = function()
  if #items == 0 then return wrk.format("GET", prefix) end
  return wrk.format("GET", prefix .. items[math.random(#items)])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.3f %d\n", summary.requests, summary.duration,
    summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
  local q = {}
  for i = 1, QUANTILES do q[#q + 1] = tostring(latency:percentile(100 * i / QUANTILES)) end
  io.write("QUANT " .. table.concat(q, " ") .. "\n")
end
""".replace("QUANTILES", str(QUANTILES))


@dataclass
class Host:
    url: str
    proc: subprocess.Popen
    follower: subprocess.Popen | None
    data_dir: Path


def host_env(db: str, data_dir: Path, page_cache_seconds: float | None) -> dict:
    env = dict(os.environ, PAPERWIRE_DB=db, PAPERWIRE_DATA_DIR=str(data_dir), PAPERWIRE_SECRET_KEY=SECRET,
               PAPERWIRE_RATE_LIMIT_FACTOR="0")
    if page_cache_seconds is not None:
        env["PAPERWIRE_PAGE_CACHE_SECONDS"] = str(page_cache_seconds)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) used so far by process `root` and its descendants (the
    server's workers), from /proc: divided by the requests served, the work a request costs,
    which a loaded machine delays but does not change as much as the latency."""
    parents, times = {}, {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(d)] = int(fields[1])
            times[int(d)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    tree, grew = {root}, True
    while grew:
        more = {p for p, pp in parents.items() if pp in tree} - tree
        grew, tree = bool(more), tree | more
    return sum(times.get(p, 0.0) for p in tree)


# -- the database and each host's folders ----------------------------------------------------------
def sqlite_hosts_copy(db: Path) -> Path:
    """A copy of the bench store for the hosts to write to (view counts, the check's vote),
    made once with SQLite's backup API from a read-only connection; the original is untouched."""
    copy = db.with_name(db.name.split(".")[0] + "-hosts.db")
    if not copy.exists():
        print(f"copying {db} to {copy} (once) ...", file=sys.stderr, flush=True)
        part = copy.with_suffix(".part")
        src, dst = sqlite3.connect(f"file:{db}?mode=ro", uri=True), sqlite3.connect(part)
        src.backup(dst, pages=65536)
        dst.close()
        src.close()
        os.replace(part, copy)
    return copy


def prepare_folders(engine: str, db: str, base_db: Path, n: int, fresh: bool) -> tuple[list[Path], dict]:
    """Each host's own index folder, ready (see the module docstring); what building them took."""
    root = HOSTS_ROOT / f"{engine}-{base_db.name.split('.')[0]}"
    dirs = [root / f"host-{chr(ord('a') + i)}" for i in range(n)]
    info: dict = {}
    if fresh:
        shutil.rmtree(root, ignore_errors=True)
    first = dirs[0]
    if not (first / "lexical-tantivy").exists():
        first.mkdir(parents=True, exist_ok=True)
        seed = Path(str(base_db) + ".d") / "lexical-tantivy"
        if engine == "sqlite" and seed.exists():
            shutil.copytree(seed, first / "lexical-tantivy")
            info["host_a"] = f"tantivy folder copied from {seed}"
        else:  # an empty host: built from the database, as `store follow` does on a new host
            t = time.perf_counter()
            out = follow_once(db, first)
            info["host_a"] = {"built_from_database_seconds": round(time.perf_counter() - t, 1), "follow": out,
                              "niced": True, "load_average": [round(x, 2) for x in os.getloadavg()]}
            (root / "built.json").write_text(json.dumps(info["host_a"]) + "\n")
    elif (root / "built.json").exists():  # built by an earlier run: what it took then
        info["host_a"] = json.loads((root / "built.json").read_text())
    for d in dirs[1:]:  # (a store under fast_lexical_above has no tantivy folder: nothing to copy)
        if (first / "lexical-tantivy").exists() and not (d / "lexical-tantivy").exists():
            d.mkdir(parents=True, exist_ok=True)
            shutil.copytree(first / "lexical-tantivy", d / "lexical-tantivy")
            info[d.name] = "tantivy folder copied from host-a's"
    for d in dirs:  # each host catches up with the store before it serves
        t = time.perf_counter()
        out = follow_once(db, d)
        info.setdefault("catch_up", {})[d.name] = {"seconds": round(time.perf_counter() - t, 1), "follow": out}
    return dirs, info


def follow_once(db: str, data_dir: Path, niced: bool = True) -> str:
    """`paperwire store follow --once` as this host (niced: preparing, not measuring)."""
    cmd = [sys.executable, "-m", "paperwire", "store", "follow", "--once"]
    out = subprocess.run((["nice", "-n", "10"] if niced else []) + cmd, env=host_env(db, data_dir, None),
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"store follow --once failed: {out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


# -- the hosts ---------------------------------------------------------------------------------------
def start_hosts(db: str, dirs: list[Path], workers: int, page_cache_seconds: float | None) -> list[Host]:
    hosts = []
    for d in dirs:
        port = free_port()
        env = host_env(db, d, page_cache_seconds)
        log = open(d / "serve.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "paperwire", "serve", "--port", str(port), "--workers",
                                 str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=log)
        follower = subprocess.Popen([sys.executable, "-m", "paperwire", "store", "follow"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=open(d / "follow.log", "wb"))
        hosts.append(Host(f"http://127.0.0.1:{port}", proc, follower, d))
    import httpx

    deadline = time.time() + 600
    for h in hosts:
        while True:
            if h.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("a host did not start: " + (h.data_dir / "serve.log").read_text(errors="replace")[-3000:])
            try:
                if httpx.get(h.url + "/api/openapi.json", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
    return hosts


def stop_hosts(hosts: list[Host]) -> None:
    for h in hosts:
        for p in (h.proc, h.follower):
            if p and p.poll() is None:
                p.send_signal(signal.SIGINT)
    for h in hosts:
        for p in (h.proc, h.follower):
            if p:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()


# -- the check before timing -------------------------------------------------------------------------
def _front_ids(html: str) -> list[str]:
    seen: dict[str, None] = {}
    for pid in re.findall(r'href="/papers/(\d{4}\.\d{4,5})"', html):
        seen.setdefault(pid, None)
    return list(seen)


def _count(html: str) -> int:
    return int(re.search(r'<span class="count">(\d+)</span>', html).group(1))


def check_hosts(hosts: list[Host], db: str) -> dict:
    """Every host serves the same front page ordering; a vote through A shows on B's next
    request and its withdrawal through B on A's (both had the page cached). Raises if not."""
    import httpx

    from paperwire.store import open_store, users

    fronts = [_front_ids(httpx.get(h.url + "/", timeout=60).text) for h in hosts]
    if not fronts[0] or any(f != fronts[0] for f in fronts):
        raise AssertionError(f"the hosts serve different front pages: {[f[:10] for f in fronts]}")
    store = open_store(db)
    try:
        user = users.get_user_by_name(store, "benchcheck") or users.create_user(
            store, "benchcheck@bench.example", "benchcheck", password_hash=users.hash_password("bench-password"))
        token = users.create_token(store, user.id, "bench check", days=1)
        voted = users.upvoted_by(store, user.id, fronts[0])
        pid = next(p for p in fronts[0] if p not in voted)
    finally:
        store.close()
    a, b = hosts[0], hosts[1 % len(hosts)]
    auth = {"Authorization": f"Bearer {token}"}
    before = [_count(httpx.get(f"{h.url}/papers/{pid}", timeout=60).text) for h in (a, b)]
    r = httpx.post(f"{a.url}/api/v1/papers/{pid}/upvote", headers=auth, timeout=60)
    r.raise_for_status()
    on_b = _count(httpx.get(f"{b.url}/papers/{pid}", timeout=60).text)
    r = httpx.delete(f"{b.url}/api/v1/papers/{pid}/upvote", headers=auth, timeout=60)
    r.raise_for_status()
    on_a = _count(httpx.get(f"{a.url}/papers/{pid}", timeout=60).text)
    if on_b != before[1] + 1 or on_a != before[0]:
        raise AssertionError(f"paper {pid}: {before} before, {on_b} on B after A's vote (want {before[1] + 1}), "
                             f"{on_a} on A after B's withdrawal (want {before[0]})")
    return {"front_ids_same": True, "front_ids": len(fronts[0]), "vote_paper": pid, "count_before": before[0],
            "on_b_after_vote_on_a": on_b, "on_a_after_unvote_on_b": on_a}


# -- the load ----------------------------------------------------------------------------------------
def wrk_hosts(urls: list[str], prefix: str, items: Path | None, duration: int, connections: int) -> dict:
    """One wrk per host, started together, the connections split evenly; merged figures."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(LUA)
        script = fh.name
    share = [connections // len(urls) + (1 if i < connections % len(urls) else 0) for i in range(len(urls))]
    procs = []
    for i, (url, c) in enumerate(zip(urls, share)):
        if c == 0:
            continue
        env = dict(os.environ, WRK_PREFIX=prefix, WRK_SEED=str(101 + i))
        if items:
            env["WRK_ITEMS"] = str(items)
        procs.append(subprocess.Popen(["wrk", "-t", "1", "-c", str(c), "-d", f"{duration}s", "--timeout", "10s",
                                       "-s", script, url], stdout=subprocess.PIPE, text=True, env=env))
    outs = [p.communicate()[0] for p in procs]
    os.unlink(script)
    per, samples = [], []
    for out in outs:
        m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) (\d+)", out)
        q = re.search(r"QUANT ([\d ]+)", out)
        if not m or not q:
            raise RuntimeError(out)
        n, _, rps, errors = int(m.group(1)), m.group(2), float(m.group(3)), int(m.group(4))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        per.append({"requests": n, "req_per_s": round(rps, 1), "errors": errors,
                    "non_2xx": int(non2xx.group(1)) if non2xx else 0})
        samples += [(int(v), n / QUANTILES) for v in q.group(1).split()]
    samples.sort()
    total = sum(w for _, w in samples)

    def pct(p: float) -> float:
        acc = 0.0
        for v, w in samples:
            acc += w
            if acc >= p / 100 * total - 1e-9:
                return v / 1000
        return samples[-1][0] / 1000

    return {"p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99), "requests": sum(x["requests"] for x in per),
            "req_per_s": round(sum(x["req_per_s"] for x in per), 1), "errors": sum(x["errors"] for x in per),
            "non_2xx": sum(x["non_2xx"] for x in per), "per_host": per}


def postgres_pid(folder: Path) -> int | None:
    try:
        return int((folder / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# -- the run -----------------------------------------------------------------------------------------
def _warm(hosts: list[Host], cases_needed: set, queries: list[str], sample: list[str]) -> None:
    """Every worker of every host warmed as bench/web.py warms its one server."""
    import httpx

    for h in hosts:
        if {"paper", "search_page", "search_api"} & cases_needed:
            for k in range(20):
                httpx.get(h.url + f"/papers?q={queries[k].replace(' ', '+')}", timeout=120)
                httpx.get(h.url + f"/papers/{sample[k]}", timeout=120)
        else:
            for k in range(20):
                httpx.get(h.url + "/", timeout=120)
                httpx.get(h.url + "/new", timeout=120)


def _db_size(engine: str, db: str) -> int:
    if engine == "sqlite":
        return round(Path(db).stat().st_size / 2**20)
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        return round(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20)


def run_engines(args, base_db: Path, cases: dict, only: set, sample: list[str], queries: list[str]) -> dict:
    """Every engine of ``args.engines`` with ``args.hosts`` hosts, one after the other in this run."""
    import web_pg

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    out: dict = {"hosts": args.hosts, "workers_per_host": args.workers, "engines": {},
                 "load_generator": f"one wrk per host (1 thread each), connections split evenly; percentiles merged "
                                   f"from {QUANTILES} quantiles per wrk weighted by requests; req/s added"}
    results: dict = {}
    tag = "" if args.page_cache_seconds is None else f"/cache{args.page_cache_seconds:g}s"
    for engine in engines:
        pg_pid = None
        if engine == "sqlite":
            db = str(sqlite_hosts_copy(base_db) if args.hosts > 1 else base_db)
        elif engine == "postgresql":
            db = web_pg.fill(base_db)
            pg_pid = postgres_pid(web_pg.FOLDER)
        else:
            sys.exit(f"unknown engine {engine!r} (sqlite, postgresql)")
        dirs, folders = prepare_folders(engine, db, base_db, args.hosts, args.fresh_hosts)
        print(f"{engine}: {args.hosts} host(s) x {args.workers} workers over {db}; folders: {folders}",
              file=sys.stderr, flush=True)
        if args.prepare_only:
            out["engines"][engine] = {"db": db, "db_mb": _db_size(engine, db), "host_folders": folders}
            continue
        hosts = start_hosts(db, dirs, args.workers, args.page_cache_seconds)
        try:
            _warm(hosts, only, queries, sample)
            check = check_hosts(hosts, db) if len(hosts) > 1 else {}
            if check:
                print(f"{engine}: check passed: {check}", file=sys.stderr, flush=True)
            time.sleep(3)

            def app_cpu() -> float:
                return sum(tree_cpu_seconds(p.pid) for h in hosts for p in (h.proc, h.follower) if p)

            for conns in [int(x) for x in str(args.connections).split(",")]:
                for name, (prefix, items) in cases.items():
                    if name not in only:
                        continue
                    cpu0, db0 = app_cpu(), tree_cpu_seconds(pg_pid) if pg_pid else 0.0
                    started = time.strftime("%H:%M:%S", time.gmtime())  # UTC: to match the database's log
                    r = wrk_hosts([h.url for h in hosts], prefix, items, args.duration, conns)
                    n = max(1, r["requests"])
                    r["server_cpu_ms_per_request"] = round((app_cpu() - cpu0) * 1000 / n, 2)
                    if pg_pid:  # the database server's own work, beside the hosts'
                        r["db_cpu_ms_per_request"] = round((tree_cpu_seconds(pg_pid) - db0) * 1000 / n, 2)
                    r["connections"], r["load_average"] = conns, [round(x, 2) for x in os.getloadavg()]
                    r["started_utc"] = started
                    if args.page_cache_seconds is not None:
                        r["page_cache_seconds"] = args.page_cache_seconds
                    results[f"{engine}/{name}@{conns}{tag}"] = r
                    print(f"{engine:<10} {name:<12} c={conns:<3} p50 {r['p50_ms']:7.1f} ms   p95 {r['p95_ms']:7.1f} ms   "
                          f"{r['req_per_s']:8.1f} req/s   ({r['requests']} requests, {r['errors']} errors, "
                          f"{r['non_2xx']} non-2xx)   app CPU {r['server_cpu_ms_per_request']:.2f} ms/req"
                          + (f"   db CPU {r['db_cpu_ms_per_request']:.2f} ms/req" if pg_pid else "")
                          + f"   load {r['load_average'][0]:.1f}", flush=True)
        finally:
            stop_hosts(hosts)
        out["engines"][engine] = {"db": db, "db_mb": _db_size(engine, db), "host_folders": folders, "check": check}
    out["results"] = results
    print_table(results, engines)
    return out


def print_table(results: dict, engines: list[str]) -> None:
    rows = sorted({k.split("/", 1)[1] for k in results}, key=lambda k: (int(k.split("@")[1].split("/")[0]), k))
    head = "case@connections".ljust(26) + "".join(f"| {e + ' p50 / p95 ms, req/s':<36}" for e in engines)
    print(head)
    for row in rows:
        cells = []
        for e in engines:
            r = results.get(f"{e}/{row}")
            cells.append(f"| {r['p50_ms']:7.1f} / {r['p95_ms']:7.1f}, {r['req_per_s']:8.1f}".ljust(38) if r else "| -".ljust(38))
        print(row.ljust(26) + "".join(cells))
