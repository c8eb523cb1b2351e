"""Fusion of ranked lists: reciprocal-rank fusion of the lexical and the semantic ranking."""

from __future__ import annotations

# RRF constant: k=30 beat the customary 60 on CACM in hybrid nDCG@10 (bench/quality.py)
RRF_K = 30


def fuse(lex: list[tuple[int, str, float]], sem: list[tuple[int, str, float]], k: int = RRF_K,
         w_lex: float = 1.0, w_sem: float = 1.0) -> list[tuple[int, str, float, dict]]:
    """Reciprocal-rank fusion of two ranked lists of (docid, paper_id, score)."""
    acc: dict[int, list] = {}
    for i, (d, pid, s) in enumerate(lex):
        e = acc.setdefault(d, [pid, 0.0, {}])
        e[1] += w_lex / (k + i + 1)
        e[2].update(lexical_rank=i + 1, lexical_score=round(-s, 4))
    for i, (d, pid, s) in enumerate(sem):
        e = acc.setdefault(d, [pid, 0.0, {}])
        e[1] += w_sem / (k + i + 1)
        e[2].update(semantic_rank=i + 1, semantic_score=round(s, 4))
    out = [(d, pid, score, parts) for d, (pid, score, parts) in acc.items()]
    out.sort(key=lambda r: (-r[2], r[0]))
    return out
