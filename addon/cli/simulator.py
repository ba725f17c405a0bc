"""``flask addon sandbox``: a local iContact simulator, to try the add-on without an account."""

from __future__ import annotations

import click

from ..state import settings


@click.command("sandbox", short_help="Serve a local iContact simulator to try the add-on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=0, show_default=True, help="Port to listen on; 0 picks a free one.")
@click.option("--username", help="Create this iContact account (its API-Username).")
@click.option("--password", help="Application password of that account (its API-Password).")
@click.option(
    "--app-id", help="App ID enabled on the account [default: the app's ADDON_ICONTACT_APP_ID]."
)
@click.option("--lists", default="", help='Lists to create in the account: "Customers,Refunds".')
@click.option("--latency", default=0.0, show_default=True, help="Seconds added to every call.")
@click.option(
    "--calls-per-minute", type=int, help="Throttle each account to this many calls (503 after)."
)
@click.option("--seed", default=0, show_default=True, help="Seed for the random fault rates.")
def sandbox_command(
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    app_id: str | None,
    lists: str,
    latency: float,
    calls_per_minute: int | None,
    seed: int,
) -> None:
    """Serve a local iContact API simulator, to try the add-on without an iContact account.

    It prints its base URL; start the web app and the worker with ADDON_ICONTACT_API_URL set
    to it, then connect an integration with the account made here. The simulator keeps
    everything in memory: stopping it (Ctrl-C) forgets every account and contact.

    \b
    Example:
      flask addon sandbox --port 8025 \\
          --username me@example.com --password app-pass --lists "Customers,Refunds"
    """
    from ..sandbox import SandboxState, create_sandbox_app
    from ..sandbox import server as sandbox_server

    if bool(username) != bool(password):
        raise click.UsageError("--username and --password go together.")
    state = SandboxState(seed=seed)
    try:
        state.faults.update(latency=latency, calls_per_minute=calls_per_minute)
    except (TypeError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    if username and password:
        app_id = app_id or settings().icontact_app_id
        names = [name.strip() for name in lists.split(",") if name.strip()]
        state.register(username, app_id, password, names)
    base_url, server = sandbox_server.build_server(create_sandbox_app(state), host, port)
    click.echo(f"iContact simulator at {base_url}")
    click.echo(f"  ADDON_ICONTACT_API_URL={base_url}")
    click.echo(f"  ADDON_ICONTACT_REGISTER_URL={base_url}/core/externallogin")
    if username:
        click.echo(f"  account {username} with App ID {app_id!r}; Ctrl-C stops it")
    sandbox_server.serve_until_interrupted(server)
