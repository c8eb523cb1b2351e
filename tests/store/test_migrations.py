"""paperwire.store.sqlite: migrations applied once and recorded, atomic transactions, checkpoints."""

from __future__ import annotations

import sqlite3

import pytest

from paperwire.config import Settings
from paperwire.store import Store, open_store
from paperwire.store import sqlite as sqlite_store
from paperwire.store.sqlite import _split_sql, migration_files


def names() -> list[str]:
    return [name for name, _ in migration_files()]


def test_migrations_ship_in_order_with_unique_numbers():
    shipped = names()
    assert shipped == sorted(shipped) and shipped[0] == "0001_core"
    numbers = [name.split("_", 1)[0] for name in shipped]
    assert len(set(numbers)) == len(numbers)


def test_each_migration_is_applied_once_and_recorded(tmp_path):
    path = tmp_path / "m.db"
    first = Store(path)
    assert first.applied_migrations() == names()
    stamps = first.query("SELECT name, applied_at FROM schema_migrations ORDER BY name")
    assert all(row["applied_at"].endswith("Z") for row in stamps)
    first.close()
    reopened = Store(path)
    assert reopened.migrate() == []
    assert [tuple(r) for r in reopened.query("SELECT name, applied_at FROM schema_migrations ORDER BY name")] == \
        [tuple(r) for r in stamps]


def test_migrating_in_two_steps_applies_exactly_the_rest(tmp_path):
    shipped = names()
    middle = shipped[len(shipped) // 2]
    store = Store(tmp_path / "steps.db", migrate=False)
    assert store.migrate(upto=middle) == [n for n in shipped if n <= middle]
    assert store.applied_migrations() == [n for n in shipped if n <= middle]
    assert store.migrate() == [n for n in shipped if n > middle]
    assert store.applied_migrations() == shipped


def test_a_failing_migration_leaves_no_trace_and_is_retried(tmp_path, monkeypatch):
    store = Store(tmp_path / "broken.db")
    broken = ("9999_broken", "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n")
    monkeypatch.setattr(sqlite_store, "migration_files", lambda: [*migration_files(), broken])
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        store.migrate()
    assert "9999_broken" not in store.applied_migrations()
    assert store.query_one("SELECT 1 FROM sqlite_master WHERE name='half_done'") is None
    fixed = ("9999_broken", "CREATE TABLE half_done (x INTEGER);\n")
    monkeypatch.setattr(sqlite_store, "migration_files", lambda: [*migration_files(), fixed])
    assert store.migrate() == ["9999_broken"]


def test_migration_scripts_split_into_statements_with_triggers_whole():
    script = ("-- a comment line is dropped\n"
              "CREATE TABLE t (x INTEGER);\n"
              "CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN\n"
              "    UPDATE t SET x = x + 1;\n"
              "    DELETE FROM t WHERE x > 9;\n"
              "END;\n"
              "INSERT INTO t VALUES (1)")
    statements = _split_sql(script)
    assert len(statements) == 3
    assert statements[0] == "CREATE TABLE t (x INTEGER);"
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    assert statements[2] == "INSERT INTO t VALUES (1)"


def test_a_new_store_is_in_wal_mode_with_foreign_keys(store):
    assert store.query_one("PRAGMA journal_mode")[0] == "wal"
    assert store.query_one("PRAGMA foreign_keys")[0] == 1
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO versions(paper_id, version) VALUES ('no-such-paper', 1)")


def test_open_store_takes_a_path_or_settings(tmp_path):
    by_path = open_store(str(tmp_path / "a.db"))
    by_settings = open_store(Settings.load(env={}, db=str(tmp_path / "b.db")))
    assert (by_path.path, by_settings.path) == (str(tmp_path / "a.db"), str(tmp_path / "b.db"))
    assert by_settings.applied_migrations() == names()


# -- transactions -------------------------------------------------------------------------------

def test_an_error_rolls_back_every_write_of_the_transaction(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO papers(id, title, title_display, created_at, changed_at) "
                         "VALUES ('2501.00001', 't', 't', 'now', 'now')")
            store.set_checkpoint("harvest", "2025-01-01", conn=conn)
            raise RuntimeError("stop half-way")
    assert store.query_one("SELECT count(*) FROM papers")[0] == 0
    assert store.get_checkpoint("harvest") is None
    assert not store.conn.in_transaction


def test_a_nested_transaction_joins_the_outer_one(store):
    with pytest.raises(ValueError):
        with store.transaction():
            with store.transaction() as inner:
                store.set_checkpoint("inner", "1", conn=inner)
            assert store.get_checkpoint("inner") == "1"  # visible inside, not yet committed
            raise ValueError("outer fails")
    assert store.get_checkpoint("inner") is None


def test_committed_writes_are_seen_by_another_connection(store):
    store.set_checkpoint("k", "v1")
    with store.transaction() as conn:
        store.set_checkpoint("k", "v2", conn=conn)
    other = Store(store.path, migrate=False)
    assert other.get_checkpoint("k") == "v2"
    store.set_checkpoint("k", None)
    assert other.get_checkpoint("k") is None
    other.close()


def test_a_read_only_store_reads_and_refuses_writes(store):
    store.set_checkpoint("seen", "yes")
    reader = Store(store.path, migrate=False, read_only=True)
    assert reader.get_checkpoint("seen") == "yes"
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.set_checkpoint("seen", "no")
    reader.close()
