"""Site commands: serve the web app and API, manage accounts and API tokens."""

from __future__ import annotations

import os
import sys
import urllib.parse

import click

from paperwire.cli.base import Context, cli, pass_ctx
from paperwire.store.base import is_postgres_url


@cli.command()
@click.option("--host", help="Address to listen on (default: settings.host).")
@click.option("--port", type=int, help="Port (default: settings.port).")
@click.option("--workers", type=int, help="Worker processes (default: settings.workers).")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@pass_ctx
def serve(c: Context, host: str | None, port: int | None, workers: int | None, log_level: str) -> None:
    """Run the web site and API (uvicorn) and print its URL."""
    import uvicorn

    s = c.settings
    host, port, workers = host or s.host, port or s.port, workers or s.workers
    c.store  # apply migrations once here, not in every worker at the same time
    s.signing_key  # and make the development key before the workers start, so they all sign alike
    # workers re-create the app from settings: pass the resolved ones through the environment
    os.environ["PAPERWIRE_DB"] = str(s.db)
    cfg = click.get_current_context().find_root().params.get("config_path")
    if cfg:
        os.environ["PAPERWIRE_CONFIG"] = os.path.abspath(cfg)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if is_postgres_url(str(s.db)) and not s.secret_key:
        # each host would make its own development key: a form shown by one host and posted to
        # another would be refused
        click.echo("warning: several hosts over one PostgreSQL database need one PAPERWIRE_SECRET_KEY "
                   "(this host signs with its own development key)", err=True)
    click.echo(f"paperwire is serving {_without_password(str(s.db))} at http://{shown}:{port}/  (Ctrl+C stops)",
               err=True)
    uvicorn.run("paperwire.web.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=log_level in ("info", "debug"),
                proxy_headers=bool(s.trusted_proxies), forwarded_allow_ips=s.trusted_proxies or None)


def _without_password(db: str) -> str:
    """A database URL as it may be printed (logs keep it): the password replaced by '***'."""
    parts = urllib.parse.urlsplit(db)
    if not is_postgres_url(db) or parts.password is None:
        return db
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _user_or_exit(c: Context, username: str):
    from paperwire.store import users

    u = users.get_user_by_name(c.store, username)
    if u is None:
        click.echo(f"error: no user {username!r}", err=True)
        sys.exit(1)
    return u


@cli.group()
def user() -> None:
    """Manage site accounts."""


@user.command("create")
@click.argument("email")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the account an administrator (can hide papers and comments).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="PAPERWIRE_NEW_PASSWORD", help="Password (prompted when omitted).")
@pass_ctx
def user_create(c: Context, email: str, username: str, admin: bool, password: str) -> None:
    """Create an account (or use the site's sign-up page)."""
    from paperwire.store import users

    try:
        u = users.create_user(c.store, email, username, password, is_admin=admin)
    except users.AccountError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"created {'administrator' if u.is_admin else 'user'} {u.username} <{u.email}>")


@user.command("admin")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Take administrator rights away instead.")
@pass_ctx
def user_admin(c: Context, username: str, revoke: bool) -> None:
    """Give (or take) administrator rights."""
    from paperwire.store import users

    u = _user_or_exit(c, username)
    users.set_admin(c.store, u.id, not revoke)
    click.echo(f"{u.username}: {'not ' if revoke else ''}administrator")


@cli.group()
def token() -> None:
    """API tokens for /api/v1 writes."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="", help="A label to recognise the token by.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=None,
              help="The token stops working after this many days (default: until revoked).")
@pass_ctx
def token_create(c: Context, username: str, name: str, days: float | None) -> None:
    """Create an API token for a user and print it (it is shown only once)."""
    from paperwire.store import users

    u = _user_or_exit(c, username)
    click.echo(users.create_token(c.store, u.id, name, days=days))


@token.command("list")
@click.argument("username")
@pass_ctx
def token_list(c: Context, username: str) -> None:
    """List a user's API tokens: id, name, created, expires (the tokens themselves are not kept)."""
    from paperwire.store import users

    u = _user_or_exit(c, username)
    tokens = users.list_tokens(c.store, u.id)
    for t in tokens:
        click.echo(f"{t.id}\t{t.name or '-'}\t{t.created_at}\t{t.expires_at or 'never'}")
    if not tokens:
        click.echo(f"{u.username} has no API tokens", err=True)


@token.command("revoke")
@click.argument("username")
@click.argument("token_id", required=False, type=int)
@click.option("--all", "all_", is_flag=True, help="Revoke every token of the user.")
@pass_ctx
def token_revoke(c: Context, username: str, token_id: int | None, all_: bool) -> None:
    """Revoke one token (its id from `paperwire token list`) or, with --all, every one."""
    from paperwire.store import users

    u = _user_or_exit(c, username)
    if all_:
        click.echo(f"revoked {users.revoke_tokens(c.store, u.id)} token(s) of {u.username}")
        return
    if token_id is None:
        raise click.UsageError("give a TOKEN_ID (see `paperwire token list`) or --all")
    if not users.revoke_token(c.store, u.id, token_id):
        click.echo(f"error: {u.username} has no token {token_id}", err=True)
        sys.exit(1)
    click.echo(f"revoked token {token_id} of {u.username}")


@user.command("signout")
@click.argument("username")
@pass_ctx
def user_signout(c: Context, username: str) -> None:
    """Sign a user out everywhere (every browser session ends; API tokens stay: `token revoke`)."""
    from paperwire.store import users

    u = _user_or_exit(c, username)
    users.bump_session_epoch(c.store, u.id)
    click.echo(f"{u.username}: signed out everywhere")
