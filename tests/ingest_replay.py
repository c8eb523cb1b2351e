"""A tiny local HTTP server that replays recorded responses, for the harvester tests.

The harvesters talk real HTTP (httpx) to 127.0.0.1; each test decides what the "remote"
answers with a ``route(path, query) -> (status, headers, body)`` function, and can read
back every request it got.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ATOM_RAW = Path(__file__).parent / "data" / "arxiv-api-responses" / "atom_arxiv_py" / "raw_json"
OAI_DIR = Path(__file__).parent / "data" / "arxiv-api-responses" / "oaipmh_hepcrawl"


class Replay:
    def __init__(self, route):
        self.route = route
        self.requests: list[tuple[str, dict[str, str]]] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                replay.requests.append((parts.path, query))
                try:
                    status, headers, body = replay.route(parts.path, query)
                except Exception as exc:  # a test's route failing shows up as a 500, like a real server
                    status, headers, body = 500, {}, f"route error: {exc}".encode()
                if isinstance(body, str):
                    body = body.encode("utf-8")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def atom_recordings() -> dict[tuple[str, str, str, str], tuple[int, str]]:
    """The recorded arXiv API answers, keyed by (search_query, id_list, start, max_results)."""
    out = {}
    for f in sorted(ATOM_RAW.glob("*.json")):
        rec = json.loads(f.read_text())
        q = {k: v[0] for k, v in parse_qs(urlsplit(rec["url"]).query, keep_blank_values=True).items()}
        out[(q.get("search_query", ""), q.get("id_list", ""), q["start"], q["max_results"])] = (rec["status_code"], rec["body"])
    return out


def atom_route(recordings):
    def route(path, q):
        key = (q.get("search_query", ""), q.get("id_list", ""), q.get("start", "0"), q.get("max_results", "10"))
        if key not in recordings:
            return 404, {}, f"no recording for {key}"
        status, body = recordings[key]
        return status, {"Content-Type": "application/atom+xml"}, body
    return route


def with_token(xml: str, token: str | None, cursor: int, size: int) -> str:
    """A recorded ListRecords page with a resumptionToken element (the recordings are single pages)."""
    tok = (f'<resumptionToken cursor="{cursor}" completeListSize="{size}">{token}</resumptionToken>' if token
           else f'<resumptionToken cursor="{cursor}" completeListSize="{size}"/>')
    return xml.replace("</ListRecords>", tok + "\n</ListRecords>")
