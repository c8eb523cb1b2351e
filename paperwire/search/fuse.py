"""Fusion of ranked lists: weighted reciprocal-rank fusion of the lexical ranking, the semantic
ranking and the semantic ranking of a feedback query (the question moved toward the first
fused results).

The weights and the feedback settings were chosen on the odd-numbered half of the judged CACM
queries (bench/quality.py --tune); docs/search.md gives the figures on the other half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# RRF constant (the customary 60 lost to 30 on the tuning half)
RRF_K = 30


@dataclass(frozen=True)
class FusionWeights:
    """How much each list counts. Lexical slightly above semantic: a word match says more
    about a paper than an embedding's nearness on its own."""

    lexical: float = 1.25
    semantic: float = 1.0
    feedback: float = 1.0  # 0 turns the feedback list off
    feedback_docs: int = 3  # first fused results whose mean vector moves the query
    feedback_beta: float = 1.0  # how far toward them (query and mean both unit length)


DEFAULT = FusionWeights()
# A query that looks up one paper (an id, a quoted phrase, a title fragment) is answered by the
# words: the meaning of a few title words is too vague to rank with, and moving the query toward
# the first results would drift away from the one paper wanted.
LOOKUP = FusionWeights(lexical=2.0, semantic=1.0, feedback=0.0)


def fuse(lists: list[tuple[list[tuple[int, str | None, float]], float, str]], k: int = RRF_K
         ) -> list[tuple[int, str | None, float, dict]]:
    """Reciprocal-rank fusion of ranked lists of (docid, paper_id, score), each given as
    (rows, weight, name); ``parts`` records each list's rank and score under ``name``."""
    acc: dict[int, list] = {}
    for rows, weight, name in lists:
        if weight <= 0:
            continue
        for i, (d, pid, s) in enumerate(rows):
            e = acc.setdefault(d, [pid, 0.0, {}])
            if e[0] is None:
                e[0] = pid
            e[1] += weight / (k + i + 1)
            e[2][f"{name}_rank"] = i + 1
            e[2][f"{name}_score"] = round(-s if name == "lexical" else s, 4)
    out = [(d, pid, score, parts) for d, (pid, score, parts) in acc.items()]
    out.sort(key=lambda r: (-r[2], r[0]))
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
