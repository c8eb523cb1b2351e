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
one, which put different papers first than SQLite on the same data. So ranking is BM25 as
FTS5 computes it (k1 1.2, b 0.75, its idf; a clause's frequency counts each occurrence with its
field's weight; length in distinct terms, ``length(tsv)``), in two steps, because reading a
document's terms (``pw_tf``) costs ~10x a ts_rank call: every match is scored
``idf(clause) * ts_rank(...)`` summed over the clauses (the idf from one GIN count per clause),
and the best ``CANDIDATES`` (or twice the page's end) are ranked again by BM25. Scores are
returned negated, as FTS5's bm25() is (smaller is better).
Above ``fast_lexical_above`` papers the tantivy folder ranks instead, as on SQLite.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field


_TOKEN = re.compile(r'"((?:[^"]|"")*)"(\*?)|(\()|(\))|\b(OR|AND|NOT)\b|\b(title|abstract|authors)\s*:|(\S)')
_LABEL = {"title": "A", "abstract": "B", "authors": "C"}
_WORD = re.compile(r"[^\W_]+")
TSQ = "to_tsquery('english'::regconfig, pw_fold(?))"


def and_where(flt) -> str:
    """`` AND <filters>`` of a search_index.FilterSQL over ``papers p`` (empty: nothing)."""
    return f" AND {flt.where}" if flt.where else ""


K1, B = 1.2, 0.75  # FTS5's bm25() constants
CANDIDATES = 120  # matches ranked again by BM25 (the rest keep the cheap order)


@dataclass
class Clause:
    """One scored clause: its tsquery text, its words (for its lexemes), a prefix or not."""

    tsquery: str
    words: str
    prefix: bool


@dataclass
class PgQuery:
    """A MATCH expression as tsquery texts: the whole query, and the clauses that score."""

    text: str = ""
    scored: list[Clause] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.text


def _words(body: str) -> list[str]:
    return _WORD.findall(body.replace('""', '"'))


def _atom(body: str, prefix: bool, label: str) -> str | None:
    words = _words(body)
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
            if atom and label in ("", "A"):  # an author filter narrows; it does not rank
                self.scored.append(Clause(atom, " ".join(_words(t.group(1))), bool(t.group(2))))
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


_STATS: dict[tuple, tuple[float, int, float]] = {}


def _doc_stats(store) -> tuple[int, float]:
    """(documents, their average length in distinct terms), cached for a minute: BM25 needs
    both on every query, and they move slowly."""
    key = (id(store), getattr(store, "url", ""))
    hit = _STATS.get(key)
    if hit and time.monotonic() - hit[0] < 60:
        return hit[1], hit[2]
    n, avg = store.query_one("SELECT count(*), COALESCE(avg(length(tsv)), 1) FROM search_docs")
    if len(_STATS) > 64:
        _STATS.clear()
    _STATS[key] = (time.monotonic(), int(n), float(avg or 1.0))
    return int(n), float(avg or 1.0)


_DF: dict[tuple, tuple[float, int]] = {}


def _idf(store, q: PgQuery, total: int) -> list[float]:
    """FTS5's BM25 idf of each scored clause: log((N - n + 0.5) / (n + 0.5)), at least 1e-6.
    Document counts are kept for a minute per clause (common words recur in many queries, and
    a search asks for a page and a count)."""
    if not q.scored:
        return []
    now = time.monotonic()
    base = (id(store), getattr(store, "url", ""))
    keys = [(*base, c.tsquery) for c in q.scored]
    missing = [i for i, k in enumerate(keys) if not (k in _DF and now - _DF[k][0] < 60)]
    if missing:
        counts = ", ".join(f"count(*) FILTER (WHERE d.tsv @@ q.c{i})" for i in missing)
        cols = ", ".join(f"{TSQ} AS c{i}" for i in missing)
        anyq = " || ".join(f"q.c{i}" for i in missing)
        got = store.query_one(f"WITH q AS (SELECT {cols}) SELECT {counts} FROM search_docs d, q WHERE d.tsv @@ ({anyq})",
                              tuple(q.scored[i].tsquery for i in missing))
        if len(_DF) > 4096:
            _DF.clear()
        for i, n in zip(missing, got):
            _DF[keys[i]] = (now, int(n))
    row = [_DF[k][1] for k in keys]
    total = max(total, *row, 1)  # the cached count may be older than a match
    return [max(math.log((total - n + 0.5) / (n + 0.5)), 1e-6) for n in row]


def visible(flt) -> tuple[str, bool]:
    """(the WHERE fragment keeping visible papers that pass `flt`, whether it reads ``papers p``).
    Without filters the papers need not be joined at all: hidden ones are few, and the partial
    index search_papers_hidden (migration 0022) rules them out; a join would read one papers
    index entry per match (most of the store for a common word)."""
    if flt.empty:
        return " AND NOT EXISTS (SELECT 1 FROM papers h WHERE h.id = d.paper_id AND h.hidden = 1)", False
    return " AND p.hidden = 0" + and_where(flt), True


def _ranked(store, q: PgQuery, weights, where: str, params: tuple, limit: int, offset: int = 0,
            join_papers: bool = True, total_of: tuple | None = None) -> list[tuple[int, str, float]]:
    total, avgdl = _doc_stats(store)
    idfs = _idf(store, q, total)
    w = rank_weights(weights)
    cheap = " + ".join(f"{idf!r} * ts_rank('{w}'::float4[], d.tsv, q.c{i}, 1)" for i, idf in enumerate(idfs)) or "0"
    wa, wb, wc = (float(x) for x in weights)
    norm = f"{K1!r} * ({1 - B!r} + {B!r} * length(c.tsv) / {max(avgdl, 1e-9)!r})"
    bm25 = " + ".join(f"{idf!r} * (f.f{i} * {K1 + 1!r}) / (f.f{i} + {norm})" for i, idf in enumerate(idfs)) or "0"
    # Every clause's frequency as pw_tf (migration 0020) counts it, for all clauses in one
    # pass over the candidate's document cut down to the query's lexemes first: unnest() of a
    # whole document (~100 lexemes, each with its arrays) was most of a search's time, while
    # ts_delete twice (everything but the kept lexemes, then that) is a C-speed merge. The
    # aggregate subquery is not inlined, so f.f{i} is not recomputed where the score names it
    # twice; each clause's lexemes are worked out once per query, in q.
    weight = f"CASE w WHEN 'A' THEN {wa!r} WHEN 'B' THEN {wb!r} WHEN 'C' THEN {wc!r} ELSE 1.0 END"
    conds = [f"starts_with(u.lexeme, q.l{i}[1])" if cl.prefix else f"u.lexeme = ANY(q.l{i})"
             for i, cl in enumerate(q.scored)]
    tfs = ", ".join(f"coalesce(sum({weight}) FILTER (WHERE {cond}), 0)::float8 / "
                    f"{max(len(cl.words.split()), 1)} AS f{i}"
                    for i, (cond, cl) in enumerate(zip(conds, q.scored)))
    if any(cl.prefix for cl in q.scored):  # the document's own lexemes that a clause takes
        kept = ("ARRAY(SELECT u.lexeme FROM unnest(tsvector_to_array(c.tsv)) AS u(lexeme) WHERE "
                + " OR ".join(conds) + ")")
    else:
        kept = " || ".join(f"q.l{i}" for i in range(len(q.scored)))
    document = f"ts_delete(c.tsv, tsvector_to_array(ts_delete(c.tsv, {kept})))"
    # (a query of author filters alone scores nothing: one row of 0)
    freqs = f"SELECT {tfs} FROM unnest({document}) AS u, unnest(u.weights) AS w" if q.scored else "SELECT 0 AS f0"
    lexemes = "".join(f", tsvector_to_array(to_tsvector('english'::regconfig, pw_fold(?))) AS l{i}"
                      for i in range(len(q.scored)))
    cols = ", ".join([f"{TSQ} AS qall", *(f"{TSQ} AS c{i}" for i in range(len(q.scored)))]) + lexemes
    papers = "JOIN papers p ON p.id = d.paper_id " if join_papers else ""
    sql = (f"WITH q AS MATERIALIZED (SELECT {cols}), "
           f"c AS MATERIALIZED (SELECT d.docid, d.paper_id, d.tsv, {cheap} AS cheap, count(*) OVER () AS total "
           f"FROM search_docs d {papers}"
           f"CROSS JOIN q WHERE d.tsv @@ q.qall{where} ORDER BY cheap DESC, d.docid LIMIT ?) "
           f"SELECT c.docid, c.paper_id, -({bm25}) AS score, c.total FROM c CROSS JOIN q CROSS JOIN LATERAL "
           f"({freqs}) f "
           f"ORDER BY score, c.docid LIMIT ? OFFSET ?")
    pool = max(CANDIDATES, 2 * (offset + limit))
    rows = store.query(sql, (q.text, *(c.tsquery for c in q.scored), *(c.words for c in q.scored),
                             *params, pool, limit, offset))
    if total_of is not None and rows:
        _remember_total(total_of, int(rows[0][3]))
    return [(r[0], r[1], float(r[2])) for r in rows]


# A search asks for a page of matches, then how many there are (SearchEngine._lexical): the
# ranking query has just counted every match (count(*) OVER (), before its LIMIT), so the count
# that follows at once on the same thread is answered from it instead of matching the whole
# store a second time (for a common word, that second pass was a third of a search's time).
_TOTAL = threading.local()
TOTAL_FRESH = 2.0  # seconds the count of the last ranked search stands in for a new count


def _total_key(store, q: PgQuery, flt) -> tuple:
    return (id(store), q.text, flt.where, tuple(flt.params))


def _remember_total(key: tuple, total: int) -> None:
    _TOTAL.key, _TOTAL.total, _TOTAL.at = key, total, time.monotonic()


def _recent_total(key: tuple) -> int | None:
    """The remembered count, once (a later count matches again: writes may have come since)."""
    if getattr(_TOTAL, "key", None) == key:
        _TOTAL.key = None
        if time.monotonic() - _TOTAL.at < TOTAL_FRESH:
            return _TOTAL.total
    return None


def lexical(store, match: str, weights, flt, limit: int, offset: int = 0) -> list[tuple[int, str, float]]:
    q = parse(match)
    if q.empty:
        return []
    where, join = visible(flt)
    return _ranked(store, q, weights, where, flt.params, limit, offset, join_papers=join,
                   total_of=_total_key(store, q, flt))


def lexical_count(store, match: str, flt, cap: int = 10000) -> int:
    q = parse(match)
    if q.empty:
        return 0
    known = _recent_total(_total_key(store, q, flt))
    if known is not None:
        return min(known, cap)
    where, join = visible(flt)
    papers = "JOIN papers p ON p.id = d.paper_id " if join else ""
    sql = (f"SELECT count(*) FROM (SELECT 1 FROM search_docs d {papers}"
           f"WHERE d.tsv @@ {TSQ}{where} LIMIT ?) c")
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
    where, join = visible(flt)
    rows = _ranked(store, q, (1.0, 1.0, 1.0), where, flt.params, limit, join_papers=join)
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
