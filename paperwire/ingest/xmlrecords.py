"""Splitting an XML document into its records, keeping the good ones when the file is damaged.

A harvested page or a saved response can be cut off or contain one bad byte. Parsing the whole
document would lose every record in it, so on a syntax error we fall back to cutting the text at
the record tags and parsing each record on its own: the broken ones become Problems, the rest
are kept.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator

from lxml import etree

from paperwire.models import Paper, Problem

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)


def iter_record_elements(data: bytes, tag: str, namespace: str) -> Iterator[tuple[int, "etree._Element | str"]]:
    """(1-based index, element) for each ``<tag>`` in ``data``; a str instead of an element is the
    reason that record could not be parsed. Namespace is the record's XML namespace."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        yield from _salvage(data, tag, namespace, str(exc))
        return
    for i, el in enumerate(root.iter(f"{{{namespace}}}{tag}"), 1):
        yield i, el


def parse_records(data: bytes, tag: str, namespace: str, convert: Callable[..., Paper | None],
                  label: Callable[[int], str], start: int = 0, offset: int = 0) -> Iterator[tuple[int, Paper | Problem]]:
    """(position, Paper or Problem) for each ``<tag>`` record positioned after ``start``; a record's
    position is ``offset`` + its number. ``convert(element)`` makes the Paper (None: the record
    holds none; ValueError: a Problem), ``label(number)`` names the record in a Problem."""
    for i, el in iter_record_elements(data, tag, namespace):
        pos = offset + i
        if pos <= start:
            continue
        if isinstance(el, str):
            yield pos, Problem(label(i), el)
            continue
        try:
            paper = convert(el)
        except ValueError as exc:
            yield pos, Problem(label(i), str(exc))
            continue
        if paper is not None:
            yield pos, paper


def _salvage(data: bytes, tag: str, namespace: str, doc_error: str) -> Iterator[tuple[int, "etree._Element | str"]]:
    # Records never nest, so the text between one opening tag and the next is one record.
    starts = [m.start() for m in re.finditer(rb"<" + tag.encode() + rb"[\s>]", data)]
    if not starts:
        yield 1, f"broken XML, no <{tag}> found ({doc_error})"
        return
    ends = starts[1:] + [len(data)]
    close = f"</{tag}>".encode()
    for i, (a, b) in enumerate(zip(starts, ends), 1):
        chunk = data[a:b]
        cut = chunk.find(close)
        if cut < 0:
            yield i, f"broken XML: <{tag}> is not closed ({doc_error})"
            continue
        chunk = chunk[: cut + len(close)]
        # re-declare the default namespace the record inherited from its (lost) parents
        wrapped = (f'<wrap xmlns="{namespace}" xmlns:arxiv="http://arxiv.org/schemas/atom" '
                   f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">').encode() + chunk + b"</wrap>"
        try:
            el = etree.fromstring(wrapped, _PARSER)[0]
        except etree.XMLSyntaxError as exc:
            yield i, f"broken XML ({exc})"
            continue
        yield i, el


def text_of(el, path: str, ns: dict) -> str | None:
    found = el.find(path, ns)
    if found is None:
        return None
    s = "".join(found.itertext()).strip()
    return s or None
