"""A storefront process for the latency run: emits its share of a steady event stream.

    python -m bench.emitter --count N --prefix P --rate R --index K --of M [--until S]

Settings come from the environment, as for ``worker.py``. The process builds the app, prints
``ready``, reads the shared start time (Unix seconds) from stdin, emits purchases ``K, K+M,
...`` of ``unique_purchases(N, P)``, purchase ``n`` at ``start + n / R``, and prints one JSON
line: ``{"events": [[n, wall-clock time just before the emit, emit seconds], ...], "cpu_s": C}``,
``C`` the CPU seconds the process spent from ``ready`` on. When
emits are so slow that the schedule slips past ``start + S`` seconds, it stops there: the
offered rate it reached is part of the result, not a reason to run for ever.

Several emitters together offer a rate that one process (one GIL, one SQLite connection)
could not; each is what one web process of the storefront would be.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bench.workload import emit, unique_purchases
from wsgi import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--of", type=int, default=1)
    parser.add_argument("--until", type=float, default=float("inf"), help="stop after S s")
    args = parser.parse_args(argv)
    app = create_app()
    batch = unique_purchases(args.count, args.prefix)
    mine = range(args.index, args.count, args.of)
    events = []
    with app.app_context():
        session = app.extensions["addon"].db.session
        print("ready", flush=True)
        start = float(sys.stdin.readline())
        cpu = time.process_time()
        for n in mine:
            if time.time() > start + args.until:
                break
            wait = start + n / args.rate - time.time()
            if wait > 0:
                time.sleep(wait)
            stamp = time.time()
            began = time.perf_counter()
            emit(app, batch[n])
            events.append([n, stamp, time.perf_counter() - began])
            session.remove()
        cpu = time.process_time() - cpu
    print(json.dumps({"events": events, "cpu_s": cpu}), flush=True)


if __name__ == "__main__":
    main()
