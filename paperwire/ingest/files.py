"""Reading record files: plain or gzip, line by line, reporting (not raising on) damage."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import Iterator

from paperwire.models import Problem


def _open(path: str | Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def peek(path: str | Path, n: int) -> str:
    with _open(path) as fh:
        try:
            data = fh.read(n)
        except (EOFError, OSError, zlib.error):
            data = b""
    return data.decode("utf-8", errors="replace")


def read_text(path: str | Path) -> str:
    with _open(path) as fh:
        return fh.read().decode("utf-8")


_BLOCK = 64 * 1024  # read at a time: one call into zlib per 64 KB, not per 8 KB as line by line


def iter_lines(path: str | Path, start: int = 0) -> Iterator[tuple[int, bytes | Problem]]:
    """(line number, raw line) for lines after ``start``; a damaged file ends with a Problem."""
    name = Path(path).name
    lineno = 0
    with _open(path) as fh:
        try:
            partial = b""  # a line cut by the end of a block
            while block := fh.read1(_BLOCK):
                for raw in io.BytesIO(block):
                    if partial:
                        raw, partial = partial + raw, b""
                    if raw[-1] != 10:  # no "\n": the line goes on in the next block
                        partial = raw
                        continue
                    lineno += 1
                    if lineno > start:
                        yield lineno, raw
            if partial:  # the last line, without a line end
                lineno += 1
                if lineno > start:
                    yield lineno, partial
        except (EOFError, OSError, zlib.error) as exc:
            # e.g. a truncated .gz: everything before the damage has been yielded and is kept
            yield lineno + 1, Problem(f"{name}:line {lineno + 1}", f"file is damaged or truncated ({exc})")
