"""The date vocabulary of the query language: the one the search page's hint and docs/search.md name."""

import re
from pathlib import Path

import pytest

from paperwire.search.query import Filters, parse_query

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize("q, date_from, date_to", [
    ("diffusion after:2026-06-30", "2026-07-01", None),      # strictly after the day
    ("diffusion before:2026-07-01", None, "2026-06-30"),     # strictly before the day
    ("after:2024", "2025-01-01", None),                      # after the whole year
    ("after:2024-12", "2025-01-01", None),
    ("after:2024-02", "2024-03-01", None),
    ("before:2024-03-01", None, "2024-02-29"),
    ("before:2024", None, "2023-12-31"),
    ("from:2024 to:2024-06", "2024-01-01", "2024-06-31"),    # inclusive spans
    ("since:2024-06-01 until:2024-06-02", "2024-06-01", "2024-06-02"),
    ("AFTER:2026-06-30 Before:2026-07-03", "2026-07-01", "2026-07-02"),
])
def test_date_filters(q, date_from, date_to):
    text, f = parse_query(q)
    assert (f.date_from, f.date_to) == (date_from, date_to)
    assert "after" not in text.lower() and "before" not in text.lower()


def test_a_date_filter_alone_leaves_no_words():
    assert parse_query("after:2026-06-30") == ("", Filters(date_from="2026-07-01"))


@pytest.mark.parametrize("q", ["after:yesterday", "before:2026-02-30", "after:2026-13", "after:"])
def test_a_date_that_is_not_a_date_stays_text(q):
    text, f = parse_query(q)
    assert f == Filters() and text == q


def test_hint_parser_and_docs_name_the_same_filters():
    hint = (ROOT / "paperwire/web/templates/search.html").read_text()
    docs = (ROOT / "docs/search.md").read_text()
    for word in ("after:", "before:", "author:", "cat:", "has:code"):
        assert word in hint and word in docs, word
        assert parse_query(f"{word}2024")[0] != f"{word}2024" or word == "has:code"
    assert re.search(r"after:\d{4}-\d\d-\d\d", hint)
