"""arXiv's own ``.abs`` metadata files (as in arXiv/arxiv-browse): one paper each, with every
version's date and size.

    \\\\
    arXiv:hep-th/9108002
    From: Name <e-mail>
    Date: Thu, 15 Aug 1991 16:35:28 GMT   (13kb)
    Date (revised v2): Tue, 8 Sep 1998 18:01:31 GMT   (38kb)

    Title: ...            (continuation lines are indented)
    Authors: ...
    Categories: hep-th math.QA
    Comments / Journal-ref / DOI / Report-no / License: ...
    \\\\
      the abstract
    \\\\

A source may be one ``.abs`` file, a folder of them, or a ``.tar`` / ``.tar.gz`` of them;
positions are the files' numbers (name order in a folder, archive order in a tar), so an
interrupted import resumes.
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path
from typing import Iterator

from paperwire.ingest.snapshot import rfc2822_to_iso
from paperwire.models import Paper, Problem, Version
from paperwire.text import display_text, split_arxiv_id, split_authors

_DATE_RE = re.compile(r"^Date(?: \(revised v(\d+)\))?:\s*(.*?)\s*(?:\(([^)]*)\))?\s*$")


def abs_to_paper(text: str) -> Paper:
    """The text of one .abs file -> Paper (ValueError with the reason when unusable)."""
    if not text.strip():
        raise ValueError("empty file")
    parts = re.split(r"^\\\\[ \t]*$", text, flags=re.M)
    if len(parts) < 3:
        raise ValueError("not an .abs file (no \\\\ separated header)")
    header, abstract = parts[1], parts[2]
    fields: dict[str, str] = {}
    versions: list[Version] = []
    key = None
    submitter = None
    raw_id = None
    for line in header.splitlines():
        if not line.strip():
            key = None
            continue
        if line[:1] in " \t" and key:
            fields[key] += " " + line.strip()
            continue
        m = _DATE_RE.match(line)
        if m:
            num = int(m.group(1)) if m.group(1) else 1
            size = (m.group(3) or "").split(",")[0].strip() or None
            versions.append(Version(num, rfc2822_to_iso(m.group(2)), size))
            key = None
            continue
        k, sep, v = line.partition(":")
        if not sep:
            continue
        k = k.strip()
        if k in ("arXiv", "Paper"):
            raw_id = v.strip()
        elif k == "From":
            submitter = re.sub(r"\s*<[^>]*>\s*$", "", v).strip() or None
        else:
            key = k
            fields[k] = v.strip()
    parsed = split_arxiv_id(raw_id or "")
    if not parsed:
        raise ValueError(f"missing or invalid arXiv id {raw_id!r}")
    title = fields.get("Title", "")
    if not title:
        raise ValueError(f"{parsed[0]}: missing title")
    versions.sort(key=lambda v: v.number)
    return Paper(
        id=parsed[0], title=title, abstract=abstract.strip("\n").strip(), authors=split_authors(fields.get("Authors", "")),
        categories=fields.get("Categories", "").split(), comments=fields.get("Comments"),
        journal_ref=fields.get("Journal-ref"), doi=fields.get("DOI"), license=fields.get("License"),
        submitter=display_text(submitter) if submitter else None, versions=versions,
    )


def _members(path: Path) -> Iterator[tuple[str, bytes | Exception]]:
    """(name, bytes) of each .abs file in name order; a damaged archive ends with the exception."""
    if path.is_dir():
        for f in sorted(path.rglob("*.abs")):
            yield str(f.relative_to(path)), f.read_bytes()
        return
    if path.name.endswith(".abs"):
        yield path.name, path.read_bytes()
        return
    try:
        # streamed in archive order (a fixed order too), so a cut-off archive keeps what came before
        with tarfile.open(path, "r|*") as tar:
            for m in tar:
                if m.isfile() and m.name.endswith(".abs"):
                    fh = tar.extractfile(m)
                    yield m.name, fh.read() if fh else b""
    except (tarfile.TarError, EOFError, OSError) as exc:
        yield "", exc


def parse_abs(path: str | Path, start: int = 0) -> Iterator[tuple[int, Paper | Problem]]:
    path = Path(path)
    n = 0
    for name, data in _members(path):
        n += 1
        if isinstance(data, Exception):
            yield n, Problem(f"{path.name}", f"archive is damaged or truncated ({data})")
            return
        if n <= start:
            continue
        try:
            yield n, abs_to_paper(data.decode("utf-8", errors="replace"))
        except ValueError as exc:
            yield n, Problem(f"{path.name}:{name}", str(exc))
