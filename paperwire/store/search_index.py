"""SQL of the search indexes: the FTS5 table, the paper<->docid map and stored vectors.

Only this module (and the 0020 migration) knows these tables. Every query is
parameterised; the FTS5 MATCH string itself is built by ``paperwire.search.query`` from
quoted terms only, and passed as a parameter. On PostgreSQL the lexical functions read that
same string and query the weighted tsvector instead (``paperwire.store.search_pg``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from paperwire.store import search_pg
from paperwire.store.sqlite import Store


@dataclass
class FilterSQL:
    """A WHERE fragment over ``papers p`` plus its parameters."""

    where: str = ""
    params: tuple = ()

    @property
    def empty(self) -> bool:
        return not self.where


def filter_sql(categories=(), date_from=None, date_to=None, date_field="published", has_code=False,
               author: str | None = None) -> FilterSQL:
    clauses: list[str] = []
    params: list = []
    if author:
        # substring, case-insensitive (ASCII) on the display names; lexical search applies the
        # author filter through FTS5 instead (stemmed, diacritics folded) and passes None here
        # lower() on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not
        clauses.append("EXISTS (SELECT 1 FROM paper_authors a WHERE a.paper_id = p.id "
                       "AND lower(a.name) LIKE lower(?) ESCAPE '\\')")
        esc = author.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{esc}%")
    if categories:
        marks = ",".join("?" * len(categories))
        clauses.append(f"EXISTS (SELECT 1 FROM paper_categories c WHERE c.paper_id = p.id AND c.category IN ({marks}))")
        params += list(categories)
    # published is an ISO timestamp, listed a day; compare days. Listing-only records carry no
    # publication date: their listing day stands in for it.
    col = "p.listed" if date_field == "listed" else "COALESCE(substr(p.published, 1, 10), p.listed)"
    if date_from:
        clauses.append(f"{col} >= ?")
        params.append(date_from)
    if date_to:
        clauses.append(f"{col} <= ?")
        params.append(date_to)
    if has_code:
        clauses.append("EXISTS (SELECT 1 FROM links l WHERE l.paper_id = p.id AND l.kind IN ('github','gitlab'))")
    return FilterSQL(" AND ".join(clauses), tuple(params))


def published_or_listed_since(day: str) -> FilterSQL:
    """Papers first published or first listed on or after ``day`` (YYYY-MM-DD)."""
    return FilterSQL("(substr(p.published, 1, 10) >= ? OR p.listed >= ?)", (day, day))


def _and(f: FilterSQL) -> str:
    return f" AND {f.where}" if f.where else ""


# -- lexical ---------------------------------------------------------------------------------

def lexical(store: Store, match: str, weights: tuple[float, float, float], flt: FilterSQL,
            limit: int, offset: int = 0) -> list[tuple[int, str, float]]:
    """(docid, paper_id, bm25) best first. bm25() is negative in FTS5 (smaller is better)."""
    if store.dialect == "postgresql":
        return search_pg.lexical(store, match, weights, flt, limit, offset)
    w = ", ".join(f"{float(x):.3f}" for x in weights)
    if flt.empty:
        # Rank inside FTS5 first (no join per match), then drop hidden papers. Over-fetch a
        # little so hidden papers do not shorten the page.
        sql = (f"SELECT f.docid, d.paper_id, f.score FROM "
               f"(SELECT rowid AS docid, bm25(papers_fts, {w}) AS score FROM papers_fts WHERE papers_fts MATCH ? "
               f" ORDER BY score LIMIT ?) f "
               f"JOIN search_docs d ON d.docid = f.docid JOIN papers p ON p.id = d.paper_id "
               f"WHERE p.hidden = 0 ORDER BY f.score LIMIT ? OFFSET ?")
        n = offset + limit
        rows = store.query(sql, (match, n + 20, limit, offset))
    else:
        sql = (f"SELECT f.rowid, d.paper_id, bm25(papers_fts, {w}) AS score FROM papers_fts f "
               f"JOIN search_docs d ON d.docid = f.rowid JOIN papers p ON p.id = d.paper_id "
               f"WHERE papers_fts MATCH ? AND p.hidden = 0{_and(flt)} ORDER BY score LIMIT ? OFFSET ?")
        rows = store.query(sql, (match, *flt.params, limit, offset))
    return [(r[0], r[1], r[2]) for r in rows]


def lexical_count(store: Store, match: str, flt: FilterSQL, cap: int = 10000) -> int:
    """Number of matches, counted up to ``cap`` (an estimate beyond it)."""
    if store.dialect == "postgresql":
        return search_pg.lexical_count(store, match, flt, cap)
    if flt.empty:
        sql = "SELECT count(*) FROM (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ? LIMIT ?)"
        return store.query_one(sql, (match, cap))[0]
    sql = (f"SELECT count(*) FROM (SELECT f.rowid FROM papers_fts f JOIN search_docs d ON d.docid = f.rowid "
           f"JOIN papers p ON p.id = d.paper_id WHERE papers_fts MATCH ? AND p.hidden = 0{_and(flt)} LIMIT ?)")
    return store.query_one(sql, (match, *flt.params, cap))[0]


def filtered_latest(store: Store, flt: FilterSQL, limit: int, offset: int = 0) -> list[tuple[int, str]]:
    """Papers passing the filters, newest first (a query of filters only)."""
    sql = (f"SELECT d.docid, p.id FROM papers p JOIN search_docs d ON d.paper_id = p.id "
           f"WHERE p.hidden = 0{_and(flt)} ORDER BY COALESCE(p.listed, substr(p.published, 1, 10)) DESC, p.id DESC "
           f"LIMIT ? OFFSET ?")
    return [(r[0], r[1]) for r in store.query(sql, (*flt.params, limit, offset))]


def filtered_count(store: Store, flt: FilterSQL, cap: int = 10000) -> int:
    sql = f"SELECT count(*) FROM (SELECT 1 FROM papers p WHERE p.hidden = 0{_and(flt)} LIMIT ?) AS c"
    return store.query_one(sql, (*flt.params, cap))[0]


def hidden_docids(store: Store) -> set[int]:
    """Docids of hidden papers (uses the partial index of migration 0022)."""
    if store.dialect == "postgresql":  # no INDEXED BY there; the planner picks the partial index
        return {r[0] for r in store.query("SELECT d.docid FROM papers p JOIN search_docs d ON d.paper_id = p.id "
                                          "WHERE p.hidden = 1")}
    return {r[0] for r in store.query(
        "SELECT d.docid FROM papers p INDEXED BY search_papers_hidden JOIN search_docs d ON d.paper_id = p.id "
        "WHERE p.hidden = 1")}


def keep_matching(store: Store, docids: list[int], flt: FilterSQL, match: str | None = None) -> set[int]:
    """The subset of ``docids`` that are visible, pass the filters (and match, if given)."""
    if flt.empty and not match:
        # no filters: only hidden papers go (the join to each candidate's papers row costs
        # ~10 ms for 200 candidates at 1M papers); deleted ones drop out at papers_for_docs
        hidden = hidden_docids(store)
        return {d for d in docids if d not in hidden}
    if match and store.dialect == "postgresql":
        return search_pg.keep_matching(store, docids, flt, match)
    out: set[int] = set()
    for i in range(0, len(docids), 500):
        chunk = docids[i: i + 500]
        marks = ",".join("?" * len(chunk))
        if match:
            sql = (f"SELECT d.docid FROM papers_fts f JOIN search_docs d ON d.docid = f.rowid "
                   f"JOIN papers p ON p.id = d.paper_id WHERE papers_fts MATCH ? AND f.rowid IN ({marks}) "
                   f"AND p.hidden = 0{_and(flt)}")
            params = (match, *chunk, *flt.params)
        else:
            sql = (f"SELECT d.docid FROM search_docs d JOIN papers p ON p.id = d.paper_id "
                   f"WHERE d.docid IN ({marks}) AND p.hidden = 0{_and(flt)}")
            params = (*chunk, *flt.params)
        out.update(r[0] for r in store.query(sql, params))
    return out


def rebuild_lexical(store: Store) -> int:
    """Rebuild the FTS index and the docid map from ``papers`` (the source of truth)."""
    if store.dialect == "postgresql":
        with store.transaction() as conn:
            return search_pg.rebuild(conn)
    with store.transaction() as conn:
        conn.execute("INSERT OR IGNORE INTO search_docs(paper_id, title_key) "
                     "SELECT id, lower(rtrim(trim(title_display), '.')) FROM papers")
        conn.execute("DELETE FROM search_docs WHERE paper_id NOT IN (SELECT id FROM papers)")
        conn.execute("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
        # 'rebuild' indexed every document, including any a bulk import deferred (migration
        # 0023): a later catch-up pass would insert those a second time
        conn.execute("DELETE FROM search_fts_deferred")
        return conn.execute("SELECT count(*) FROM search_docs").fetchone()[0]


def optimize_lexical(store: Store) -> None:
    """Merge FTS5 segments into one b-tree: faster queries after a large import."""
    if store.dialect == "postgresql":  # GIN merges its pending list itself; fresh statistics help the planner
        store.conn.execute("ANALYZE search_docs")
        return
    with store.transaction() as conn:
        conn.execute("INSERT INTO papers_fts(papers_fts) VALUES ('optimize')")


# -- lookups ---------------------------------------------------------------------------------

def _lookup(store: Store, sql: str, keys: list) -> dict:
    """Two-column lookup over many keys, in chunks below SQLite's bound-parameter limit."""
    out: dict = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i: i + 500]
        out.update(store.query(sql.format(marks=",".join("?" * len(chunk))), chunk))
    return out


