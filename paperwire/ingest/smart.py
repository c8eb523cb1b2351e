"""SMART-format test collections (CACM, CISI, ...): ``.I n`` starts a document, then sections
``.T`` title, ``.W`` abstract, ``.A`` authors (one a line, "Last, First"), ``.B`` date,
``.N`` / ``.X`` / ``.K`` / ``.C`` bookkeeping we do not need.

Documents get ids ``<collection>:<n>`` (the collection is the file name's stem, e.g.
``cacm:1``), which can never collide with arXiv ids, so evaluation corpora can live in the
same store as real papers and be judged with their own qrels.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from paperwire.ingest.files import iter_lines
from paperwire.models import Paper, Problem

_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], 1)}
_DATE_RE = re.compile(r"([A-Za-z]+)\.?,?\s+(\d{4})")


def collection_name(path: str | Path) -> str:
    name = Path(path).name
    for suffix in (".gz", ".all", ".txt", ".text"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "smart"


def _date(b: str) -> str | None:
    m = _DATE_RE.search(b or "")
    if not m:
        y = re.search(r"\b(1[89]\d\d|20\d\d)\b", b or "")
        return f"{y.group(1)}-01-01T00:00:00Z" if y else None
    month = _MONTHS.get(m.group(1).lower())
    return f"{m.group(2)}-{month or 1:02d}-01T00:00:00Z"


def _author(line: str) -> str:
    # "Perlis, A. J." -> "A. J. Perlis"
    last, sep, first = line.partition(",")
    return f"{first.strip()} {last.strip()}".strip() if sep and first.strip() else line.strip()


def _to_paper(coll: str, num: str, sections: dict[str, list[str]]) -> Paper:
    if not num.isdigit():
        raise ValueError(f"invalid document number {num!r}")
    title = " ".join(" ".join(sections.get("T", [])).split())
    abstract = "\n".join(sections.get("W", [])).strip()
    # Real collections have a few untitled documents (cacm 3193 is one); they are still judged
    # in the qrels, so keep them when they have an abstract.
    if not title and not abstract:
        raise ValueError(f"{coll}:{num}: neither title (.T) nor text (.W)")
    authors = [_author(a) for a in sections.get("A", []) if a.strip()]
    date = _date(" ".join(sections.get("B", [])))
    return Paper(id=f"{coll}:{int(num)}", title=title, abstract=abstract,
                 authors=authors, published=date, updated=date)


def parse_smart(path: str | Path, start: int = 0) -> Iterator[tuple[int, Paper | Problem]]:
    """Documents in file order; positions are document numbers in the file (1-based)."""
    coll = collection_name(path)
    name = Path(path).name
    doc_no = 0
    num: str | None = None
    line_of_doc = 0
    sections: dict[str, list[str]] = {}
    current: str | None = None

    def finish():
        if doc_no <= start or num is None:
            return None
        try:
            return doc_no, _to_paper(coll, num, sections)
        except ValueError as exc:
            return doc_no, Problem(f"{name}:line {line_of_doc}", str(exc))

    for lineno, raw in iter_lines(path):
        if isinstance(raw, Problem):
            done = finish()
            if done and isinstance(done[1], Problem):
                yield done
            yield doc_no + 1, raw  # the document cut off by the damage is not stored half-read
            return
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if line.startswith(".I ") or line == ".I":
            done = finish()
            if done:
                yield done
            doc_no += 1
            num, line_of_doc, sections, current = line[2:].strip(), lineno, {}, None
            continue
        m = re.match(r"^\.([A-Z])\s*$", line)
        if m:
            current = m.group(1)
            sections.setdefault(current, [])
            continue
        if num is None:
            if line.strip():
                yield 0, Problem(f"{name}:line {lineno}", "text before the first .I line")
            continue
        if current:
            sections[current].append(line)
    done = finish()
    if done:
        yield done
