"""The connection surface every store module writes against, the same on both engines: ``?`` and
``:name`` placeholders, rows read by index and by name, sums and averages as numbers, flags as
0/1, nothing to fetch after a write, one IntegrityError (paperwire.store.postgres translates the
sqlite3 dialect for psycopg; these tests run on the engine of the pass)."""

from __future__ import annotations

import sqlite3

import pytest

from paperwire.store.postgres import translate


@pytest.mark.parametrize("sql, expected", [
    ("SELECT * FROM t WHERE a=? AND b=?", "SELECT * FROM t WHERE a=%s AND b=%s"),
    ("SELECT * FROM t WHERE a=:a AND b=:b_2", "SELECT * FROM t WHERE a=%(a)s AND b=%(b_2)s"),
    ("SELECT x::int, '?', 'it''s :not' FROM t WHERE y LIKE 'a%' AND z=?",
     "SELECT x::int, '?', 'it''s :not' FROM t WHERE y LIKE 'a%%' AND z=%s"),
    ('SELECT "odd?name" FROM t -- what? :x\nWHERE a=?', 'SELECT "odd?name" FROM t -- what? :x\nWHERE a=%s'),
    ("SELECT $$ ? :x $$, $f$ ? $f$, /* ? */ ?", "SELECT $$ ? :x $$, $f$ ? $f$, /* ? */ %s"),
    ("SELECT 5 % 2, ?", "SELECT 5 %% 2, %s"),
])
def test_placeholders_are_translated_outside_quotes_and_comments(sql, expected):
    assert translate(sql) == expected


@pytest.fixture
def table(store):
    store.conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, x REAL)")
    with store.transaction() as conn:
        conn.executemany("INSERT INTO t(id, name, n, x) VALUES (?, ?, ?, ?)",
                         [(1, "a", 1, 0.5), (2, "b%", 2, 1.5), (3, None, 4, 2.0)])
    return store


def test_rows_read_by_index_by_name_and_as_a_dict(table):
    row = table.query_one("SELECT id, name AS label FROM t WHERE id=?", (2,))
    assert (row[0], row[1], row["id"], row["label"], row["LABEL"]) == (2, "b%", 2, "b%", "b%")
    assert dict(row) == {"id": 2, "label": "b%"} and tuple(row) == (2, "b%")
    a, b = row
    assert (a, b) == (2, "b%")
    assert [tuple(r) for r in table.conn.execute("SELECT id FROM t ORDER BY id")] == [(1,), (2,), (3,)]


def test_named_and_positional_parameters_and_untyped_ones(table):
    assert table.query_one("SELECT id FROM t WHERE name=:name", {"name": "b%"})[0] == 2
    assert table.query_one("SELECT count(*) FROM t WHERE name LIKE 'b%' AND n > ?", (1,))[0] == 1
    assert table.query_one("SELECT count(*) FROM t WHERE ? IS NULL OR id = ?", (None, 1))[0] == 3
    assert table.query_one("SELECT ? || ?", ("50", "%"))[0] == "50%"


def test_aggregates_are_plain_numbers_and_flags_are_integers(table):
    total, mean, biggest = table.query_one("SELECT sum(n), avg(n), max(x) FROM t")
    assert (total, type(total)) == (7, int)
    assert mean == pytest.approx(7 / 3) and type(mean) is float
    assert biggest == 2.0
    table.conn.execute("UPDATE t SET n=? WHERE id=?", (True, 1))
    table.conn.execute("UPDATE t SET n=? WHERE id=?", (False, 2))
    assert [r[0] for r in table.query("SELECT n FROM t ORDER BY id")] == [1, 0, 4]


def test_a_write_has_a_row_count_and_nothing_to_fetch(table):
    cur = table.conn.execute("UPDATE t SET n = n + 1 WHERE n >= ?", (2,))
    assert cur.rowcount == 2 and cur.fetchone() is None
    assert table.conn.execute("DELETE FROM t WHERE id=?", (99,)).fetchall() == []
    new = table.conn.execute("INSERT INTO t(id, name) VALUES (?, ?) RETURNING id", (7, "g")).fetchone()
    assert new[0] == 7


def test_a_broken_constraint_is_an_integrity_error_and_the_transaction_is_undone(table):
    with pytest.raises(sqlite3.IntegrityError):
        with table.transaction() as conn:
            conn.execute("INSERT INTO t(id, name) VALUES (?, ?)", (4, "d"))
            conn.execute("INSERT INTO t(id, name) VALUES (?, ?)", (1, "again"))
    assert table.query_one("SELECT count(*) FROM t")[0] == 3
    assert not table.conn.in_transaction


def test_an_upsert_reads_the_stored_row_by_its_table_name(table):
    sql = "INSERT INTO t(id, n) VALUES (?, 1) ON CONFLICT(id) DO UPDATE SET n = t.n + excluded.n"
    table.conn.execute(sql, (1,))
    table.conn.execute(sql, (9,))
    assert [tuple(r) for r in table.query("SELECT id, n FROM t WHERE id IN (1, 9) ORDER BY id")] == [(1, 2), (9, 1)]


def test_the_sqlite_functions_the_store_uses_answer_alike(store):
    row = store.query_one("SELECT julianday(?), julianday(?), date(?, '-7 days'), date(?, '+1 month'), instr(?, ?)",
                          ("2026-07-01T12:00:00Z", "2026-07-01", "2026-07-01", "2026-01-31T05:00:00Z", "abc", "c"))
    assert tuple(row) == (2461223.0, 2461222.5, "2026-06-24", row[3], 3)
    assert row[3] in ("2026-02-28", "2026-03-03")  # past a month's end SQLite rolls over, PostgreSQL clamps
