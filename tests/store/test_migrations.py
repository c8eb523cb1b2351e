"""The store's engines (paperwire.store.sqlite, paperwire.store.postgres): migrations applied once
and recorded, atomic transactions, checkpoints, one writer at a time, data_version. Each test runs
on the engine of the pass (SQLite, or PostgreSQL with PAPERWIRE_TEST_DB); the migration folders
and the SQL translation are checked in both passes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

import pytest

from paperwire.config import Settings
from paperwire.store import Store, open_store, postgres
from paperwire.store import sqlite as sqlite_store
from paperwire.store.sqlite import _split_sql


def engine_module(store):
    return postgres if store.dialect == "postgresql" else sqlite_store


def names(store=None) -> list[str]:
    module = engine_module(store) if store is not None else sqlite_store
    return [name for name, _ in module.migration_files()]


def table_exists(store, name: str) -> bool:
    if store.dialect == "postgresql":
        return store.query_one("SELECT to_regclass(?)", (name,))[0] is not None
    return store.query_one("SELECT 1 FROM sqlite_master WHERE name=?", (name,)) is not None


def test_migrations_ship_in_order_with_unique_numbers():
    for module in (sqlite_store, postgres):
        shipped = [name for name, _ in module.migration_files()]
        assert shipped == sorted(shipped) and shipped[0] == "0001_core"
        numbers = [name.split("_", 1)[0] for name in shipped]
        assert len(set(numbers)) == len(numbers)


def test_every_migration_exists_for_both_engines_under_one_name():
    assert [n for n, _ in sqlite_store.migration_files()] == [n for n, _ in postgres.migration_files()]


def test_each_migration_is_applied_once_and_recorded(blank_db):
    first = Store(blank_db)
    assert first.applied_migrations() == names(first)
    stamps = first.query("SELECT name, applied_at FROM schema_migrations ORDER BY name")
    assert all(row["applied_at"].endswith("Z") for row in stamps)
    first.close()
    reopened = Store(blank_db)
    assert reopened.migrate() == []
    assert [tuple(r) for r in reopened.query("SELECT name, applied_at FROM schema_migrations ORDER BY name")] == \
        [tuple(r) for r in stamps]
    reopened.close()


def test_migrating_in_two_steps_applies_exactly_the_rest(blank_db):
    store = Store(blank_db, migrate=False)
    shipped = names(store)
    middle = shipped[len(shipped) // 2]
    assert store.migrate(upto=middle) == [n for n in shipped if n <= middle]
    assert store.applied_migrations() == [n for n in shipped if n <= middle]
    assert store.migrate() == [n for n in shipped if n > middle]
    assert store.applied_migrations() == shipped
    store.close()


def test_a_failing_migration_leaves_no_trace_and_is_retried(blank_db, monkeypatch):
    store = Store(blank_db)
    module = engine_module(store)
    shipped = module.migration_files()
    broken = ("9999_broken", "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n")
    monkeypatch.setattr(module, "migration_files", lambda: [*shipped, broken])
    with pytest.raises(Exception, match="no_such_table"):
        store.migrate()
    assert "9999_broken" not in store.applied_migrations()
    assert not table_exists(store, "half_done")
    fixed = ("9999_broken", "CREATE TABLE half_done (x INTEGER);\n")
    monkeypatch.setattr(module, "migration_files", lambda: [*shipped, fixed])
    assert store.migrate() == ["9999_broken"]
    assert table_exists(store, "half_done")
    store.close()


def test_two_processes_migrating_at_once_apply_each_migration_once(blank_db):
    script = "import sys; from paperwire.store import open_store; s = open_store(sys.argv[1]); print(len(s.migrate()))"
    procs = [subprocess.Popen([sys.executable, "-c", script, blank_db], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err.decode()[-2000:] for _, err in outs]
    store = Store(blank_db, migrate=False)
    assert store.applied_migrations() == names(store)
    assert store.query_one("SELECT count(*) FROM schema_migrations")[0] == len(names(store))
    store.close()


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


@pytest.mark.sqlite_only("SQLite's WAL journal mode (PostgreSQL has its own write-ahead log, nothing to switch)")
def test_a_new_sqlite_store_is_in_wal_mode_with_foreign_keys(store):
    assert store.query_one("PRAGMA journal_mode")[0] == "wal"
    assert store.query_one("PRAGMA foreign_keys")[0] == 1


def test_foreign_keys_hold_and_break_as_an_integrity_error(store):
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO versions(paper_id, version) VALUES ('no-such-paper', 1)")
    assert store.query_one("SELECT count(*) FROM versions")[0] == 0


def test_open_store_takes_a_path_a_url_or_settings(blank_db, tmp_path):
    by_path = open_store(blank_db)
    assert by_path.path == blank_db and by_path.applied_migrations() == names(by_path)
    by_path.close()
    other = str(tmp_path / "b.db")
    by_settings = open_store(Settings.load(env={}, db=other))
    assert by_settings.path == other and by_settings.dialect == "sqlite"
    assert by_settings.applied_migrations() == names()
    by_settings.close()


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
    assert other.dialect == store.dialect
    assert other.get_checkpoint("k") == "v2"
    store.set_checkpoint("k", None)
    assert other.get_checkpoint("k") is None
    other.close()


def test_a_read_only_store_reads_and_refuses_writes(store):
    store.set_checkpoint("seen", "yes")
    reader = Store(store.path, migrate=False, read_only=True)
    assert reader.get_checkpoint("seen") == "yes"
    with pytest.raises(Exception, match="readonly|read-only"):
        reader.set_checkpoint("seen", "no")
    assert store.get_checkpoint("seen") == "yes"
    reader.close()


def test_writers_on_many_threads_take_turns(store):
    """Read-then-write inside transaction() never loses an update: one writer at a time."""
    store.set_checkpoint("n", "0")

    def bump(times: int) -> None:
        for _ in range(times):
            with store.transaction() as conn:
                n = int(conn.execute("SELECT value FROM checkpoints WHERE key=?", ("n",)).fetchone()[0])
                store.set_checkpoint("n", str(n + 1), conn=conn)

    threads = [threading.Thread(target=bump, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get_checkpoint("n") == "100"


def test_each_thread_has_its_own_connection(store):
    seen = []
    t = threading.Thread(target=lambda: seen.append(store.conn))
    t.start()
    t.join()
    assert seen[0] is not store.conn


def test_a_closed_store_opens_again_on_next_use(store):
    store.set_checkpoint("a", "1")
    store.close()
    assert store.get_checkpoint("a") == "1"


def test_data_version_moves_when_another_process_commits_a_vote(store, put):
    from paperwire.store import users

    put("2501.00009")
    voter = users.create_user(store, "v@example.org", "voter", password_hash="x")
    before = store.data_version()
    assert store.data_version() == before  # reading changes nothing
    script = ("import sys; from paperwire.store import open_store, users; s = open_store(sys.argv[1]); "
              "users.set_upvote(s, int(sys.argv[2]), '2501.00009', True)")
    subprocess.run([sys.executable, "-c", script, store.path, str(voter.id)], check=True, timeout=120)
    assert store.data_version() != before
