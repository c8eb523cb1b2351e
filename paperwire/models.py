"""Plain dataclasses shared by every layer. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Version:
    number: int
    created: str | None = None  # ISO 8601 UTC
    size: str | None = None  # as arXiv reports it, e.g. "120kb"


@dataclass
class Link:
    url: str
    kind: str  # github | gitlab | hf_model | hf_dataset | hf_space | project
    origin: str = "text"  # text: found in the abstract/comments; hf: reported by Hugging Face


CODE_KINDS = ("github", "gitlab")  # the link kinds that are code repositories


@dataclass
class Paper:
    """One paper as a source reports it, or as the store holds it.

    ``id`` is canonical: an arXiv id without version ("2501.01234", "hep-th/9901001"),
    or "<collection>:<n>" for imported evaluation corpora.
    """

    id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # primary first
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    license: str | None = None
    submitter: str | None = None
    versions: list[Version] = field(default_factory=list)
    published: str | None = None  # first version, ISO UTC
    updated: str | None = None  # latest version, ISO UTC
    listed: str | None = None  # YYYY-MM-DD the paper appeared in a listing
    links: list[Link] = field(default_factory=list)
    # filled by the store
    title_display: str = ""
    abstract_display: str = ""
    sources: list[str] = field(default_factory=list)
    hf_upvotes: int | None = None
    hf_featured_on: str | None = None
    hidden: bool = False
    # The source record's own fingerprint where its parser has one (a hash of the JSON line,
    # paperwire.ingest.snapshot), else None. Not a field: it is not compared, stored or shown.
    fingerprint = None

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None

    @property
    def latest_version(self) -> int | None:
        return max((v.number for v in self.versions), default=None)


@dataclass
class HFEntry:
    """A Hugging Face daily-papers observation: the paper plus community data."""

    paper: Paper
    featured_on: str | None  # YYYY-MM-DD
    upvotes: int | None
    submitted_by: str | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    organization: dict | None = None  # {"name", "fullname", "avatar", ...} as Hugging Face gives it
    num_comments: int | None = None
    item: dict | None = None  # the API item as received: every field, also those not used yet


@dataclass
class Problem:
    """A record that could not be read: where it was, and why."""

    position: str  # e.g. "records.jsonl.gz:line 17" or "page 3 record 2"
    reason: str


@dataclass
class Hit:
    paper_id: str
    score: float
    title: str = ""
    snippet: str = ""  # HTML-safe, with <mark> around matches
    parts: dict = field(default_factory=dict)  # e.g. {"lexical_rank": 1, "semantic_rank": 4}
