"""Polite HTTP for harvesting: a delay between requests, bounded retries, 503 Retry-After honoured.

arXiv answers a busy OAI-PMH or API server with ``503`` and a ``Retry-After`` header
(https://info.arxiv.org/help/api/tou.html asks for one request every 3 seconds); we wait what
it says, a bounded number of times, instead of hammering it or giving up on the first try.
"""

from __future__ import annotations

import logging
import socket
import time
from email.utils import parsedate_to_datetime
from typing import Callable

import httpx

log = logging.getLogger(__name__)


class HarvestError(RuntimeError):
    """A source could not be read (after retries); the message says what and where."""


def _retry_after(resp: httpx.Response, default: float) -> float:
    raw = resp.headers.get("Retry-After")
    if not raw:
        return default
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:  # an HTTP date
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError):
        return default


def unrecoverable(exc: BaseException) -> str | None:
    """Why retrying a failed request cannot help, or None when a retry might succeed.

    A host name that does not resolve (no network, no DNS, a misspelt host) or a malformed
    URL fails the same way on every try: waiting out a retry schedule only delays the error
    (30-90 s offline). Timeouts, resets and refused connections may pass, so they are retried."""
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return f"bad URL ({exc})"
    seen = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return f"cannot resolve the host name ({seen.strerror or seen}); is the network up?"
        seen = seen.__cause__ or seen.__context__
    return None


class PoliteClient:
    """GET with a minimum delay between requests and bounded retries on 503/5xx/transport errors."""

    def __init__(self, delay: float = 3.0, timeout: float = 60.0, max_retries: int = 5, max_wait: float = 600.0,
                 client: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep):
        self.delay = delay
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.sleep = sleep
        self._own = client is None
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=True,
                                             headers={"User-Agent": "paperwire (metadata harvester)"})
        self._last = 0.0
        self.requests = 0

    def close(self) -> None:
        if self._own:
            self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def get(self, url: str, params: dict | None = None) -> httpx.Response:
        attempt = 0
        while True:
            wait = self._last + self.delay - time.monotonic()
            if wait > 0 and self.requests:
                self.sleep(wait)
            self._last = time.monotonic()
            self.requests += 1
            try:
                resp = self.client.get(url, params=params)
            except httpx.TransportError as exc:
                permanent = unrecoverable(exc)
                if permanent:
                    raise HarvestError(f"{url}: {permanent}") from exc
                problem, pause = f"{exc.__class__.__name__}: {exc}", max(self.delay, 1.0) * 2 ** attempt
            else:
                if resp.status_code == 503 or resp.status_code >= 500 or resp.status_code == 429:
                    problem = f"HTTP {resp.status_code}"
                    pause = _retry_after(resp, max(self.delay, 1.0) * 2 ** attempt)
                else:
                    return resp
            attempt += 1
            if attempt > self.max_retries:
                raise HarvestError(f"{url}: giving up after {attempt} tries ({problem})")
            pause = min(pause, self.max_wait)
            log.warning("%s: %s, retrying in %.0f s (try %d of %d)", url, problem, pause, attempt, self.max_retries)
            self.sleep(pause)
