"""The `paperwire` group: its shared options and the context every command receives."""

from __future__ import annotations

import logging

import click

from paperwire.config import Settings
from paperwire.store import Store, open_store


class Context:
    """The loaded settings, and the store opened (and migrated) on first use only: commands
    that do not need it, such as --help, leave the database alone."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="PAPERWIRE_DB", help="SQLite database file (default: paperwire.db).")
@click.option("--config", "config_path", envvar="PAPERWIRE_CONFIG", type=click.Path(exists=True, dir_okay=False),
              help="TOML settings file (default: ./paperwire.toml if present).")
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
