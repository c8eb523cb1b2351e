"""Index folders of several app hosts over one real PostgreSQL database: a host that starts
empty builds its tantivy and vector folders from the database and says how far it is; a paper
stored, changed or removed through one host is found (or no longer found) by words and by
meaning on the other within seconds; the change sequence never skips a transaction that
commits late; a host away longer than the sequence is kept rebuilds."""

from __future__ import annotations

import time

import psycopg
import pytest

from pg_support import pg_server, pg_url  # noqa: F401
from paperwire.config import Settings
from paperwire.models import Paper, Version
from paperwire.search import indexer
from paperwire.search import tantivy as tantivy_index
from paperwire.search.engine import SearchEngine
from paperwire.search.query import content_clauses
from paperwire.store import changes, open_store
from paperwire.store import search_index as si
from paperwire.store.papers import upsert_papers

TOPICS = ["graph neural networks for molecules", "speech recognition with transformers", "protein folding",
          "reinforcement learning for robots", "image segmentation in medicine", "quantum error correction"]


def paper(i: int, title: str | None = None) -> Paper:
    topic = TOPICS[i % len(TOPICS)]
    return Paper(id=f"2501.{i:05d}", title=title or f"{topic.capitalize()} study {i}",
                 abstract=f"We study {topic}. Experiment {i} shows gains.", authors=[f"Author {i}"],
                 versions=[Version(1, "2025-01-02T00:00:00Z")])


class Host:
    """One app host: its own data folder (index folders), its own store connections and engine."""

    def __init__(self, url: str, folder, model_cache: str):
        self.settings = Settings.load(env={}, db=url, data_dir=str(folder), embed_model="minilm",
                                      model_cache=model_cache, fast_lexical_above=1)
        self.store = open_store(url)
        self.engine = SearchEngine(self.store, self.settings)
        self.lines: list[str] = []
        self.follower = indexer.Follower(self.store, self.settings, engine=self.engine, interval=0.2,
                                         progress=lambda *a: self.lines.append(indexer.progress_line(*a)))

    def words(self, text: str) -> list[str]:
        """Paper ids tantivy (this host's folder, not the database) finds for ``text``."""
        fast = tantivy_index.TantivyLexical(tantivy_index.index_folder(self.settings))
        assert fast.open()
        hits, _ = fast.search(tantivy_index.tantivy_query(content_clauses(text)), 10)
        names = si.papers_for_docs(self.store, [d for d, _ in hits])
        return [names[d] for d, _ in hits if d in names]

    def meaning(self, text: str) -> str | None:
        res = self.engine.search(text, mode="semantic", limit=1)
        return res.hits[0].paper_id if res.hits else None

    def close(self) -> None:
        self.follower.stop()
        self.engine.close()
        self.store.close()


@pytest.fixture
def two_hosts(pg_url, tmp_path, model_cache):
    a, b = Host(pg_url, tmp_path / "a", model_cache), Host(pg_url, tmp_path / "b", model_cache)
    yield a, b
    a.close(), b.close()


def until(check, seconds: float = 5.0):
    end = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.1)


def test_an_empty_host_builds_its_folders_from_the_database_and_says_how_far(two_hosts):
    a, b = two_hosts
    upsert_papers(a.store, [paper(i) for i in range(1, 61)], "listing")
    assert indexer.sync_host(a.store, a.settings, engine=a.engine, embed=True)["embedded"] == 60
    assert not tantivy_index.index_folder(b.settings).exists()
    first = b.follower.run_once()
    assert first["lexical_added"] == 60 and first["vectors"] == 60
    assert "lexical index: 60 / 60 papers" in b.lines and "vector index: 60 / 60 papers" in b.lines
    assert b.words("protein folding")[:1] and set(b.words("protein folding")) == set(a.words("protein folding"))
    assert b.meaning("folding of proteins") == a.meaning("folding of proteins") is not None
    again = b.follower.run_once()  # nothing new: nothing re-read
    assert again["lexical_added"] == 0 and again["lexical_changed"] == 0


