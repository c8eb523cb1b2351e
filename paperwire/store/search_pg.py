"""Lexical search on PostgreSQL: the weighted tsvector of migration 0020 (migrations_pg), GIN.

The query stage builds one query string for both engines: the FTS5 MATCH expression of
``paperwire.search.query.fts_expression`` (double-quoted terms, ``"prefix"*``, OR, AND,
parentheses and ``column : `` filters; user text never reaches it unquoted). This module reads
that small language and writes the same query as a tsquery: a phrase becomes ``<->``, a column
filter a weight label (title A, abstract B, authors C), a prefix ``:*``. Every word is quoted
and goes through ``to_tsquery('english', pw_fold(...))`` as a bound parameter, so nothing of the
user's text is SQL or tsquery syntax.

Ranking: FTS5 ranks by BM25 with column weights. PostgreSQL has no BM25 and no term
statistics, and ``ts_rank`` alone weighs a word found in half the store the same as a rare
one, which put different papers first than SQLite on the same data. So each clause scores
``idf(clause) * ts_rank(field weights, tsv, clause, 1)`` (ts_rank saturates repeated words and
normalisation 1 divides by the log of the document's length, BM25's other two ideas), with the
BM25 idf FTS5 uses, from the clause's document count (one GIN count per query); the clause
scores add up. Scores are returned negated, as FTS5's bm25() is (smaller is better).
Above ``fast_lexical_above`` papers the tantivy folder ranks instead, as on SQLite.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field


_TOKEN = re.compile(r'"((?:[^"]|"")*)"(\*?)|(\()|(\))|\b(OR|AND|NOT)\b|\b(title|abstract|authors)\s*:|(\S)')
_LABEL = {"title": "A", "abstract": "B", "authors": "C"}
_WORD = re.compile(r"[^\W_]+")
TSQ = "to_tsquery('english'::regconfig, pw_fold(?))"


def and_where(flt) -> str:
    """`` AND <filters>`` of a search_index.FilterSQL over ``papers p`` (empty: nothing)."""
    return f" AND {flt.where}" if flt.where else ""


@dataclass
class PgQuery:
    """A MATCH expression as tsquery texts: the whole query, and the clauses that score."""

    text: str = ""
    scored: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.text


def _atom(body: str, prefix: bool, label: str) -> str | None:
    words = _WORD.findall(body.replace('""', '"'))
    if not words:
        return None
    suffix = (":*" if prefix else "") + label
    suffix = (":" + suffix.lstrip(":")) if suffix else ""
    parts = [f"'{w}'{suffix}" for w in words]
    return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"


class _Parser:
    """Recursive descent over the FTS5 subset that paperwire.search.query writes."""

    def __init__(self, match: str):
        self.toks = [m for m in _TOKEN.finditer(match or "") if not m.group(7)]
        self.i = 0
        self.scored: list[str] = []

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def expr(self, label: str) -> str | None:
        parts = [self.and_expr(label)]
        while (t := self.peek()) is not None and t.group(5) == "OR":
            self.i += 1
            parts.append(self.and_expr(label))
        parts = [p for p in parts if p]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"

    def and_expr(self, label: str) -> str | None:
        parts = [self.unary(label)]
        while (t := self.peek()) is not None and t.group(4) is None and t.group(5) != "OR":
            if t.group(5) in ("AND", "NOT"):
                self.i += 1
                if t.group(5) == "NOT":
                    right = self.unary(label)
                    parts.append(f"!{right}" if right else None)
                    continue
            parts.append(self.unary(label))
        parts = [p for p in parts if p]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " & ".join(parts) + ")"

    def unary(self, label: str) -> str | None:
        t = self.peek()
        if t is None:
            return None
        if t.group(6):
            self.i += 1
            label = _LABEL[t.group(6)]
            t = self.peek()
            if t is None:
                return None
        self.i += 1
        if t.group(3):
            inner = self.expr(label)
            if (c := self.peek()) is not None and c.group(4):
                self.i += 1
            return f"({inner})" if inner else None
        if t.group(1) is not None:
            atom = _atom(t.group(1), bool(t.group(2)), label)
            if atom and label in ("", "A"):
                self.scored.append(atom)  # an author filter narrows; it does not rank
            return atom
        return None


def parse(match: str) -> PgQuery:
    p = _Parser(match)
    text = p.expr("") or ""
    return PgQuery(text, p.scored[:64])


def rank_weights(weights: tuple[float, float, float]) -> str:
    """ts_rank's {D, C, B, A} array for (title, abstract, authors) weights (ts_rank wants <= 1)."""
    title, abstract, authors = (max(float(w), 0.0) for w in weights)
    top = max(title, abstract, authors, 1e-9)
    return "{" + ", ".join(f"{x / top:.4f}" for x in (0.1 * top, authors, abstract, title)) + "}"


_STATS: dict[int, tuple[float, int]] = {}


def _doc_total(store) -> int:
    """The number of search documents, cached for a few seconds (idf needs it on every query)."""
    hit = _STATS.get(id(store))
    if hit and time.monotonic() - hit[0] < 10:
        return hit[1]
    n = store.query_one("SELECT count(*) FROM search_docs")[0]
    _STATS[id(store)] = (time.monotonic(), n)
    return n


