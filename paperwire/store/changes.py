"""The change sequence that index folders follow (the tantivy lexical index of each host).

An index folder keeps its place in the store's changes as a small JSON-able dict (saved in the
folder's own meta file, after the folder's commit), and asks ``read`` what to apply next:

* SQLite (one machine; every process shares one folder): ``search_changes`` holds the documents
  changed or removed since the last sync, drained by the one process that syncs
  (``acknowledge``); new documents are those with a docid above the place (``synced``): one
  writer at a time, so docids grow in commit order.
* PostgreSQL (several hosts, each with its own folder): ``search_changes`` is a sequence nobody
  drains (migrations_pg/0021), ordered by (writing transaction, id). Transactions commit out of
  order, so neither a docid nor a serial number can serve as the place. A reader takes the rows
  of transactions older than the oldest transaction still running (all of them have ended, so
  none of their rows can still appear) and keeps the last (seq, id) it applied. A folder built
  from scratch first notes that bound, then reads every document (a row that commits meanwhile
  is replayed from the sequence: applying a document twice is a delete and an add). Rows older
  than ``KEEP_DAYS`` are pruned; a folder whose place is older than that is rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from paperwire.store import search_index as idx

KEEP_DAYS = 7
_PRUNED = "search_changes:pruned"  # checkpoint: the highest seq pruned away (PostgreSQL)
_XMIN = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


@dataclass
class Batch:
    """What a folder applies next: ``changed`` documents (deleted, then added again with their
    current text, or only deleted when the paper is gone), then every document with a docid
    above ``new_after`` (None: none to scan). ``position`` is the folder's place once it has
    committed them; ``rebuild``: the place was pruned away, the folder must start over."""

    changed: list[tuple[int, tuple | None]] = field(default_factory=list)
    new_after: int | None = None
    position: dict = field(default_factory=dict)
    rebuild: bool = False
    more: bool = False  # the sequence has more rows than this batch holds: read again


def _pg(store) -> bool:
    return store.dialect == "postgresql"


def read(store, position: dict | None, limit: int = 50_000) -> Batch:
    position = dict(position or {})
    synced = int(position.get("synced", 0))
    if not _pg(store):
        return Batch(idx.changed_docs(store, synced), synced, position)
    if "log" not in position:
        # a first build (or a folder written before the sequence existed): every document is
        # read from the table; the sequence is followed from the transactions still running
        bound = store.query_one(f"SELECT {_XMIN}")[0]
        position["log"] = [int(bound) - 1, 1 << 62]
        return Batch([], synced, position)
    seq, row_id = (int(x) for x in position["log"])
    pruned = store.get_checkpoint(_PRUNED)
    if pruned is not None and seq < int(pruned):
        return Batch(rebuild=True)
    rows = store.query(f"SELECT seq, id, docid FROM search_changes WHERE (seq, id) > (?, ?) AND seq < {_XMIN} "
                       f"ORDER BY seq, id LIMIT ?", (seq, row_id, limit))
    if not rows:
        return Batch([], None, position)
    position["log"] = [int(rows[-1][0]), int(rows[-1][1])]
    docids = list(dict.fromkeys(int(r[2]) for r in rows))
    return Batch(_texts(store, docids), None, position, more=len(rows) >= limit)


def _texts(store, docids: list[int]) -> list[tuple[int, tuple | None]]:
    found: dict[int, tuple] = {}
    for i in range(0, len(docids), 500):
        chunk = docids[i: i + 500]
        for r in store.query("SELECT d.docid, p.title_display, p.abstract_display, p.authors FROM search_docs d "
                             "JOIN papers p ON p.id = d.paper_id WHERE d.docid = ANY(?)", (chunk,)):
            found[int(r[0])] = (r[1], r[2], r[3])
    return [(d, found.get(d)) for d in docids]


def acknowledge(store, batch: Batch) -> None:
    """After the folder committed ``batch``: on SQLite the drained rows go (PostgreSQL keeps the
    sequence for the other hosts)."""
    if not _pg(store) and batch.changed:
        idx.clear_changes(store, [d for d, _ in batch.changed])


def prune(store, keep_days: int = KEEP_DAYS) -> int:
    """Drop sequence rows older than ``keep_days`` (PostgreSQL; a host that has been away
    longer rebuilds its folder). Returns how many rows went."""
    if not _pg(store):
        return 0
    with store.transaction() as conn:
        row = conn.execute("SELECT max(seq), count(*) FROM search_changes WHERE at < now() - make_interval(days => ?)",
                           (int(keep_days),)).fetchone()
        if not row or not row[1]:
            return 0
        # whole transactions only: a place inside the last pruned transaction counts as pruned
        n = conn.execute("DELETE FROM search_changes WHERE seq <= ?", (row[0],)).rowcount
        store.set_checkpoint(_PRUNED, str(int(row[0]) + 1), conn=conn)
        return n


def position_of(store) -> dict:
    """Where the sequence stands now (for status lines): the newest document and, on
    PostgreSQL, how many sequence rows there are."""
    out = {"documents": idx.doc_count(store), "max_docid": idx.max_docid(store)}
    if _pg(store):
        out["sequence_rows"] = store.query_one("SELECT count(*) FROM search_changes")[0]
    return out
