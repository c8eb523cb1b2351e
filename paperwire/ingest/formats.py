"""The file formats an import reads, and how a file's format is told from its first bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from paperwire.ingest.abs import parse_abs
from paperwire.ingest.arxiv_api import parse_atom_file
from paperwire.ingest.files import peek
from paperwire.ingest.hf import parse_hf_file
from paperwire.ingest.importer import Parsed
from paperwire.ingest.listing import parse_listing
from paperwire.ingest.oaipmh import parse_oai_file
from paperwire.ingest.smart import parse_smart
from paperwire.ingest.snapshot import parse_snapshot

PARSERS: dict[str, Callable[..., Parsed]] = {
    "snapshot": parse_snapshot,
    "listing": parse_listing,
    "hf": parse_hf_file,
    "oai": parse_oai_file,
    "arxiv_api": parse_atom_file,
    "smart": parse_smart,
    "abs": parse_abs,
}
FORMATS = tuple(PARSERS)


def parser_for(fmt: str) -> Callable[..., Parsed]:
    """``parse(path, start=0)`` of the format: ``(position, item)`` pairs from position `start` on."""
    try:
        return PARSERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}") from None


def detect_format(path: str | Path) -> str:
    """Guess a file's format from its first bytes (after gunzip)."""
    name = Path(path).name.lower()
    if Path(path).is_dir() or name.endswith((".abs", ".tar", ".tar.gz", ".tgz")):
        return "abs"  # arXiv .abs files: one, a folder of them, or an archive of them
    head = peek(path, 4096).lstrip()
    if head.startswith(".I "):
        return "smart"
    if head.startswith("<"):
        if "OAI-PMH" in head[:1000]:
            return "oai"
        if "<feed" in head:
            return "arxiv_api"
        raise ValueError(f"{path}: XML that is neither OAI-PMH nor an Atom feed")
    first = head.split("\n", 1)[0]
    if head.startswith("[") or (head.startswith("{") and (first.rstrip().endswith("{") or '"url"' in head[:300] and '"publication_date"' in head or '"paper"' in first[:20])):
        return "hf"
    if '"versions"' in first or '"update_date"' in first or '"authors_parsed"' in first:
        return "snapshot"
    if '"listing_date"' in first or '"summary"' in first:
        return "listing"
    if head.startswith("{"):
        return "hf"
    raise ValueError(f"{path}: cannot tell the format; pass --format ({', '.join(FORMATS)})")
