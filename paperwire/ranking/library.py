"""Import a reader's library (BibTeX, RIS, Zotero CSV export, or a plain list of arXiv ids /
DOIs) as positive examples of a profile.

Each entry is matched to a stored paper by, in order: arXiv id (eprint field, arXiv URL, arXiv
DOI 10.48550/arXiv.X, 'arXiv:X' in journal/extra/notes), DOI, then title (normalised; exact,
else the most similar candidate with difflib ratio >= TITLE_THRESHOLD). Entries that match no
paper are reported, not guessed. Parsing problems raise LibraryError naming the position;
the profile is written in one transaction, so a failed import changes nothing.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from paperwire.store import profiles
from paperwire.text import canonical_id, display_text, strip_accents

TITLE_THRESHOLD = 0.9
FORMATS = ("bibtex", "ris", "zotero_csv", "ids")

_ARXIV_NEW = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_ARXIV_OLD = re.compile(r"\b([a-z][a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?\b")
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>]+)", re.I)
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.I)


class LibraryError(ValueError):
    """The file cannot be read as the given format; the message names where and why."""


@dataclass
class Entry:
    position: str
    title: str = ""
    arxiv_id: str | None = None
    doi: str | None = None


@dataclass
class ImportReport:
    entries: int = 0
    matched: dict[str, str] = field(default_factory=dict)  # position -> paper id
    how: dict[str, int] = field(default_factory=lambda: {"arxiv_id": 0, "doi": 0, "title": 0})
    unmatched: list[Entry] = field(default_factory=list)
    added: int = 0

    def __str__(self) -> str:
        return (f"read {self.entries} entries, matched {len(self.matched)} "
                f"(arXiv id {self.how['arxiv_id']}, DOI {self.how['doi']}, title {self.how['title']}), "
                f"unmatched {len(self.unmatched)}, newly added {self.added}")


# -- identifiers and titles --------------------------------------------------------------------

def find_arxiv_id(*texts: str | None) -> str | None:
    for t in texts:
        if not t:
            continue
        m = _ARXIV_DOI.match(t.strip())
        if m:
            return canonical_id(m.group(1))
        direct = canonical_id(t.strip())
        if direct:
            return direct
        if "arxiv" in t.lower():
            m = _ARXIV_NEW.search(t) or _ARXIV_OLD.search(t)
            if m:
                return canonical_id(m.group(1))
    return None


def clean_doi(raw: str | None) -> str | None:
    if not raw:
        return None
    s = raw.strip()
    s = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", s, flags=re.I)
    m = _DOI.match(s)
    return m.group(1).rstrip(".,;").lower() if m else None


def norm_title(t: str) -> str:
    t = strip_accents(display_text(t.replace("{", "").replace("}", ""))).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", t).split())


# -- parsers -----------------------------------------------------------------------------------

def parse_bibtex(text: str, name: str = "library.bib") -> list[Entry]:
    import bibtexparser

    lib = bibtexparser.parse_string(text)
    if lib.failed_blocks and not lib.entries:
        blk = lib.failed_blocks[0]
        raise LibraryError(f"{name}:line {getattr(blk, 'start_line', 0) + 1}: not a BibTeX entry "
                           f"({type(blk).__name__})")
    out = []
    for e in lib.entries:
        f = {k.lower(): str(v.value) for k, v in e.fields_dict.items()}
        prefix = (f.get("archiveprefix") or f.get("eprinttype") or "").lower()
        eprint = f.get("eprint") if (prefix == "arxiv" or not prefix) else None
        doi = clean_doi(f.get("doi"))
        arxiv = find_arxiv_id(eprint, doi, f.get("url"), f.get("journal"), f.get("note"), f.get("howpublished"))
        out.append(Entry(f"{name}:line {e.start_line + 1} ({e.key})", f.get("title", ""), arxiv, doi))
    return out


def parse_ris(text: str, name: str = "library.ris") -> list[Entry]:
    import rispy

    try:
        records = rispy.loads(text)
    except Exception as exc:  # rispy raises plain IOError/ValueError on malformed input
        raise LibraryError(f"{name}: not a RIS file ({exc})") from None
    out = []
    for i, r in enumerate(records, 1):
        title = r.get("title") or r.get("primary_title") or ""
        urls = r.get("urls") or []
        doi = clean_doi(r.get("doi"))
        notes = " ".join(r.get("notes") or [])
        arxiv = find_arxiv_id(doi, *urls, r.get("journal_name"), r.get("secondary_title"), notes, r.get("note"),
                              r.get("number"), r.get("accession_number"))
        out.append(Entry(f"{name}:record {i}", title, arxiv, doi))
    return out


def parse_zotero_csv(text: str, name: str = "library.csv") -> list[Entry]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "Title" not in reader.fieldnames:
        raise LibraryError(f"{name}: not a Zotero CSV export (no 'Title' column in the header)")
    out = []
    for i, row in enumerate(reader, 2):
        doi = clean_doi(row.get("DOI"))
        # Zotero keeps arXiv ids in "Extra" ("arXiv: 2501.01234"), "Archive ID"/"Report Number"
        # for preprints, or only in the URL
        arxiv = find_arxiv_id(doi, row.get("Url"), row.get("Extra"), row.get("Archive ID"),
                              row.get("Report Number"), row.get("Number"), row.get("Publication Title"))
        out.append(Entry(f"{name}:line {i}", row.get("Title") or "", arxiv, doi))
    return out


def parse_id_list(text: str, name: str = "ids.txt") -> list[Entry]:
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        doi = clean_doi(s)
        arxiv = find_arxiv_id(doi) if doi else find_arxiv_id(s)
        if not arxiv and not doi:
            raise LibraryError(f"{name}:line {i}: neither an arXiv id nor a DOI: {s[:80]!r}")
        out.append(Entry(f"{name}:line {i}", "", arxiv, doi))
    return out


PARSERS = {"bibtex": parse_bibtex, "ris": parse_ris, "zotero_csv": parse_zotero_csv, "ids": parse_id_list}


def detect_format(name: str, text: str) -> str:
    ext = Path(name).suffix.lower()
    if ext in (".bib", ".bibtex"):
        return "bibtex"
    if ext in (".ris", ".nbib"):
        return "ris"
    head = text.lstrip("\ufeff").lstrip()[:2000]
    if ext == ".csv" or head.startswith('"Key","Item Type"'):
        return "zotero_csv"
    if head.startswith("@"):
        return "bibtex"
    if re.match(r"^TY  - ", head):
        return "ris"
    return "ids"


def read_library(path: str | Path, fmt: str | None = None) -> list[Entry]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LibraryError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    fmt = fmt or detect_format(path.name, text)
    if fmt not in PARSERS:
        raise LibraryError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    entries = PARSERS[fmt](text, path.name)
    if not entries:
        raise LibraryError(f"{path.name}: no entries found (read as {fmt})")
    return entries


# -- matching ----------------------------------------------------------------------------------

def match_entries(store, entries: list[Entry]) -> ImportReport:
    rep = ImportReport(entries=len(entries))
    have = profiles.existing_ids(store, [e.arxiv_id for e in entries if e.arxiv_id])
    by_doi = profiles.ids_by_doi(store, [e.doi for e in entries if e.doi])
    for e in entries:
        if e.arxiv_id and e.arxiv_id in have:
            rep.matched[e.position] = e.arxiv_id
            rep.how["arxiv_id"] += 1
        elif e.doi and e.doi in by_doi:
            rep.matched[e.position] = by_doi[e.doi]
            rep.how["doi"] += 1
        elif e.title and (pid := match_title(store, e.title)):
            rep.matched[e.position] = pid
            rep.how["title"] += 1
        else:
            rep.unmatched.append(e)
    return rep


def match_title(store, title: str) -> str | None:
    want = norm_title(title)
    if len(want) < 8:  # too short to identify a paper
        return None
    cands = profiles.title_candidates(store, want.split())
    best, best_ratio = None, 0.0
    for pid, cand in cands:
        ratio = difflib.SequenceMatcher(None, want, norm_title(cand)).ratio()
        if ratio > best_ratio or (ratio == best_ratio and best is not None and pid < best):
            best, best_ratio = pid, ratio
    return best if best_ratio >= TITLE_THRESHOLD else None


def import_library(store, profile_key: str, path: str | Path, fmt: str | None = None) -> ImportReport:
    """Read, match and add the matched papers to the profile as 'import' positives."""
    profiles.check_key(profile_key)
    entries = read_library(path, fmt)
    rep = match_entries(store, entries)
    rep.added = profiles.add_items(store, profile_key, rep.matched.values(), "import", source=Path(path).name)
    return rep
