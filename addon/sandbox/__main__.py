"""``python -m addon.sandbox``: serve the simulator, optionally with one account ready."""

from __future__ import annotations

import argparse
import sys

from .app import create_sandbox_app
from .server import build_server, serve_until_interrupted
from .state import SandboxState


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m addon.sandbox", description="Serve a local iContact API simulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--app-id", help="App ID to enable for --username")
    parser.add_argument("--username", help="account to create (API-Username)")
    parser.add_argument("--password", help="application password (API-Password)")
    parser.add_argument("--lists", default="", help='comma-separated list names, e.g. "A,B"')
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each call")
    parser.add_argument("--calls-per-minute", type=int, help="throttle each account (503s)")
    parser.add_argument("--seed", type=int, default=0, help="seed for random fault rates")
    args = parser.parse_args(argv)
    account_args = (args.app_id, args.username, args.password)
    if any(account_args) and not all(account_args):
        parser.error("--app-id, --username and --password go together")
    return args


def main(argv: list[str] | None = None) -> int:
    """Build the state from the options and serve until interrupted."""
    args = parse_args(argv)
    state = SandboxState(seed=args.seed)
    state.faults.update(latency=args.latency, calls_per_minute=args.calls_per_minute)
    if args.username:
        names = [name.strip() for name in args.lists.split(",") if name.strip()]
        state.register(args.username, args.app_id, args.password, names)
    base_url, server = build_server(create_sandbox_app(state), args.host, args.port)
    print(base_url, flush=True)
    serve_until_interrupted(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
