"""A local HTTP server replaying GitHub-shaped responses (tests/data/github): 200 with ETag,
304 on If-None-Match, 403 rate limits, 404. Used by the star-refresh and daily-job tests."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from repo_paths import DATA

GH = DATA / "github"


class Replay:
    """A GitHub stand-in: per repo path, a list of scripted answers consumed in order
    (the last one repeats). It answers 304 when If-None-Match matches the ETag it handed out."""

    def __init__(self):
        self.script: dict[str, list[dict]] = {}
        self.requests: list[tuple[str, dict]] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                replay.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                answers = replay.script.get(self.path) or [{"status": 404, "body": (GH / "not_found_404.json").read_text()}]
                ans = answers.pop(0) if len(answers) > 1 else answers[0]
                status, headers, body = ans["status"], dict(ans.get("headers", {})), ans.get("body", "")
                etag = ans.get("etag")
                if etag and self.headers.get("If-None-Match") == etag:
                    status, body = 304, ""
                if etag:
                    headers["ETag"] = etag
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def repo_body(full_name: str, stars: int) -> str:
    data = json.loads((GH / "repo_200.json").read_text())
    owner, name = full_name.split("/")
    data.update(full_name=full_name, name=name, stargazers_count=stars, watchers_count=stars, watchers=stars)
    data["owner"]["login"] = owner
    return json.dumps(data)


def ok(full_name, stars, etag=None, remaining=59, reset=None):
    reset = int(time.time()) + 3600 if reset is None else reset
    return {"status": 200, "body": repo_body(full_name, stars), "etag": etag,
            "headers": {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": str(remaining),
                        "X-RateLimit-Reset": str(reset), "X-RateLimit-Used": str(60 - remaining)}}


def rate_limited(reset_in: int):
    return {"status": 403, "body": (GH / "rate_limited_403.json").read_text(),
            "headers": {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": str(int(time.time()) + reset_in), "X-RateLimit-Used": "60"}}
