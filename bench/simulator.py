"""The iContact simulator in a process of its own, plus a stopwatch the benchmark reads.

    python -m bench.simulator --port P

Serves :mod:`addon.sandbox` unchanged and adds, outside ``/icp``, two read-only endpoints:

- ``GET /bench/subscriptions?after=N``: every subscription the API accepted with status
  ``normal``, as ``[unix time, listId, lower-cased email]`` in the order they were made, from
  entry ``N`` on. The time is taken in the simulator right after the subscription was stored,
  so "emit → subscription exists" needs no polling during the measurement.
- ``GET /bench/stats``: the simulator's call counters (total, busiest minute, throttled).

It runs in its own process so its request handling never competes for the GIL with the
process being measured, and is served by waitress rather than werkzeug's development server:
iContact's servers don't share the measured machine's two cores, so the stand-in should cost
them as little as it can. werkzeug's server spent ~0.75 ms of CPU per call, a thread per
request and a connection per call; waitress ~0.55 ms, with a thread pool and keep-alive (as
iContact's HTTPS has), which also spares the client a connect per call.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from flask import Flask, Response, g, request
from waitress.server import create_server

from addon.sandbox import SandboxState, create_sandbox_app

#: Requests served at once: each worker runs up to ADDON_ICONTACT_CONCURRENCY (32) lookups at
#: a time, and a call with injected latency holds its thread while it waits.
THREADS = 128


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

    @app.after_request
    def _stamp(response: Response) -> Response:
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
        return Response(json.dumps(body), mimetype="application/json")

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    server = create_server(
        create_bench_simulator(),
        host=args.host,
        port=args.port,
        threads=THREADS,
        connection_limit=4 * THREADS,
    )
    print(f"http://{args.host}:{server.effective_port}/icp", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