def docs_for_papers(store: Store, paper_ids: Iterable[str]) -> dict[str, int]:
    return _lookup(store, "SELECT paper_id, docid FROM search_docs WHERE paper_id IN ({marks})",
                   list(dict.fromkeys(paper_ids)))


def papers_for_docs(store: Store, docids: Iterable[int]) -> dict[int, str]:
    return _lookup(store, "SELECT docid, paper_id FROM search_docs WHERE docid IN ({marks})",
                   list(dict.fromkeys(int(d) for d in docids)))


def doc_info(store: Store, docids: list[int]) -> dict[int, dict]:
    """docid -> {paper_id, title, abstract, date} for rendering hits."""
    out: dict[int, dict] = {}
    for i in range(0, len(docids), 500):
        chunk = docids[i: i + 500]
        marks = ",".join("?" * len(chunk))
        for r in store.query(
                f"SELECT d.docid, p.id, p.title_display, p.abstract_display, COALESCE(p.listed, substr(p.published, 1, 10)) "
                f"FROM search_docs d JOIN papers p ON p.id = d.paper_id WHERE d.docid IN ({marks})", chunk):
            out[r[0]] = {"paper_id": r[1], "title": r[2], "abstract": r[3], "date": r[4]}
    return out


def find_by_title_key(store: Store, key: str) -> list[tuple[int, str]]:
    rows = store.query("SELECT d.docid, d.paper_id FROM search_docs d JOIN papers p ON p.id = d.paper_id "
                       "WHERE d.title_key = ? AND p.hidden = 0 ORDER BY d.docid LIMIT 5", (key,))
    return [(r[0], r[1]) for r in rows]


