"""The iContact simulator in a process of its own, plus a stopwatch the benchmark reads.

    python -m bench.simulator --port P

Serves :mod:`addon.sandbox` unchanged and adds, outside ``/icp``, two read-only endpoints:

- ``GET /bench/subscriptions?after=N``: every subscription the API accepted with status
  ``normal``, as ``[unix time, listId, lower-cased email]`` in the order they were made, from
  entry ``N`` on. The time is taken in the simulator right after the subscription was stored,
  so "emit → subscription exists" needs no polling during the measurement.
- ``GET /bench/stats``: the simulator's call counters (total, busiest minute, throttled), and
  under ``kinds`` the API calls by kind (``GET contacts?email``, ``POST subscriptions``...):
  where an allowance goes.

It runs in its own process so its request handling never competes for the GIL with the
process being measured. iContact's servers don't share the measured machine's two cores, so the
stand-in should cost them as little as it can: it is served by granian, whose HTTP handling is
Rust, with keep-alive (as iContact's HTTPS has). CPU per contact lookup, measured on one machine:
werkzeug's development server 1.1-1.25 ms, waitress 0.87-1.05 ms, granian 0.58-0.70 ms; the
Flask app itself takes ~0.25 ms of that.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter

from flask import Flask, Response, g, request
from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server

from addon.embedded_redis import free_port
from addon.sandbox import SandboxState, create_sandbox_app

#: Requests served at once: each worker runs up to ADDON_ICONTACT_CONCURRENCY lookups at a
#: time, and a call with injected latency holds its thread while it waits.
THREADS = 256


class SubscriptionClock:
    """When each (list, email) subscription was stored; appended by the app, read over HTTP."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[tuple[float, str, str]] = []

    def record(self, state: SandboxState, response: Response) -> None:
        stamp = time.time()
        try:
            body = json.loads(response.get_data())
        except ValueError:
            return
        saved = body.get("subscriptions") if isinstance(body, dict) else None
        account = getattr(g, "icp_account", None)
        if not saved or account is None:
            return
        with state.lock:
            rows = [
                (stamp, str(item["listId"]), account.contacts[item["contactId"]]["email"].lower())
                for item in saved
                if item.get("status") == "normal" and item.get("contactId") in account.contacts
            ]
        with self.lock:
            self.entries.extend(rows)

    def since(self, index: int) -> tuple[list[tuple[float, str, str]], int]:
        with self.lock:
            return self.entries[index:], len(self.entries)


def create_bench_simulator(state: SandboxState | None = None) -> Flask:
    """The sandbox app with the subscription clock and the ``/bench`` endpoints."""
    state = state if state is not None else SandboxState()
    app = create_sandbox_app(state)
    clock = SubscriptionClock()
    kinds: Counter[str] = Counter()
    kinds_lock = threading.Lock()

    @app.after_request
    def _stamp(response: Response) -> Response:
        if request.path.startswith("/icp/a/"):
            with kinds_lock:
                kinds[_kind(request.method, request.path, request.args)] += 1
        if (
            request.method == "POST"
            and request.path.rstrip("/").endswith("/subscriptions")
            and response.status_code == 200
        ):
            clock.record(state, response)
        return response

    @app.get("/bench/subscriptions")
    def subscriptions() -> Response:
        entries, total = clock.since(int(request.args.get("after", 0)))
        return Response(
            json.dumps({"entries": entries, "next": total}), mimetype="application/json"
        )

    @app.get("/bench/stats")
    def stats() -> Response:
        with state.lock:
            body = state.stats.as_dict()
        with kinds_lock:
            body["kinds"] = dict(kinds)
        return Response(json.dumps(body), mimetype="application/json")

    return app


def _kind(method: str, path: str, args) -> str:
    """``GET contacts?email``: the method, the resource and the search, not the ids."""
    parts = [p for p in path.split("/") if p and not p.isdigit() and "_" not in p]
    resource = parts[-1] if parts else path
    terms = sorted(k for k in args if k not in ("limit", "offset", "status", "orderby"))
    return f"{method} {resource}" + (f"?{'&'.join(terms)}" if terms else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    port = args.port or free_port()
    print(f"http://{args.host}:{port}/icp", flush=True)
    Server(
        "bench.simulator:create_bench_simulator",
        factory=True,
        address=args.host,
        port=port,
        interface=Interfaces.WSGI,
        blocking_threads=THREADS,
        websockets=False,
        log_level=LogLevels.warning,
    ).serve()


if __name__ == "__main__":
    main()
