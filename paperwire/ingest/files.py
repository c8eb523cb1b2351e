"""Reading record files: plain or gzip, line by line, reporting (not raising on) damage."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import Iterator

from zlib_ng import gzip_ng, zlib_ng

from paperwire.models import Problem

# Damage a read can raise: EOFError for a truncated .gz, gzip.BadGzipFile (an OSError) for a
# bad header or CRC, zlib-ng's error (not a zlib.error) for a broken deflate stream.
_DAMAGE = (EOFError, OSError, zlib.error, zlib_ng.error)


def open_file(path: str | Path, fast: bool = True):
    """The file for reading bytes, gunzipped when its first bytes say gzip (whatever its name)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        # zlib-ng's gzip reader: the same format and errors as the standard library's, inflating
        # faster (a noticeable part of what a listing record costs)
        return gzip_ng.open(path, "rb") if fast else gzip.open(path, "rb")
    return open(path, "rb")


def peek(path: str | Path, n: int) -> str:
    with open_file(path) as fh:
        try:
            data = fh.read(n)
        except _DAMAGE:
            data = b""
    return data.decode("utf-8", errors="replace")


def read_text(path: str | Path) -> str:
    with open_file(path) as fh:
        return fh.read().decode("utf-8")


_BLOCK = 64 * 1024  # read at a time: one call into zlib per 64 KB, not per 8 KB as line by line


def iter_lines(path: str | Path, start: int = 0) -> Iterator[tuple[int, bytes | Problem]]:
    """(line number, raw line) for lines after ``start``; a damaged file ends with a Problem."""
    name = Path(path).name
    lineno = 0
    done = 0  # bytes up to the end of the last whole line
    with open_file(path) as fh:
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
                    done += len(raw)
                    if lineno > start:
                        yield lineno, raw
            if partial:  # the last line, without a line end
                lineno += 1
                if lineno > start:
                    yield lineno, partial
        except _DAMAGE as exc:
            # A read that meets the damage returns nothing of what it inflated before it: up to
            # 64 KB of good lines (a whole block, when a bad CRC is found at the very end). Read
            # the file again from the last whole line with the standard library's reader, 8 KB at
            # a time, to keep them.
            try:
                with open_file(path, fast=False) as again:
                    again.seek(done)
                    for raw in again:
                        if raw[-1] != 10:
                            break
                        lineno += 1
                        if lineno > start:
                            yield lineno, raw
            except _DAMAGE as later:
                exc = later
            yield lineno + 1, Problem(f"{name}:line {lineno + 1}", f"file is damaged or truncated ({exc})")
