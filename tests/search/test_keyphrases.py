"""paperwire.search.keyphrases: key phrases of one abstract, for papers without Hugging Face keywords."""

from __future__ import annotations

import json

from paperwire.search.keyphrases import keyphrases
from repo_paths import DEMO


def test_repeated_noun_phrases_come_first_without_stop_words_or_boilerplate():
    text = ("We propose a sparse attention kernel for long-context language models. Our sparse attention kernel "
            "is 3x faster than dense attention. Extensive experiments show state-of-the-art results.")
    got = keyphrases(text)
    assert got[0] == "sparse attention kernel"
    assert all(w not in k.split() for k in got for w in ("we", "propose", "the", "results", "experiments"))
    assert keyphrases("") == [] and keyphrases("the of and") == []


def test_real_abstracts_share_terms_with_hugging_face_keywords():
    """On the demo's real papers, derived phrases overlap the AI keywords Hugging Face gave them
    (measured on every paper of one day, not tuned on it: the stop list is generic)."""
    items = json.loads((DEMO / "hf" / "2026-06-29.json").read_text())
    hits = 0
    for it in items:
        words = {w for k in keyphrases(it["paper"]["summary"], limit=8) for w in k.lower().split()}
        hf = {w for k in it["paper"].get("ai_keywords", []) for w in k.lower().split()}
        hits += bool(words & hf)
        assert len(keyphrases(it["paper"]["summary"])) >= 3
    assert hits >= 0.8 * len(items)
