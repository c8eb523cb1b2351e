"""When a paper is about a topic: the floor under "matches your topic".

A saved search ranks every paper that shares a word with the topic or sits anywhere near it in
meaning; a ranking is not a verdict. A paper is about a topic when it holds every word of the
topic (stemmed, as the index stems them; a quoted phrase's words in order is not required),
its title holds the topic as a phrase, or its meaning is close: cosine of the topic and the
paper at or above ``TOPIC_FLOOR``.

``TOPIC_FLOOR`` was calibrated with bench/quality.py --calibrate on the tune half of the judged
CACM queries: the lowest cosine at which at least 40% of the papers above it are judged
relevant (docs/search.md gives the precision and recall on the held-out half).
"""

from __future__ import annotations

from paperwire.search.analysis import INDEX_WORD, porter_stem
from paperwire.search.query import content_clauses

TOPIC_FLOOR = 0.55
# Cosines are not comparable across encoders: the floor holds for the model it was calibrated
# on. With any other encoder, nearness in meaning alone never labels a paper.
CALIBRATED = {"minilm": TOPIC_FLOOR}


def floor_for(embed_model: str | None) -> float | None:
    """The calibrated cosine floor of an encoder setting, or None when it has none."""
    return CALIBRATED.get(str(embed_model or "").strip().lower())


def holds_words(topic: str, text: str) -> bool:
    """Every word of the topic's terms, phrases and compounds occurs in ``text`` (stemmed)."""
    wanted = {porter_stem(w) for c in content_clauses(topic) for w in c.words if c.kind != "prefix"}
    prefixes = [c.words[0] for c in content_clauses(topic) if c.kind == "prefix"]
    if not wanted and not prefixes:
        return False
    words = INDEX_WORD.findall(text or "")
    have = {porter_stem(w) for w in words}
    if not wanted <= have:
        return False
    lowered = [w.lower() for w in words]
    return all(any(w.startswith(p) for w in lowered) for p in prefixes)


def is_about(topic: str, parts: dict, text: str, floor: float | None = TOPIC_FLOOR) -> bool:
    """Whether a search hit (its ``parts``) for ``topic`` is really about it; ``text`` is the
    paper's title and abstract; ``floor`` None: the words decide alone."""
    if parts.get("title_phrase") or parts.get("pinned"):
        return True
    if floor is not None and float(parts.get("semantic_score", 0.0)) >= floor:
        return True
    return holds_words(topic, text)
