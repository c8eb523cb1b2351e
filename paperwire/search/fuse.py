"""Fusion of the two sides of hybrid search: a score-level combination whose lexical weight
depends on the query.

Each candidate (found by the words, by meaning, or both) is scored

    cosine(query, paper) + w * bm25(paper) / bm25(best lexical match)

The cosine is exact for every candidate (the stored vectors of the papers the words found are
compared with the query too), so a paper found only by its words is still judged by its
meaning, and the other way round. A candidate the words did not rank among the first
``CANDIDATES`` but whose title or abstract holds a query word counts as the last of them (its
score is at most that); one without any query word gets nothing from the words. A word match
without a vector yet is taken to be as close in meaning as the word matches that have one.

The lexical weight ``w`` is chosen per query from what is known when it runs:

* **agreement**: how close in meaning the word matches are to the query, against the closest
  papers by meaning (the mean cosine of the lexical top 10 over that of the semantic top 10).
  When the words find papers about something else (a question phrased in everyday words, whose
  words are common in the store), the words count for little; when the word matches are as
  close as the nearest papers, they count fully.
* **names**: a query that names things (people, systems, acronyms, numbers: "Prieve", "ALGOL
  68", "IBM TSS") leans on the words, which the embedding model knows least.
* a look-up (a quoted phrase, one or two words, the words of a title in order) is answered
  by the words (``Fusion.lookup``), without feedback.

Then the query vector is moved toward the first results (Rocchio's pseudo-relevance feedback,
in embedding space) and the candidates are scored again with it.

Every number here was chosen on tuning halves only: the odd-numbered judged CACM queries and the
odd-numbered paraphrased questions (bench/judged/); bench/fusion.py searches them, and
docs/search.md gives the figures on the held-out halves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from paperwire.search.analysis import REQUEST_WORDS, STOPWORDS


@dataclass(frozen=True)
class Fusion:
    """The settings of hybrid fusion (see the module docstring)."""

    low: float = 0.1  # lexical weight when the word matches are far from the query in meaning
    high: float = 0.4  # ... when they are as close as the nearest papers by meaning
    agree_low: float = 0.7  # agreement at or below which the weight is ``low``
    agree_high: float = 0.9  # agreement at or above which it is ``high``
    agree_depth: int = 10  # first results of each side compared
    names: float = 0.4  # added when the query names two or more things
    lookup: float = 1.0  # lexical weight of a look-up
    feedback_docs: int = 3  # first results whose mean vector moves the query (0: no feedback)
    feedback_beta: float = 0.3  # how far toward them (query and mean both unit length)

    def weight(self, agreement: float, named: int) -> float:
        span = max(1e-9, self.agree_high - self.agree_low)
        x = min(1.0, max(0.0, (agreement - self.agree_low) / span))
        return self.low + (self.high - self.low) * x + (self.names if named >= 2 else 0.0)


DEFAULT = Fusion()

_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r"\S+")


def named_terms(text: str) -> list[str]:
    """The words of a query written as names or codes: all capitals ("IBM", "SIAM"), with
    digits ("EL1", "1978"), or capitalised other than at the start of a sentence ("Backus"),
    stopwords and request words left out; each once."""
    out: list[str] = []
    toks = _TOKEN.findall(text or "")
    for i, tok in enumerate(toks):
        sentence_start = i == 0 or toks[i - 1].endswith((".", "?", "!", ":"))
        for w in _WORD.findall(tok):
            low = w.lower()
            if len(w) < 2 or low in STOPWORDS or low in REQUEST_WORDS:
                continue
            if w.isupper() or any(ch.isdigit() for ch in w) or (w[0].isupper() and not sentence_start):
                if w not in out:
                    out.append(w)
    return out


def agreement(lex_cos: list[float], sem_cos: list[float], depth: int) -> float:
    """Mean cosine of the lexical top ``depth`` over the semantic top ``depth`` (0 when the
    words found nothing; 1 when they found the nearest papers)."""
    if not lex_cos or not sem_cos:
        return 0.0
    top = float(np.mean(sem_cos[:depth]))
    if top <= 0:
        return 1.0
    return float(np.mean(lex_cos[:depth])) / top


def combine(lex: list[tuple[int, float]], matching: set[int], cos: dict[int, float], weight: float
            ) -> list[tuple[int, float, float]]:
    """Score every candidate in ``cos``: its cosine plus ``weight`` times its normalised BM25.

    ``lex``: (docid, bm25 > 0) best first; ``matching``: candidates outside ``lex`` that hold a
    query word (they get the last lexical score). Returns (docid, score, lexical part) best first."""
    if lex:
        best = max(lex[0][1], 1e-9)
        floor = lex[-1][1]
        lexs = {d: s / best for d, s in lex}
        floor_n = floor / best
    else:
        lexs, floor_n = {}, 0.0
    out = []
    for d, c in cos.items():
        ls = lexs.get(d, floor_n if d in matching else 0.0)
        out.append((d, c + weight * ls, ls))
    out.sort(key=lambda r: (-r[1], r[0]))
    return out


def feedback_query(qvec: np.ndarray, top_vectors: list[np.ndarray], beta: float) -> np.ndarray | None:
    """The query vector moved toward the mean of the first results' vectors (Rocchio's
    pseudo-relevance feedback, in embedding space); None without vectors."""
    if not top_vectors or beta <= 0:
        return None
    q = np.asarray(qvec, dtype=np.float32)
    c = np.mean(np.stack(top_vectors), axis=0)
    qn, cn = float(np.linalg.norm(q)), float(np.linalg.norm(c))
    if qn == 0 or cn == 0:
        return None
    moved = q / qn + beta * c / cn
    return moved / float(np.linalg.norm(moved))
