"""The `paperwire` command: a thin skin over the library.

Exit codes: 0 ok (including "nothing new"), 1 error, 2 usage.
This module holds the group, its shared options and context; each command family lives in
its own module (papers, searching, site, digests, ranking), imported at the end so that
their commands register on the group. The work happens in the library.
"""

from __future__ import annotations

import logging
import sys

import click

from paperwire.config import Settings


class Context:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._store = None

    @property
    def store(self):
        if self._store is None:
            from paperwire.store import open_store

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


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted; committed work is kept, re-run to continue", err=True)
        sys.exit(130)


# Register the commands (each module adds its commands to `cli`).
from paperwire.cli import digests, papers, ranking, searching, site  # noqa: E402,F401
