"""Keyphrases of an abstract, for the keyword chips of papers Hugging Face has no AI keywords for.

RAKE (Rose et al., "Automatic keyword extraction from individual documents", 2010): candidate
phrases are the runs of words between stop words and punctuation; a word scores its degree
(how many words share its phrases) over its frequency, a phrase the sum of its words. It reads
one abstract and nothing else: no network, no model download, no index, so it works the same on
a fresh install and costs well under a millisecond per abstract. scikit-learn's English stop
list (already a dependency) separates the phrases; words that say nothing about a topic in an
abstract ("propose", "results", "paper") are added to it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# Abstract boilerplate: frequent in every abstract, so never a topic.
_ABSTRACT_WORDS = frozenset("""
propose proposed proposes present presents presented introduce introduces introduced paper work
approach approaches method methods result results show shows shown demonstrate demonstrates
achieve achieves achieved novel new existing state art based using use used significantly
significant extensive experiments experiment experimental outperforms outperform performance
improve improves improved improvement task tasks model models framework study address
challenge challenges including various furthermore moreover however additionally specifically
recent recently effective effectively efficient efficiently compared previous prior while
extensive comprehensive key leading code available publicly https github com release
""".split())
STOP = ENGLISH_STOP_WORDS | _ABSTRACT_WORDS
_SPLIT = re.compile(r"[^\w\s\-]|\s-\s|\$[^$]*\$")  # punctuation and inline TeX end a phrase
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]|[A-Za-z]")


def _verbish(w: str) -> bool:
    """Words that start or end a clause rather than name a thing ('enabling', 'reduced', 'rarely')."""
    w = w.lower()
    return len(w) > 4 and w.endswith(("ing", "ed", "ly", "es")) and not w.endswith(("ness", "ling"))


def _trim(words: list[str]) -> list[str]:
    """A candidate without the verbs and adverbs at its edges: RAKE's runs between stop words
    often begin or end with one ('enabling stable edits' -> 'stable edits')."""
    while words and _verbish(words[0]):
        words = words[1:]
    while words and _verbish(words[-1]) and not words[-1].lower().endswith("es"):
        words = words[:-1]
    return words


def keyphrases(text: str, limit: int = 6, max_words: int = 4) -> list[str]:
    """Up to `limit` key phrases of `text`, best first, lower case except acronyms."""
    return list(_keyphrases(text or "", limit, max_words))


# A list page shows the same papers to every visitor: each abstract is read once, not per view.
@lru_cache(maxsize=20_000)
def _keyphrases(text: str, limit: int, max_words: int) -> tuple[str, ...]:
    phrases: list[list[str]] = []
    for chunk in _SPLIT.split(text or ""):
        run: list[str] = []
        for w in _WORD.findall(chunk):
            if w.lower() in STOP or len(w) < 3 and not w.isupper():
                if run:
                    phrases.append(run)
                run = []
            else:
                run.append(w)
        if run:
            phrases.append(run)
    phrases = [p for p in (_trim(p) for p in phrases) if p and len(p) <= max_words]
    freq: dict[str, int] = defaultdict(int)
    degree: dict[str, int] = defaultdict(int)
    for p in phrases:
        for w in p:
            freq[w.lower()] += 1
            degree[w.lower()] += len(p)
    scored: dict[str, float] = {}
    shown: dict[str, str] = {}
    for p in phrases:
        key = " ".join(w.lower() for w in p)
        # RAKE's degree / frequency, plus the phrase's own repetition: a topic is named more than once
        scored[key] = sum(degree[w.lower()] / freq[w.lower()] for w in p) / len(p) ** 0.5 + 2 * sum(
            freq[w.lower()] - 1 for w in p)
        shown.setdefault(key, " ".join(w if w.isupper() or any(c.isupper() for c in w[1:]) else w.lower() for w in p))
    # a one-word phrase must occur twice to count: single rare words are mostly noise
    best = sorted((k for k in scored if " " in k or freq[k] > 1), key=lambda k: (-scored[k], k))
    out: list[str] = []
    for k in best:
        if not any(k in o or o in k for o in out):
            out.append(k)
        if len(out) == limit:
            break
    return tuple(shown[k] for k in out)