def find_visible(store: Store, paper_id: str) -> int | None:
    r = store.query_one("SELECT d.docid FROM search_docs d JOIN papers p ON p.id = d.paper_id "
                        "WHERE d.paper_id = ? AND p.hidden = 0", (paper_id,))
    return r[0] if r else None


def doc_count(store: Store) -> int:
    return store.query_one("SELECT count(*) FROM search_docs")[0]


# -- vectors ---------------------------------------------------------------------------------

def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def embed_text(title: str, abstract: str) -> str:
    """The text a paper is embedded from (title first: it carries the most meaning)."""
    title = (title or "").strip()
    abstract = (abstract or "").strip()
    return f"{title}. {abstract}" if abstract else title


_TO_EMBED = ("SELECT d.docid, p.title_display, p.abstract_display, v.text_hash FROM search_docs d "
             "JOIN papers p ON p.id = d.paper_id LEFT JOIN paper_vectors v ON v.model = ? AND v.docid = d.docid ")


def docs_to_embed(store: Store, model: str, batch: int = 1000) -> Iterator[list[tuple[int, str, str]]]:
    """Batches of (docid, text, hash) for papers with no vector for ``model`` or whose text
    changed since (dirty). Papers whose text hash still matches are only un-marked."""
    last = -1
    while True:
        rows = store.query(_TO_EMBED + "WHERE d.docid > ? AND (v.docid IS NULL OR d.dirty = 1) ORDER BY d.docid LIMIT ?",
                           (model, last, batch))
        if not rows:
            return
        last = rows[-1][0]
        out = _needing_new_vectors(store, rows)
        if out:
            yield out


def recent_docs_to_embed(store: Store, model: str, after: int, limit: int) -> list[tuple[int, str, str]] | None:
    """(docid, text, hash) of the papers that arrived after docid ``after`` with no vector for
    ``model``: what a serving host embeds by itself. One range of the docid key, cheap however
    large the store. None when more than ``limit`` wait (a bulk import landed: that is
    `paperwire index`'s work, as are texts changed since their vector was made)."""
    rows = store.query(_TO_EMBED + "WHERE d.docid > ? AND v.docid IS NULL ORDER BY d.docid LIMIT ?",
                       (model, after, limit + 1))
    if len(rows) > limit:
        return None
    return _needing_new_vectors(store, rows)