def test_a_paper_stored_through_one_host_is_found_on_the_other_within_seconds(two_hosts):
    a, b = two_hosts
    upsert_papers(a.store, [paper(i) for i in range(1, 31)], "listing")
    indexer.sync_host(a.store, a.settings, engine=a.engine, embed=True)
    b.follower.run_once()
    b.follower.start()
    new = Paper(id="2502.00001", title="Zeolite catalysts for ammonia synthesis",
                abstract="Porous zeolite frameworks make ammonia from nitrogen at low pressure.",
                versions=[Version(1, "2025-02-01T00:00:00Z")])
    t0 = time.monotonic()
    upsert_papers(a.store, [new], "listing")
    indexer.sync_host(a.store, a.settings, engine=a.engine, embed=True)  # host A embeds what it stored
    assert until(lambda: b.words("zeolite") == [new.id])
    assert until(lambda: b.meaning("catalysis of ammonia production") == new.id)
    assert time.monotonic() - t0 < 5.0
    # changed through host A: the old title's word leaves host B's folder, the new one arrives
    upsert_papers(a.store, [Paper(id=new.id, title="Perovskite catalysts for ammonia synthesis",
                                  abstract="Perovskite oxides make ammonia from nitrogen at low pressure.",
                                  versions=[Version(1, "2025-02-01T00:00:00Z"), Version(2, "2025-02-03T00:00:00Z")])],
                  "oai")
    assert until(lambda: b.words("perovskite") == [new.id])
    assert until(lambda: b.words("zeolite") == [])
    # removed: gone from host B's folder
    a.store.conn.execute("DELETE FROM papers WHERE id = ?", (new.id,))
    assert until(lambda: b.words("perovskite") == [])


def test_the_change_sequence_never_skips_a_transaction_that_commits_late(pg_url):
    store = open_store(pg_url)
    upsert_papers(store, [paper(1)], "listing")
    start = changes.read(store, {})  # a first build: the place is noted, every document read
    assert start.new_after == 0 and "log" in start.position
    with psycopg.connect(pg_url) as slow, psycopg.connect(pg_url, autocommit=True) as fast:
        slow.execute("INSERT INTO papers(id, title, title_display, created_at, changed_at) "
                     "VALUES ('2501.00002', 't', 'Late paper', 'x', 'x')")  # open, not committed
        fast.execute("INSERT INTO papers(id, title, title_display, created_at, changed_at) "
                     "VALUES ('2501.00003', 't', 'Early paper', 'x', 'x')")  # committed first
        seen = changes.read(store, start.position)
        assert seen.changed == []  # not past the open transaction: the early one waits too
        slow.commit()
    got = changes.read(store, start.position)
    titles = sorted(row[0] for _, row in got.changed)
    assert titles == ["Early paper", "Late paper"]
    assert changes.read(store, got.position).changed == []
    store.close()


def test_a_host_away_longer_than_the_kept_sequence_rebuilds(two_hosts):
    a, b = two_hosts
    upsert_papers(a.store, [paper(i) for i in range(1, 11)], "listing")
    assert b.follower.run_once()["lexical_added"] == 10
    upsert_papers(a.store, [paper(11)], "listing")
    a.store.conn.execute("UPDATE search_changes SET at = at - interval '30 days'")
    assert changes.prune(a.store) >= 1
    out = b.follower.run_once()
    assert out.get("lexical_rebuilt") and out["lexical_added"] == 11
    assert b.words("study 11")[:1] == [paper(11).id]


def test_a_follower_pass_over_a_built_folder_does_not_count_every_document(tmp_path):
    # counting search_docs is a full scan (0.1-4 s at 1M papers on PostgreSQL): a follower runs a
    # pass every 2 s, so once its folder exists a pass must not count them again
    settings = Settings.load(env={}, db=str(tmp_path / "s.db"), data_dir=str(tmp_path / "d"), fast_lexical_above=1)
    store = open_store(settings.db)
    upsert_papers(store, [paper(i) for i in range(1, 21)], "listing")
    assert indexer.sync_lexical(store, settings)["lexical_added"] == 20
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    again = indexer.sync_lexical(store, settings)
    store.conn.set_trace_callback(None)
    assert again["lexical_added"] == 0 and again["lexical_changed"] == 0
    assert seen and not [s for s in seen if "count(*) FROM search_docs" in s]
    store.close()
