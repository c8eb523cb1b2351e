"""The `paperwire` group: its shared options and the context every command receives."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from paperwire.config import Settings, find_project_config
from paperwire.store import Store, open_store
from paperwire.store.base import is_postgres_url


class Context:
    """The loaded settings, and the store opened (and migrated) on first use only: commands
    that do not need it, such as --help, leave the database alone.

    Only the commands that bring data in (CREATES_STORE) may create a new database; the
    others refuse a missing one instead of quietly creating an empty store somewhere the user
    did not mean (a read-only command run in the wrong folder)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            db = str(self.settings.db)
            # a PostgreSQL URL names a server, not a file: a missing database is the server's error
            local_file = db != ":memory:" and not is_postgres_url(db)
            if local_file and not Path(db).exists() and not _running_creates_store():
                raise click.ClickException(missing_store_message(db))
            self._store = open_store(self.settings)
        return self._store


# The commands (and command groups) that bring data in, so may start a new database.
CREATES_STORE = {("ingest",), ("harvest",), ("subscribe",), ("user", "create"), ("serve",), ("schedule",)}


def _running_creates_store() -> bool:
    ctx = click.get_current_context(silent=True)
    names = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    path = tuple(reversed(names))
    return any(path[:len(prefix)] == prefix for prefix in CREATES_STORE)


def missing_store_message(db: str) -> str:
    config = find_project_config()
    found = f"settings from {config}" if config else "no paperwire.toml in this folder or its parents"
    return (f"no paperwire database at {Path(db).resolve()} ({found}); nothing was created.\n"
            "Create one with `paperwire ingest FILE` or `bash scripts/demo.sh`, or choose one with --db, "
            "PAPERWIRE_DB or a paperwire.toml (db = \"...\") in this folder or a parent.")


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="PAPERWIRE_DB", help="SQLite database file (default: paperwire.db) or a postgresql:// URL.")
@click.option("--config", "config_path", envvar="PAPERWIRE_CONFIG", type=click.Path(exists=True, dir_okay=False),
              help="TOML settings file (default: the nearest paperwire.toml in this folder or its parents).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="paperwire")
@click.pass_context
def cli(ctx: click.Context, db: str | None, config_path: str | None, verbose: int) -> None:
    """paperwire: find the new papers that matter."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.load(config_path, db=db)
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc))
    ctx.obj = Context(settings)
