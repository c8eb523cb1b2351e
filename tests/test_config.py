"""Settings: where a store's index folders live, for a file and for a PostgreSQL URL."""

from __future__ import annotations

from pathlib import Path

from paperwire.config import Settings


def test_a_sqlite_store_keeps_its_folders_beside_the_file(tmp_path):
    s = Settings.load(env={}, db=str(tmp_path / "x.db"))
    assert s.data_path == Path(str(tmp_path / "x.db") + ".d")


def test_a_postgresql_store_keeps_its_folders_in_the_hosts_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    a = Settings.load(env={}, db="postgresql://pw:secret@db.example:5433/papers")
    b = Settings.load(env={}, db="postgresql://pw@db.example/other")
    assert a.data_path.parent == tmp_path / "share" / "paperwire"
    assert "secret" not in str(a.data_path) and "://" not in str(a.data_path)
    assert a.data_path.name.endswith("papers") and a.data_path != b.data_path
    explicit = Settings.load(env={}, db="postgresql://pw@db.example/papers", data_dir=str(tmp_path / "idx"))
    assert explicit.data_path == tmp_path / "idx"


def test_the_development_key_is_one_key_per_store(tmp_path):
    s = Settings.load(env={}, db=str(tmp_path / "x.db"))
    key = s.signing_key
    assert len(key) >= 32 and s.signing_key == key
    assert Settings.load(env={}, db=str(tmp_path / "x.db")).signing_key == key  # read back from its file
