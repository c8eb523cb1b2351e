"""The `paperwire` command: a thin skin over the library.

Exit codes: 0 ok (including "nothing new"), 1 error, 2 usage.
The group, its shared options and context live in paperwire.cli.base; each command family lives
in its own module (papers, searching, site, digests, ranking, storecopy), imported here so that their
commands register on the group. The work happens in the library.

Command modules import the library modules that load heavy dependencies (httpx and lxml for
harvesting, argon2 for accounts, numpy and scikit-learn for recommendations, the search engine,
uvicorn) inside the commands that need them, so that `paperwire --help` and the light commands
start without loading them.
"""

from __future__ import annotations

import sys

import click

from paperwire.cli.base import Context, cli, pass_ctx
from paperwire.cli import digests, papers, ranking, searching, site, storecopy  # noqa: F401 (registers their commands)

__all__ = ["Context", "cli", "main", "pass_ctx"]


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted; committed work is kept, re-run to continue", err=True)
        sys.exit(130)
