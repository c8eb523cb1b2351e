import sqlite3

from paperwire.models import Paper, Version
from paperwire.store import Store
from paperwire.store.papers import get_paper, upsert_papers
from paperwire.store.postgres import migration_files as pg_migration_files
from paperwire.store.sqlite import migration_files


def test_fresh_database_has_all_migrations(store):
    # both engines ship the same migration names (tests/store/test_migrations.py checks SQLite's
    # WAL mode and foreign keys, and that the two folders agree)
    names = [n for n, _ in (pg_migration_files() if store.dialect == "postgresql" else migration_files())]
    assert store.applied_migrations() == names


def test_old_database_upgrades_in_place(tmp_path):
    path = tmp_path / "old.db"
    first = migration_files()[0][0]
    old = Store(path, migrate=False)
    old.migrate(upto=first)
    # written the way the first release wrote it: its schema only, no later columns
    with old.transaction() as conn:
        conn.execute("INSERT INTO papers(id, title, title_display, created_at, changed_at) VALUES (?,?,?,?,?)",
                     ("2501.00001", "Kept across upgrades", "Kept across upgrades", "2025-01-01", "2025-01-01"))
        conn.execute("INSERT INTO paper_sources(paper_id, source, first_seen, last_seen) VALUES (?,?,?,?)",
                     ("2501.00001", "listing", "2025-01-01", "2025-01-01"))
    old.close()
    upgraded = Store(path)
    assert upgraded.applied_migrations() == [n for n, _ in migration_files()]
    assert get_paper(upgraded, "2501.00001").title == "Kept across upgrades"
    # the upgraded database takes new writes through the current code
    res = upsert_papers(upgraded, [Paper(id="2501.00001", title="Kept across upgrades", versions=[Version(1, "2025-01-01T00:00:00Z")])], "listing")
    assert res.updated == 1 and get_paper(upgraded, "2501.00001").versions[0].number == 1


def test_newer_version_updates_and_older_only_fills(store):
    v1 = Paper(id="2501.00002", title="Old title", abstract="old", versions=[Version(1, "2025-01-02T00:00:00Z")])
    v2 = Paper(id="2501.00002", title="New title", abstract="new", doi="10.1/x",
               versions=[Version(1, "2025-01-02T00:00:00Z"), Version(2, "2025-02-01T00:00:00Z")])
    assert upsert_papers(store, [v1], "oai").stored == 1
    assert upsert_papers(store, [v2], "snapshot").updated == 1
    assert upsert_papers(store, [v1], "oai").updated == 0  # older version: nothing to fill
    p = get_paper(store, "2501.00002")
    assert (p.title, p.abstract, p.doi) == ("New title", "new", "10.1/x")
    assert p.published == "2025-01-02T00:00:00Z" and p.updated == "2025-02-01T00:00:00Z"
    assert [v.number for v in p.versions] == [1, 2]
    assert set(p.sources) == {"oai", "snapshot"}


def test_failed_batch_stores_nothing(store):
    good = Paper(id="2501.00003", title="Good")
    try:
        with store.transaction() as conn:
            upsert_papers(store, [good], "listing", conn=conn)
            conn.execute("INSERT INTO papers(id) VALUES (NULL)")  # violates NOT NULL
    except sqlite3.IntegrityError:
        pass
    assert get_paper(store, "2501.00003") is None