def newest_docid(store: Store) -> int:
    return store.query_one("SELECT COALESCE(max(docid), 0) FROM search_docs")[0]


def _needing_new_vectors(store: Store, rows) -> list[tuple[int, str, str]]:
    """(docid, text, hash) of the rows whose text is not the one their stored vector was made
    from; the others (dirty, but the embedded text is unchanged) are only un-marked."""
    out, clean = [], []
    for docid, title, abstract, old_hash in rows:
        text = embed_text(title, abstract)
        h = text_hash(text)
        if h == old_hash:
            clean.append(docid)
        else:
            out.append((docid, text, h))
    if clean:
        with store.transaction() as conn:
            conn.executemany("UPDATE search_docs SET dirty = 0 WHERE docid = ?", [(d,) for d in clean])
    return out


def count_to_embed(store: Store, model: str) -> int:
    return store.query_one(
        "SELECT count(*) FROM search_docs d LEFT JOIN paper_vectors v ON v.model = ? AND v.docid = d.docid "
        "WHERE v.docid IS NULL OR d.dirty = 1", (model,))[0]


def save_vectors(store: Store, model: str, rows: list[tuple[int, str]], vectors: np.ndarray) -> None:
    """Store vectors (float16) for (docid, hash) rows and clear their dirty marks, atomically."""
    vec16 = np.asarray(vectors, dtype="<f2")
    with store.transaction() as conn:
        if store.dialect == "postgresql":  # the writing transaction's id: see vector_seq
            seq = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0]
        else:  # one writer at a time: max + 1 grows in commit order
            seq = conn.execute("SELECT COALESCE(max(seq), 0) + 1 FROM paper_vectors WHERE model = ?",
                               (model,)).fetchone()[0]
        conn.executemany(
            "INSERT INTO paper_vectors(model, docid, text_hash, seq, vector) VALUES (?,?,?,?,?) "
            "ON CONFLICT(model, docid) DO UPDATE SET text_hash = excluded.text_hash, seq = excluded.seq, "
            "vector = excluded.vector",
            [(model, d, h, seq, vec16[i].tobytes()) for i, (d, h) in enumerate(rows)])
        conn.executemany("UPDATE search_docs SET dirty = 0 WHERE docid = ?", [(d,) for d, _ in rows])


