"""A tantivy BM25 index for large stores: the fast path of lexical ranking.

Why: SQLite FTS5 ranks by calling bm25() once per matching row, so an OR query over a
million papers touches hundreds of thousands of rows; tantivy ranks with block-max WAND
and skips most of them (figures: docs/search.md). FTS5 stays the index of record: it
is kept in sync by triggers, serves filters, prefix terms and small stores, and covers
papers added since the tantivy index was last synced (``rowid > synced``), so a new paper
is findable at once. This index is a folder that ``paperwire index`` brings up to date
(new papers; changed or removed ones via the ``search_changes`` table) and that can be
deleted and rebuilt from the store at any time. On PostgreSQL every app host keeps its own
folder and follows the store's change sequence (``paperwire.store.changes``), so a paper
added or changed through any host reaches every host's folder at its next sync. Its fields, tokenizers and boosts come from
the word contract, ``paperwire.search.analysis``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Iterable

from paperwire.search.analysis import FIELDS, STOPWORDS, TANTIVY_TOKENIZERS, english_stem, field_boosts
from paperwire.search.query import Clause
from paperwire.store import changes as store_changes
from paperwire.store import search_index as idx

log = logging.getLogger(__name__)

COMMON_FRACTION = 0.05  # a word in more abstracts than this is "common" (see search())
COMMON_MIN_DOCS = 10_000  # below this every word counts as rare: the index is small anyway


def index_folder(settings) -> Path:
    """Where the tantivy index of a store lives."""
    return settings.data_path / "lexical-tantivy"


def size_threshold(settings) -> int:
    """The number of papers from which a store ranks with this index (0: never)."""
    return int(getattr(settings, "fast_lexical_above", 0) or 0)


def available() -> bool:
    try:
        import tantivy  # noqa: F401
    except ImportError:
        return False
    return True


def _schema():
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("docid", stored=True, indexed=True, fast=True)
    for name in FIELDS:
        sb.add_text_field(name, stored=False, tokenizer_name=TANTIVY_TOKENIZERS[name])
    return sb.build()


def _authors_text(raw: str) -> str:
    try:
        return " ; ".join(json.loads(raw or "[]"))
    except ValueError:
        return raw or ""


class TantivyLexical:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.meta_file = self.folder / "paperwire.json"
        self._index = None
        self._lock = threading.Lock()
        self.synced = 0  # papers with docid <= synced are in the index
        self.common_min_docs = COMMON_MIN_DOCS

    def exists(self) -> bool:
        return self.meta_file.exists()

    def open(self) -> bool:
        if self._index is not None:
            return True
        if not self.exists():
            return False
        import tantivy

        with self._lock:
            if self._index is None:
                self._index = tantivy.Index(_schema(), path=str(self.folder))
                self.synced = int(json.loads(self.meta_file.read_text()).get("synced", 0))
        return True

    def reload(self) -> None:
        """Pick up a sync another process committed."""
        if self._index is not None and self.exists():
            self._index.reload()
            self.synced = int(json.loads(self.meta_file.read_text()).get("synced", 0))

    def _meta(self) -> dict:
        return json.loads(self.meta_file.read_text()) if self.exists() else {}

    def sync(self, store, progress=None, rebuild: bool = False) -> dict:
        """Bring the index up to date with the store: new papers, changed and removed ones
        (``paperwire.store.changes`` says which). ``progress("lexical", done, total)`` while a
        first build reads every paper."""
        import tantivy

        batch = None if rebuild else store_changes.read(store, self._meta())
        if batch is None or batch.rebuild:
            rebuild = True
            if self.folder.exists():
                shutil.rmtree(self.folder)
            with self._lock:
                self._index = None
            batch = store_changes.read(store, {})
        if (not rebuild and self.exists() and not batch.changed and not batch.more
                and (batch.new_after is None or idx.max_docid(store) <= batch.new_after)):
            return {"lexical_added": 0, "lexical_changed": 0}  # nothing new: no writer, no commit
        self.folder.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(_schema(), path=str(self.folder))
        writer = index.writer(heap_size=200_000_000, num_threads=min(2, os.cpu_count() or 1))
        last = int(batch.position.get("synced", 0))
        changed = added = 0
        done: list[store_changes.Batch] = []
        while True:
            for d, row in batch.changed:
                writer.delete_documents("docid", d)
                if row is not None:
                    writer.add_document(tantivy.Document(docid=d, title=row[0], abstract=row[1],
                                                         authors=_authors_text(row[2])))
                    last = max(last, d)
            changed += len(batch.changed)
            if batch.new_after is not None:
                total = idx.doc_count(store)
                after = batch.new_after
                while True:
                    rows = idx.docs_after(store, after, batch=20000)
                    if not rows:
                        break
                    for d, title, abstract, authors in rows:
                        writer.add_document(tantivy.Document(docid=d, title=title, abstract=abstract,
                                                             authors=_authors_text(authors)))
                    after = rows[-1][0]
                    last = max(last, after)
                    added += len(rows)
                    if progress:
                        progress("lexical", added, total)
            done.append(batch)
            if not batch.more:
                break
            batch = store_changes.read(store, {**batch.position, "synced": last})
        writer.commit()
        writer.wait_merging_threads()
        position = {**done[-1].position, "synced": last}
        tmp = self.meta_file.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(position))
        os.replace(tmp, self.meta_file)
        for b in done:
            store_changes.acknowledge(store, b)
        with self._lock:
            self._index = index
            self._index.reload()
            self.synced = last
        out = {"lexical_added": added, "lexical_changed": changed}
        if rebuild:
            out["lexical_rebuilt"] = True
        return out

    def search(self, parts: list[str], limit: int) -> tuple[list[tuple[int, float]], int]:
        """((docid, score) best first, number of matches) for the OR of ``parts`` (words or
        phrases, as tantivy_query() gives them).

        Words in more than COMMON_FRACTION of the abstracts ("model", "learning" in an ML
        corpus) only add to the score of papers that match a rarer word of the query, the way
        Lucene's CommonTermsQuery does: their BM25 weight is a few percent of a rare word's,
        but their long posting lists are most of the work (docs/search.md has what it cost
        and saved). The count is then of papers matching a rarer word."""
        idx_ = self._index
        if idx_ is None or not parts:
            return [], 0
        searcher = idx_.searcher()
        n = searcher.num_docs
        rare, common = [], []
        for body in parts:
            frequent = (" " not in body and n >= self.common_min_docs
                        and searcher.doc_freq("abstract", english_stem(body)) > COMMON_FRACTION * n)
            (common if frequent else rare).append(f'"{body}"')
        if rare and common:
            query = "+(" + " OR ".join(rare) + ") " + " ".join(common)
        else:
            query = " OR ".join(rare + common)
        q = idx_.parse_query(query, list(FIELDS), field_boosts=field_boosts())
        res = searcher.search(q, limit)
        out = []
        for score, addr in res.hits:
            out.append((int(searcher.doc(addr)["docid"][0]), float(score)))
        return out, int(res.count or len(out))


def tantivy_query(clauses: Iterable[Clause]) -> list[str] | None:
    """The words and phrases to search for parsed clauses, or None when the query needs FTS5
    (prefix terms).

    A hyphenated compound ("retrieval-augmented") becomes its parts as words (stopwords
    dropped), not a phrase: a phrase scorer reads positions for every document holding all
    its words and cannot skip blocks, which made title-length queries several times slower.
    Phrases the user quoted stay phrases."""
    parts: list[str] = []

    def add(body: str) -> None:
        body = " ".join(body.replace('"', " ").replace("\\", " ").split())
        if body and body not in parts:
            parts.append(body)

    for c in clauses:
        if c.kind == "prefix":
            return None
        if c.kind == "compound":
            for w in c.words:
                if w not in STOPWORDS:
                    add(w)
        else:
            add(" ".join(c.words))
    return parts or None
