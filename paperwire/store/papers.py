"""Papers in the store: merge rules, batched upserts and reads.

Merge rule (one paper per arXiv id, many sources): a record reporting a newer
version (or a later update date) than the stored one replaces the text fields; a record of the same
version replaces them too (the latest report of one version wins); a record of an
older version only fills fields that are empty. Versions, sources and
Hugging Face data accumulate. A record that changes nothing writes nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Iterable

from paperwire.models import CODE_KINDS, HFEntry, Link, Paper, Version
from paperwire.store import bulk_pg
from paperwire.store.sqlite import Store, utcnow
from paperwire.text import classify_link, display_text, extract_links

TEXT_FIELDS = ("title", "abstract", "comments", "journal_ref", "doi", "license", "submitter")


@dataclasses.dataclass
class UpsertResult:
    stored: int = 0  # new papers
    updated: int = 0  # existing papers whose content changed
    unchanged: int = 0


def _rank(p: Paper) -> int:
    return p.latest_version or 0


def merge(old: Paper | None, new: Paper) -> Paper:
    """The paper as it should be stored after seeing ``new`` (pure function)."""
    if old is None:
        merged = Paper.__new__(Paper)  # a shallow copy, cheaper than copy.copy / dataclasses.replace
        merged.__dict__.update(new.__dict__)
        merged.versions, merged.links = list(new.versions), []
        merged.authors, merged.categories = list(new.authors), list(new.categories)
    else:
        merged = dataclasses.replace(old, versions=list(old.versions), links=[])
        # OAI-PMH's arXiv format gives no version numbers, only the latest version's date: a
        # record updated later than what is stored is newer even when its known versions are fewer
        newer_or_same = _rank(new) >= _rank(old) or bool(
            new.updated and old.updated and new.updated[:10] > old.updated[:10])
        for f in TEXT_FIELDS:
            val = getattr(new, f)
            if val and (newer_or_same or not getattr(old, f)):
                setattr(merged, f, val)
        if new.authors and (newer_or_same or not old.authors):
            merged.authors = list(new.authors)
        if new.categories and (newer_or_same or not old.categories):
            merged.categories = list(new.categories)
        by_num = {v.number: v for v in old.versions}
        for v in new.versions:
            cur = by_num.get(v.number)
            by_num[v.number] = Version(v.number, (cur and cur.created) or v.created, (cur and cur.size) or v.size) if cur else v
        merged.versions = [by_num[k] for k in sorted(by_num)]
    merged.published, merged.updated, merged.listed = _dates(merged.versions, new, old)
    merged.title_display = display_text(merged.title)
    merged.abstract_display = display_text(merged.abstract)
    merged.links = extract_links(merged.abstract, merged.comments)
    return merged


def _dates(versions: list[Version], new: Paper, old: Paper | None) -> tuple[str | None, str | None, str | None]:
    """(published, updated, listed) of the merged paper with these versions."""
    dates = [v.created for v in versions if v.created]
    if old is None and new.published is None and new.updated is None and new.listed is None:
        # a new paper from a record that gives only version dates (every snapshot record): the
        # general formula below with nothing else to weigh, computed cheaply
        return (dates[0], max(dates), None) if dates else (None, None, None)
    o_pub, o_upd, o_listed = (old.published, old.updated, old.listed) if old else (None, None, None)
    published = min(filter(None, (*dates[:1], new.published, o_pub)), default=None)
    return (published, max(filter(None, (*dates, new.updated, o_upd, published)), default=None),
            min(filter(None, (new.listed, o_listed)), default=None))


def _content_key(p: Paper) -> tuple:
    return (
        p.title, p.abstract, tuple(p.authors), tuple(p.categories), p.comments, p.journal_ref, p.doi,
        p.license, p.submitter, p.published, p.updated, p.listed,
        tuple((v.number, v.created, v.size) for v in p.versions),
        tuple(sorted((l.url, l.kind) for l in p.links if l.origin == "text")),
    )


# -- reading ---------------------------------------------------------------------------------

_PAPER_COLS = ("id, title, title_display, abstract, abstract_display, authors, categories, comments, "
               "journal_ref, doi, license, submitter, published, updated, listed, hidden")


def _row_to_paper(row: sqlite3.Row) -> Paper:
    return Paper(
        id=row["id"], title=row["title"], title_display=row["title_display"], abstract=row["abstract"],
        abstract_display=row["abstract_display"], authors=json.loads(row["authors"]),
        categories=json.loads(row["categories"]), comments=row["comments"], journal_ref=row["journal_ref"],
        doi=row["doi"], license=row["license"], submitter=row["submitter"], published=row["published"],
        updated=row["updated"], listed=row["listed"], hidden=bool(row["hidden"]),
    )


def get_papers(store: Store, ids: Iterable[str], with_details: bool = True) -> dict[str, Paper]:
    """Papers by id (missing ids are absent from the result), with versions, links, sources and HF data."""
    ids = list(dict.fromkeys(ids))
    out: dict[str, Paper] = {}
    conn = store.conn
    for i in range(0, len(ids), 500):
        chunk = ids[i: i + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT {_PAPER_COLS} FROM papers WHERE id IN ({marks})", chunk):
            out[row["id"]] = _row_to_paper(row)
        if not with_details or not out:
            continue
        for r in conn.execute(f"SELECT paper_id, version, created, size FROM versions WHERE paper_id IN ({marks}) ORDER BY paper_id, version", chunk):
            out[r[0]].versions.append(Version(r[1], r[2], r[3]))
        for r in conn.execute(f"SELECT paper_id, url, kind, origin FROM links WHERE paper_id IN ({marks}) ORDER BY paper_id", chunk):
            out[r[0]].links.append(Link(r[1], r[2], r[3]))
        for r in conn.execute(f"SELECT paper_id, source FROM paper_sources WHERE paper_id IN ({marks}) ORDER BY first_seen", chunk):
            out[r[0]].sources.append(r[1])
        for r in conn.execute(f"SELECT paper_id, upvotes, featured_on FROM hf_daily WHERE paper_id IN ({marks})", chunk):
            out[r[0]].hf_upvotes, out[r[0]].hf_featured_on = r[1], r[2]
    return {i: out[i] for i in ids if i in out}


def get_paper(store: Store, paper_id: str) -> Paper | None:
    return get_papers(store, [paper_id]).get(paper_id)


def latest_papers(store: Store, limit: int = 20, offset: int = 0, include_hidden: bool = False) -> list[Paper]:
    where = "" if include_hidden else "WHERE hidden = 0"
    ids = [r[0] for r in store.query(
        f"SELECT id FROM papers {where} ORDER BY COALESCE(listed, substr(published, 1, 10)) DESC, id DESC LIMIT ? OFFSET ?",
        (limit, offset))]
    return list(get_papers(store, ids).values())


def has_papers(store: Store) -> bool:
    return store.query_one("SELECT 1 FROM papers LIMIT 1") is not None


def stats(store: Store) -> dict:
    q = store.query_one
    out = {
        "papers": q("SELECT count(*) FROM papers")[0],
        "versions": q("SELECT count(*) FROM versions")[0],
        "with_code": q("SELECT count(DISTINCT paper_id) FROM links WHERE kind IN ('github','gitlab')")[0],
        "links": q("SELECT count(*) FROM links")[0],
        "hf_daily": q("SELECT count(*) FROM hf_daily")[0],
        "first_listed": q("SELECT min(listed) FROM papers")[0],
        "last_listed": q("SELECT max(listed) FROM papers")[0],
        "first_published": q("SELECT min(published) FROM papers")[0],
        "last_published": q("SELECT max(published) FROM papers")[0],
    }
    out["by_source"] = {r[0]: r[1] for r in store.query("SELECT source, count(*) FROM paper_sources GROUP BY source ORDER BY 2 DESC")}
    out["top_categories"] = {r[0]: r[1] for r in store.query(
        "SELECT primary_category, count(*) FROM papers WHERE primary_category IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 10")}
    return out


# -- writing ---------------------------------------------------------------------------------

def record_hash(item: Paper | HFEntry) -> str:
    """A stable fingerprint of one source record (what the parser produced, before merging)."""
    if not isinstance(item, HFEntry) and item.fingerprint is not None:
        return item.fingerprint  # its parser's own (a JSON line's hash)
    rec = item.paper if isinstance(item, HFEntry) else item
    # joining strings is cheaper than repr() of the tuple; the separators cannot occur in
    # the text fields (control characters), so different records cannot join to the same string
    parts = [rec.id, rec.title, rec.abstract, "\x1e".join(rec.authors), "\x1e".join(rec.categories), rec.comments,
             rec.journal_ref, rec.doi, rec.license, rec.submitter, rec.published, rec.updated, rec.listed,
             "\x1e".join(f"{v.number}\x1d{v.created}\x1d{v.size}" for v in rec.versions)]
    if isinstance(item, HFEntry):  # upvotes and stars change while the paper stays the same
        parts += [item.featured_on, str(item.upvotes), item.submitted_by, item.github_repo, str(item.github_stars),
                  item.project_page, json.dumps(item.item, sort_keys=True) if item.item is not None else None]
    key = "\x1f".join("\x00" if x is None else x for x in parts)
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


# -- prepared records --------------------------------------------------------------------------
# A bulk import prepares each record in a parser process (paperwire.ingest.parallel): everything
# that does not depend on the store (the fingerprint, the display text, the links, the rows a
# new paper is stored as) is computed there, on the other core, and sent as a plain tuple (a
# tuple pickles far cheaper than a Paper). A paper the parser process saw stored already gets
# a light tuple (the record's fields only): it is most likely unchanged (skipped on its
# fingerprint) or merged with the stored paper here. Whatever the parser saw, the writer decides
# from the store inside its transaction; either kind of tuple turns back into the Paper it
# came from.
PREP_ID, PREP_HASH, PREP_ROW, PREP_AUTHORS, PREP_CATEGORIES, PREP_VERSIONS, PREP_LINKS, PREP_RAW = range(8)
Prepared = tuple


def prepare(rec: Paper, stored: bool = False) -> Prepared:
    """(id, fingerprint, papers row without its timestamps, authors, categories, versions, links,
    the record's own (published, updated, listed)) of one source record: what ``merge(None,
    rec)`` would store. ``stored``: the paper is probably stored already, so only the record's
    fields are kept (row None, links None, then its text fields)."""
    versions = tuple([(v.number, v.created, v.size) for v in rec.versions]) if rec.versions else ()
    raw = (rec.published, rec.updated, rec.listed)
    if stored:
        return (rec.id, record_hash(rec), None, rec.authors, rec.categories, versions, None, raw,
                (rec.title, rec.abstract, rec.comments, rec.journal_ref, rec.doi, rec.license, rec.submitter))
    # _paper_row(merge(None, rec)) without merge's copy of the Paper, which costs more than the row
    row = _row(rec, display_text(rec.title), display_text(rec.abstract), *_dates(rec.versions, rec, None))
    return (rec.id, record_hash(rec), row, rec.authors, rec.categories, versions,
            tuple((l.url, l.kind) for l in extract_links(rec.abstract, rec.comments)), raw)


def _prepared_record(p: Prepared) -> Paper:
    """The source record a prepared tuple was made from."""
    row = p[PREP_ROW]
    title, abstract, comments, journal_ref, doi, license_, submitter = (
        p[8] if row is None else (row[1], row[3], row[8], row[9], row[10], row[11], row[12]))
    return Paper(id=p[PREP_ID], title=title, abstract=abstract, authors=list(p[PREP_AUTHORS]),
                 categories=list(p[PREP_CATEGORIES]), comments=comments, journal_ref=journal_ref, doi=doi,
                 license=license_, submitter=submitter, versions=[Version(*v) for v in p[PREP_VERSIONS]],
                 published=p[PREP_RAW][0], updated=p[PREP_RAW][1], listed=p[PREP_RAW][2])


def _prepared_paper(p: Prepared) -> Paper:
    """``merge(None, record)`` of a full prepared tuple."""
    row = p[PREP_ROW]
    paper = _prepared_record(p)
    paper.title_display, paper.abstract_display = row[2], row[4]
    paper.published, paper.updated, paper.listed = row[13], row[14], row[15]
    paper.links = [Link(u, k) for u, k in p[PREP_LINKS]]
    return paper


def stored_ids(store: Store, ids: list[str]) -> set[str]:
    """Which of these papers are stored (a read; the parser process asks, to prepare less)."""
    out: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i: i + 500]
        out.update(r[0] for r in store.conn.execute(
            f"SELECT id FROM papers WHERE id IN ({','.join('?' * len(chunk))})", chunk))
    return out


def upsert_papers(store: Store, items: list[Paper | HFEntry | Prepared], source: str, source_ref: str | None = None,
                  conn: sqlite3.Connection | None = None, bulk: bool = False) -> UpsertResult:
    """Merge a batch of records into the store. Call inside ``store.transaction()`` to make the
    batch atomic together with a checkpoint; on its own it opens its own transaction.

    Fast paths, because bulk imports are mostly "new paper" or "same record again":
    a record whose fingerprint equals the one this source reported last time is skipped
    without reading the stored paper; papers not yet stored are inserted with one
    ``executemany`` per table for the whole batch (COPY on PostgreSQL).

    ``bulk`` (inside a batch deferred by ``paperwire.store.bulk.defer``): new papers are stored
    without their author and category rows, which the bulk catch-up writes.
    """
    if conn is None:
        with store.transaction() as c:
            return upsert_papers(store, items, source, source_ref, conn=c, bulk=bulk)
    result = UpsertResult()
    now = utcnow()
    hashes = [i[PREP_HASH] if type(i) is tuple else record_hash(i) for i in items]
    recs = [i[PREP_ID] if type(i) is tuple else (i.paper if isinstance(i, HFEntry) else i).id for i in items]
    seen_hash = _stored_hashes(conn, source, list(dict.fromkeys(recs)))
    todo = [(item, pid, h) for item, pid, h in zip(items, recs, hashes) if seen_hash.get(pid) != h]
    skipped_ids = {pid for pid, h in zip(recs, hashes) if seen_hash.get(pid) == h} - {pid for _, pid, _ in todo}
    result.unchanged += len(skipped_ids)
    existing = get_papers(store, list(dict.fromkeys(pid for _, pid, _ in todo)))
    hf_rows = []
    touched: dict[str, tuple[Paper | None, Paper]] = {}
    fresh: dict[str, Prepared] = {}  # new papers whose prepared rows are stored as they are
    last_hash: dict[str, str] = {}
    # Several records of one paper in a batch merge in order.
    for item, pid, h in todo:
        last_hash[pid] = h
        if type(item) is tuple:
            if item[PREP_ROW] is not None and pid not in existing and pid not in touched and pid not in fresh:
                fresh[pid] = item
                continue
            rec = _prepared_record(item)
        else:
            rec = item.paper if isinstance(item, HFEntry) else item
        if pid in fresh:  # a second record of a paper new in this batch
            touched[pid] = (None, _prepared_paper(fresh.pop(pid)))
        before = touched[pid][0] if pid in touched else existing.get(pid)
        current = touched[pid][1] if pid in touched else before
        touched[pid] = (before, merge(current, rec))
        if isinstance(item, HFEntry):
            hf_rows.append((pid, item.featured_on, item.upvotes, item.submitted_by, item.github_repo,
                            item.github_stars, item.project_page, now,
                            json.dumps(item.item, ensure_ascii=False) if item.item is not None else None,
                            item.ai_summary, json.dumps(item.ai_keywords) if item.ai_keywords is not None else None,
                            json.dumps(item.organization) if item.organization else None, item.num_comments))
    new = [m for b, m in touched.values() if b is None]
    if new or fresh:
        _insert_new(conn, new, now, list(fresh.values()), derived=not bulk)
        result.stored += len(new) + len(fresh)
    for pid, (before, merged) in touched.items():
        if before is None:
            continue
        if _content_key(before) == _content_key(merged):
            result.unchanged += 1
        else:
            _write_paper(conn, merged, now, is_new=False)
            result.updated += 1
    # a paper this source never reported has no row to update (the batch holds the write lock)
    _many(conn, "INSERT INTO paper_sources(paper_id, source, source_ref, first_seen, last_seen, record_hash) "
          "VALUES (?,?,?,?,?,?)", [(pid, source, source_ref, now, now, h) for pid, h in last_hash.items()
                                   if pid not in seen_hash])
    conn.executemany(
        "INSERT INTO paper_sources(paper_id, source, source_ref, first_seen, last_seen, record_hash) VALUES (?,?,?,?,?,?) "
        "ON CONFLICT(paper_id, source) DO UPDATE SET last_seen=excluded.last_seen, record_hash=excluded.record_hash, "
        "source_ref=COALESCE(excluded.source_ref, paper_sources.source_ref)",
        [(pid, source, source_ref, now, now, h) for pid, h in last_hash.items() if pid in seen_hash])
    _write_hf_rows(conn, hf_rows)
    return result


def _stored_hashes(conn: sqlite3.Connection, source: str, ids: list[str]) -> dict[str, str | None]:
    """{paper id: the record hash `source` reported last time} for the ids it reported before."""
    seen: dict[str, str | None] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i: i + 500]
        seen.update(conn.execute(
            f"SELECT paper_id, record_hash FROM paper_sources WHERE source=? AND paper_id IN ({','.join('?' * len(chunk))})",
            [source, *chunk]).fetchall())
    return seen


def _write_hf_rows(conn: sqlite3.Connection, hf_rows: list[tuple]) -> None:
    """Hugging Face's daily-paper rows (featured day, upvotes, submitter, repository, stars,
    project page, the AI summary and keywords, organisation, comment count and the whole item),
    the day it was featured on (hf_featured: a paper can be featured on several days) and the
    code repository it reports as an 'hf' link. Upvotes only grow (the largest count seen is
    kept); the other fields take the newest non-empty value."""
    for row in hf_rows:
        conn.execute(
            "INSERT INTO hf_daily(paper_id, featured_on, upvotes, submitted_by, github_repo, github_stars, project_page, "
            "seen_at, item, ai_summary, ai_keywords, organization, num_comments) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(paper_id) DO UPDATE SET "
            "featured_on=COALESCE(hf_daily.featured_on, excluded.featured_on), "
            "upvotes=CASE WHEN COALESCE(excluded.upvotes, 0) > COALESCE(hf_daily.upvotes, 0) "
            "THEN COALESCE(excluded.upvotes, 0) ELSE COALESCE(hf_daily.upvotes, 0) END, "
            "submitted_by=COALESCE(excluded.submitted_by, hf_daily.submitted_by), "
            "github_repo=COALESCE(excluded.github_repo, hf_daily.github_repo), "
            "github_stars=COALESCE(excluded.github_stars, hf_daily.github_stars), "
            "project_page=COALESCE(excluded.project_page, hf_daily.project_page), seen_at=excluded.seen_at, "
            "item=COALESCE(excluded.item, hf_daily.item), ai_summary=COALESCE(excluded.ai_summary, hf_daily.ai_summary), "
            "ai_keywords=COALESCE(excluded.ai_keywords, hf_daily.ai_keywords), "
            "organization=COALESCE(excluded.organization, hf_daily.organization), "
            "num_comments=COALESCE(excluded.num_comments, hf_daily.num_comments)", row)
        if row[1]:
            conn.execute("INSERT INTO hf_featured(day, paper_id) VALUES (?, ?) ON CONFLICT DO NOTHING", (row[1], row[0]))
        if row[4]:
            link = classify_link(row[4])
            if link is not None and link.kind in CODE_KINDS:
                conn.execute("INSERT INTO links(paper_id, url, kind, origin) VALUES (?,?,?,'hf') ON CONFLICT DO NOTHING",
                             (row[0], link.url, link.kind))


_INSERT_PAPER = (
    "INSERT INTO papers(id, title, title_display, abstract, abstract_display, authors, categories, primary_category, "
    "comments, journal_ref, doi, license, submitter, published, updated, listed, latest_version, created_at, changed_at) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")


COPY_MIN = 50  # rows from which COPY beats one INSERT per row on PostgreSQL (a batch, not one paper)


def _many(conn: sqlite3.Connection, sql: str, rows: list[tuple]) -> None:
    """``conn.executemany(sql, rows)``; on PostgreSQL a batch goes with COPY instead (one INSERT
    per row there is a round trip each: most of what storing a new paper cost)."""
    if not rows:
        return
    if getattr(conn, "dialect", "sqlite") == "postgresql" and len(rows) >= COPY_MIN:
        bulk_pg.executemany_copy(conn, sql, rows)
    else:
        conn.executemany(sql, rows)


def _json_strings(items: list[str], ensure_ascii: bool = True) -> str:
    """``json.dumps(items, ensure_ascii=...)`` of a list of strings: the same text, cheaper."""
    try:
        return "[" + ", ".join(map(encode_basestring_ascii if ensure_ascii else encode_basestring, items)) + "]"
    except TypeError:  # not all strings
        return json.dumps(items, ensure_ascii=ensure_ascii)


def _paper_row(p: Paper) -> tuple:
    """The papers row without created_at/changed_at."""
    return _row(p, p.title_display, p.abstract_display, p.published, p.updated, p.listed)


def _row(p: Paper, title_display: str, abstract_display: str, published: str | None, updated: str | None,
         listed: str | None) -> tuple:
    """The papers row of ``p`` with these display texts and dates (the one place that knows its columns)."""
    return (p.id, p.title, title_display, p.abstract or "", abstract_display,
            _json_strings(p.authors, ensure_ascii=False), _json_strings(p.categories), p.primary_category, p.comments,
            p.journal_ref, p.doi, p.license, p.submitter, published, updated, listed, p.latest_version)


def _paper_values(p: Paper, now: str) -> tuple:
    return _paper_row(p) + (now, now)


def _insert_new(conn: sqlite3.Connection, papers: list[Paper], now: str, prepared: list[Prepared] = (),
                derived: bool = True) -> None:
    """Papers known to be absent: plain inserts, one executemany per table, in id order (the
    tables are keyed by paper id, so inserting in key order keeps b-tree pages together).
    ``derived``: the author and category rows too (a bulk import leaves them to its catch-up)."""
    rows = [_paper_row(p) for p in papers] + [p[PREP_ROW] for p in prepared]
    rows.sort()
    stamp = (now, now)
    _many(conn, _INSERT_PAPER, [r + stamp for r in rows])
    _insert_children(conn, sorted([_child_lists(p) for p in papers]
                                  + [(p[PREP_ID], p[PREP_AUTHORS], p[PREP_CATEGORIES], p[PREP_VERSIONS], p[PREP_LINKS])
                                     for p in prepared], key=lambda x: x[0]), derived)


def _child_lists(p: Paper) -> tuple:
    """(id, authors, categories, versions, links) as _insert_children takes them."""
    return (p.id, p.authors, p.categories, [(v.number, v.created, v.size) for v in p.versions],
            [(l.url, l.kind) for l in p.links])


def _insert_children(conn: sqlite3.Connection, lists: list[tuple], derived: bool = True) -> None:
    """The rows of the child tables for (id, authors, categories, versions, links) entries
    (``derived``: author and category rows too; bulk.catch_up_derived writes the same rows)."""
    if derived:
        _many(conn, "INSERT INTO paper_authors(paper_id, position, name) VALUES (?,?,?)",
              [(pid, i, a) for pid, authors, _, _, _ in lists for i, a in enumerate(authors)])
        _many(conn, "INSERT INTO paper_categories(paper_id, category, position) VALUES (?,?,?) ON CONFLICT DO NOTHING",
              [(pid, c, i) for pid, _, cats, _, _ in lists for i, c in enumerate(cats)])
    _many(conn, "INSERT INTO versions(paper_id, version, created, size) VALUES (?,?,?,?)",
          [(pid, *v) for pid, _, _, versions, _ in lists for v in versions])
    _many(conn, "INSERT INTO links(paper_id, url, kind, origin) VALUES (?,?,?,'text') ON CONFLICT DO NOTHING",
          [(pid, *l) for pid, _, _, _, links in lists for l in links])


def _write_paper(conn: sqlite3.Connection, p: Paper, now: str, is_new: bool) -> None:
    conn.execute(
        _INSERT_PAPER + " ON CONFLICT(id) DO UPDATE SET "
        "title=excluded.title, title_display=excluded.title_display, abstract=excluded.abstract, "
        "abstract_display=excluded.abstract_display, authors=excluded.authors, categories=excluded.categories, "
        "primary_category=excluded.primary_category, comments=excluded.comments, journal_ref=excluded.journal_ref, "
        "doi=excluded.doi, license=excluded.license, submitter=excluded.submitter, published=excluded.published, "
        "updated=excluded.updated, listed=excluded.listed, latest_version=excluded.latest_version, "
        "changed_at=excluded.changed_at", _paper_values(p, now))
    if not is_new:
        for table in ("paper_authors", "paper_categories", "versions"):
            conn.execute(f"DELETE FROM {table} WHERE paper_id=?", (p.id,))
        conn.execute("DELETE FROM links WHERE paper_id=? AND origin='text'", (p.id,))
    _insert_children(conn, [_child_lists(p)])