def iter_vectors(store: Store, model: str, after_seq: int = 0, batch: int = 20000,
                 upto_seq: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(docids, float32 matrix) batches of the stored vectors of ``model`` written after ``after_seq``
    (and, given ``upto_seq``, not after it: what vector_seq said was complete)."""
    last = -1
    upto = (1 << 62) if upto_seq is None else int(upto_seq)
    while True:
        rows = store.query("SELECT docid, vector FROM paper_vectors WHERE model = ? AND seq > ? AND seq <= ? "
                           "AND docid > ? ORDER BY docid LIMIT ?", (model, after_seq, upto, last, batch))
        if not rows:
            return
        last = rows[-1][0]
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        mat = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f2").reshape(len(rows), -1).astype(np.float32)
        yield ids, mat


def stored_vectors(store: Store, model: str, batch: int = 5000) -> Iterator[list[tuple[str, str, bytes]]]:
    """Batches of (paper id, text hash, float16 vector bytes) of every stored vector of ``model``."""
    last = -1
    while True:
        rows = store.query("SELECT v.docid, d.paper_id, v.text_hash, v.vector FROM paper_vectors v "
                           "JOIN search_docs d ON d.docid = v.docid WHERE v.model = ? AND v.docid > ? "
                           "ORDER BY v.docid LIMIT ?", (model, last, batch))
        if not rows:
            return
        last = rows[-1][0]
        yield [(r[1], r[2], r[3]) for r in rows]


def get_vectors(store: Store, model: str, docids: list[int]) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    for i in range(0, len(docids), 500):
        chunk = docids[i: i + 500]
        marks = ",".join("?" * len(chunk))
        for r in store.query(f"SELECT docid, vector FROM paper_vectors WHERE model = ? AND docid IN ({marks})",
                             (model, *chunk)):
            out[r[0]] = np.frombuffer(r[1], dtype="<f2").astype(np.float32)
    return out


def vector_count(store: Store, model: str) -> int:
    return store.query_one("SELECT count(*) FROM paper_vectors WHERE model = ?", (model,))[0]


def vector_seq(store: Store, model: str) -> int:
    """The latest write sequence number of ``model``'s vectors (0: none). Every vector written up
    to it is readable now, and any vector written later gets a higher number.

    On PostgreSQL the number is the id of the writing transaction, and transactions commit out
    of order: a vector of transaction 90 may become visible after one of transaction 95. So
    the number given is the highest below the oldest transaction still running (every
    transaction below that one has ended); later ones are picked up on a later call."""
    if store.dialect == "postgresql":
        return store.query_one(
            "SELECT COALESCE(max(seq), 0) FROM paper_vectors WHERE model = ? "
            "AND seq < pg_snapshot_xmin(pg_current_snapshot())::text::bigint", (model,))[0]
    return store.query_one("SELECT COALESCE(max(seq), 0) FROM paper_vectors WHERE model = ?", (model,))[0]


def meta_json(value) -> str:
    return json.dumps(value, sort_keys=True)


# -- external lexical index (tantivy) sync ---------------------------------------------------

def docs_after(store: Store, after: int, batch: int = 5000) -> list[tuple[int, str, str, str]]:
    """(docid, title, abstract, authors JSON) of papers with docid > after, in docid order."""
    return [(r[0], r[1], r[2], r[3]) for r in store.query(
        "SELECT d.docid, p.title_display, p.abstract_display, p.authors FROM search_docs d "
        "JOIN papers p ON p.id = d.paper_id WHERE d.docid > ? ORDER BY d.docid LIMIT ?", (after, batch))]


def changed_docs(store: Store, upto: int) -> list[tuple[int, tuple | None]]:
    """Changed/removed papers with docid <= upto: (docid, (title, abstract, authors) or None if gone)."""
    # DISTINCT: on PostgreSQL search_changes is a sequence with a row per change (0021)
    rows = store.query(
        "SELECT c.docid, p.title_display, p.abstract_display, p.authors FROM "
        "(SELECT DISTINCT docid FROM search_changes WHERE docid <= ?) c "
        "LEFT JOIN search_docs d ON d.docid = c.docid LEFT JOIN papers p ON p.id = d.paper_id "
        "ORDER BY c.docid", (upto,))
    return [(r[0], (r[1], r[2], r[3]) if r[1] is not None else None) for r in rows]


def clear_changes(store: Store, docids: list[int]) -> None:
    with store.transaction() as conn:
        conn.executemany("DELETE FROM search_changes WHERE docid = ?", [(d,) for d in docids])


def max_docid(store: Store) -> int:
    return store.query_one("SELECT COALESCE(max(docid), 0) FROM search_docs")[0]


def lexical_tail(store: Store, match: str, weights: tuple[float, float, float], after: int,
                 limit: int) -> list[tuple[int, str, float]]:
    """Lexical search restricted to papers added after ``after`` (FTS5 seeks by rowid)."""
    if store.dialect == "postgresql":
        return search_pg.lexical_tail(store, match, weights, after, limit)
    w = ", ".join(f"{float(x):.3f}" for x in weights)
    rows = store.query(
        f"SELECT f.rowid, d.paper_id, bm25(papers_fts, {w}) AS score FROM papers_fts f "
        f"JOIN search_docs d ON d.docid = f.rowid WHERE papers_fts MATCH ? AND f.rowid > ? ORDER BY score LIMIT ?",
        (match, after, limit))
    return [(r[0], r[1], r[2]) for r in rows]


def filtered_docids(store: Store, flt: FilterSQL, cap: int) -> list[int] | None:
    """The docids of visible papers passing ``flt``, or None when more than ``cap`` do."""
    rows = store.query(f"SELECT d.docid FROM papers p JOIN search_docs d ON d.paper_id = p.id "
                       f"WHERE p.hidden = 0{_and(flt)} LIMIT ?", (*flt.params, cap + 1))
    return None if len(rows) > cap else [r[0] for r in rows]


def title_phrase(store: Store, phrase: str, flt: FilterSQL, limit: int = 10) -> list[tuple[int, str]]:
    """(docid, paper_id) of visible papers whose title holds ``phrase`` (an FTS5 phrase string,
    already quoted), best BM25 first."""
    if store.dialect == "postgresql":
        return search_pg.title_phrase(store, phrase, flt, limit)
    sql = (f"SELECT f.rowid, d.paper_id FROM papers_fts f JOIN search_docs d ON d.docid = f.rowid "
           f"JOIN papers p ON p.id = d.paper_id WHERE papers_fts MATCH ? AND p.hidden = 0{_and(flt)} "
           f"ORDER BY bm25(papers_fts) LIMIT ?")
    return [(r[0], r[1]) for r in store.query(sql, (f"title : {phrase}", *flt.params, limit))]
