"""``python -m addon.sandbox``: serve the simulator, optionally with one account ready.

With ``--state FILE`` the simulator reads FILE at start (when it exists) and rewrites it after
every change, so a restart finds the same accounts, lists, contacts and subscriptions;
``--reset`` empties FILE first. A FILE that is not a simulator state file is refused (exit 2)
and left untouched.
"""

from __future__ import annotations

import argparse
import sys

from .app import create_sandbox_app
from .server import build_server, serve_until_interrupted
from .state import SandboxState
from .storage import StateFileError


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
    parser.add_argument("--state", metavar="FILE", help="keep the data in FILE across restarts")
    parser.add_argument("--reset", action="store_true", help="start with an empty --state FILE")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each call")
    parser.add_argument("--calls-per-minute", type=int, help="throttle each account (503s)")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="k: the throttle's minute lasts 60/k s"
    )
    parser.add_argument(
        "--max-batch", type=int, help="records one collection POST may carry [default: 10000]"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for random fault rates")
    args = parser.parse_args(argv)
    account_args = (args.app_id, args.username, args.password)
    if any(account_args) and not all(account_args):
        parser.error("--app-id, --username and --password go together")
    if args.reset and not args.state:
        parser.error("--reset needs --state")
    return args


def build_state(args: argparse.Namespace) -> SandboxState:
    """The state the options describe.

    Raises:
        StateFileError: if ``--state`` names a file that is not a simulator state file.
        OSError: if the state file cannot be read or written.
        ValueError, TypeError: on a knob out of range.
    """
    state = SandboxState(seed=args.seed, path=args.state, fresh=args.reset)
    knobs = {"latency": args.latency, "calls_per_minute": args.calls_per_minute}
    knobs["time_scale"] = args.time_scale
    if args.max_batch is not None:
        knobs["max_batch"] = args.max_batch
    state.faults.update(**knobs)
    if args.username:
        names = [name.strip() for name in args.lists.split(",") if name.strip()]
        state.register(args.username, args.app_id, args.password, names)
    state.save()  # fails now, loudly, if the file cannot be written
    return state


def main(argv: list[str] | None = None) -> int:
    """Build the state from the options and serve until interrupted."""
    args = parse_args(argv)
    try:
        state = build_state(args)
    except (StateFileError, OSError, ValueError, TypeError) as error:
        print(f"python -m addon.sandbox: {error}", file=sys.stderr)
        return 2
    base_url, server = build_server(create_sandbox_app(state), args.host, args.port)
    print(base_url, flush=True)
    serve_until_interrupted(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