def _idf(store, q: PgQuery) -> list[float]:
    """FTS5's BM25 idf of each scored clause: log((N - n + 0.5) / (n + 0.5)), at least 1e-6."""
    if not q.scored:
        return []
    counts = ", ".join(f"count(*) FILTER (WHERE d.tsv @@ q.c{i})" for i in range(len(q.scored)))
    cols = ", ".join(f"{TSQ} AS c{i}" for i in range(len(q.scored)))
    anyq = " || ".join(f"q.c{i}" for i in range(len(q.scored)))
    row = store.query_one(f"WITH q AS (SELECT {cols}) SELECT {counts} FROM search_docs d, q WHERE d.tsv @@ ({anyq})",
                          tuple(q.scored))
    total = max(_doc_total(store), 1)
    return [max(math.log((total - n + 0.5) / (n + 0.5)), 1e-6) for n in row]


def _ranked(store, q: PgQuery, weights, where: str, params: tuple, limit: int, offset: int = 0,
            join_papers: bool = True) -> list[tuple[int, str, float]]:
    idfs = _idf(store, q)
    w = rank_weights(weights)
    score = " + ".join(f"{idf!r} * ts_rank('{w}'::float4[], d.tsv, q.c{i}, 1)" for i, idf in enumerate(idfs)) or "0"
    cols = ", ".join([f"{TSQ} AS qall", *(f"{TSQ} AS c{i}" for i in range(len(q.scored)))])
    papers = "JOIN papers p ON p.id = d.paper_id " if join_papers else ""
    sql = (f"WITH q AS MATERIALIZED (SELECT {cols}) "
           f"SELECT d.docid, d.paper_id, -({score}) AS score FROM search_docs d {papers}CROSS JOIN q "
           f"WHERE d.tsv @@ q.qall{where} ORDER BY score, d.docid LIMIT ? OFFSET ?")
    rows = store.query(sql, (q.text, *q.scored, *params, limit, offset))
    return [(r[0], r[1], float(r[2])) for r in rows]


def lexical(store, match: str, weights, flt, limit: int, offset: int = 0) -> list[tuple[int, str, float]]:
    q = parse(match)
    if q.empty:
        return []
    return _ranked(store, q, weights, " AND p.hidden = 0" + and_where(flt), flt.params, limit, offset)


def lexical_count(store, match: str, flt, cap: int = 10000) -> int:
    q = parse(match)
    if q.empty:
        return 0
    sql = (f"SELECT count(*) FROM (SELECT 1 FROM search_docs d JOIN papers p ON p.id = d.paper_id "
           f"WHERE d.tsv @@ {TSQ} AND p.hidden = 0{and_where(flt)} LIMIT ?) c")
    return store.query_one(sql, (q.text, *flt.params, cap))[0]


def lexical_tail(store, match: str, weights, after: int, limit: int) -> list[tuple[int, str, float]]:
    q = parse(match)
    if q.empty:
        return []
    return _ranked(store, q, weights, " AND d.docid > ?", (after,), limit, join_papers=False)


def keep_matching(store, docids: list[int], flt, match: str) -> set[int]:
    q = parse(match)
    if q.empty:
        return set()
    out: set[int] = set()
    for i in range(0, len(docids), 500):
        chunk = docids[i: i + 500]
        sql = (f"SELECT d.docid FROM search_docs d JOIN papers p ON p.id = d.paper_id "
               f"WHERE d.docid = ANY(?) AND d.tsv @@ {TSQ} AND p.hidden = 0{and_where(flt)}")
        out.update(r[0] for r in store.query(sql, (list(chunk), q.text, *flt.params)))
    return out


def title_phrase(store, phrase: str, flt, limit: int = 10) -> list[tuple[int, str]]:
    q = parse(f"title : {phrase}")
    if q.empty:
        return []
    rows = _ranked(store, q, (1.0, 1.0, 1.0), " AND p.hidden = 0" + and_where(flt), flt.params, limit)
    return [(d, pid) for d, pid, _ in rows]


def rebuild(conn) -> int:
    """search_docs made whole from papers again: missing documents added, orphans removed, every
    weighted document and pin key recomputed."""
    conn.execute("INSERT INTO search_docs(paper_id, title_key, tsv) "
                 "SELECT id, pw_title_key(title_display), pw_search_tsv(title_display, abstract_display, authors::text) "
                 "FROM papers ON CONFLICT (paper_id) DO NOTHING")
    conn.execute("DELETE FROM search_docs d WHERE NOT EXISTS (SELECT 1 FROM papers p WHERE p.id = d.paper_id)")
    conn.execute("UPDATE search_docs d SET title_key = pw_title_key(p.title_display), "
                 "tsv = pw_search_tsv(p.title_display, p.abstract_display, p.authors::text) "
                 "FROM papers p WHERE p.id = d.paper_id "
                 "AND d.tsv IS DISTINCT FROM pw_search_tsv(p.title_display, p.abstract_display, p.authors::text)")
    conn.execute("DELETE FROM search_fts_deferred")
    return conn.execute("SELECT count(*) FROM search_docs").fetchone()[0]
