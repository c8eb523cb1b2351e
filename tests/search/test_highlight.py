"""Marks and snippets computed in Python (paperwire.search.highlight), checked on real abstracts."""

import gzip
import json
import re
from pathlib import Path

import pytest

from paperwire.search.highlight import Highlighter, highlighter

DEMO = Path(__file__).resolve().parents[2] / "demo" / "records.jsonl.gz"


def marked(h: Highlighter, text: str) -> list[str]:
    return [text[a:b] for a, b, _ in h.spans(text)]


def test_stemmed_folded_and_case_insensitive():
    h = highlighter("Equivariant networks schrodinger")
    text = "An equivariant Network for the Schrödinger equation; networking aside."
    assert marked(h, text) == ["equivariant", "Network", "Schrödinger", "networking"]  # porter: network*


def test_stopwords_are_not_marked_and_no_match_gives_none():
    h = highlighter("the transformers of a graph")
    assert marked(h, "The transformer of the graph") == ["transformer", "graph"]
    assert h.mark("Nothing relevant here", "[", "]") is None
    assert h.snippet("Nothing relevant here", "[", "]") is None


def test_phrases_need_consecutive_words_and_prefixes_match_starts():
    h = highlighter('"point cloud" transfor*')
    text = "A point of view on the cloud; point clouds meet Transformers."
    assert marked(h, text) == ["point", "clouds", "Transformers"]
    compound = highlighter("self-supervised")
    assert marked(compound, "self-supervised and supervised self") == ["self", "supervised"]


def test_snippet_picks_the_window_with_most_distinct_terms():
    filler = " ".join(f"word{i}" for i in range(80))
    text = f"Diffusion begins here. {filler} diffusion models for protein design. {filler} end."
    s = highlighter("diffusion protein").snippet(text, "[", "]")
    assert s.startswith("\u2026") and s.endswith("\u2026")
    assert "[diffusion] models for [protein] design" in s
    assert len(s) < 300
    # near the start: the snippet begins with the text itself
    s2 = highlighter("diffusion").snippet(text, "[", "]")
    assert s2.startswith("[Diffusion] begins here.")


def _slow(h: Highlighter) -> Highlighter:
    h._cand = None  # force the path over every token
    return h


@pytest.mark.parametrize("n", [300])
def test_fast_path_agrees_with_full_tokenisation_on_real_abstracts(n):
    with gzip.open(DEMO, "rt", encoding="utf-8") as fh:
        recs = [json.loads(line) for _, line in zip(range(n), fh)]
    texts = [r.get("summary") or r.get("abstract") or "" for r in recs]
    queries = [r["title"] for r in recs[:40]] + ["as is", "a s", "models for graphs", '"large language" LLM*']
    checked = 0
    for q in queries:
        fast, slow = highlighter(q), _slow(highlighter(q))
        for t in texts[:60]:
            assert fast.spans(t) == slow.spans(t), (q, t[:80])
            checked += bool(fast.spans(t))
    assert checked > 100  # the comparison saw plenty of matches


def test_marks_never_split_words():
    h = highlighter("graph")
    text = "Graphs, subgraph and graph-based: graphical"
    spans = h.spans(text)
    assert [text[a:b] for a, b, _ in spans] == ["Graphs", "graph"]
    for a, b, _ in spans:
        assert (a == 0 or not re.match(r"\w", text[a - 1])) and (b == len(text) or not re.match(r"\w", text[b]))
