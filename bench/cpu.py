"""A worker's CPU per 1,000 deliveries at 0 ms, measured in this process (quicker to iterate
on than ``run.py``, and with a deterministic profile).

    python -m bench.cpu                          # 1,000 customers: 5,000 events, 10,000 deliveries
    python -m bench.cpu --customers 400 --profile /tmp/cpu.prof --top 40

The stack is the benchmark's (``bench.stack``): an embedded Redis and the simulator in a
process of its own, whose CPU is not counted. The workload is emitted first, then an RQ
``SimpleWorker`` runs in burst mode in this process, as ``worker.py`` would, logging to a
file as the benchmark's workers do. The figure is this process's CPU time (every thread: the
batches' calls run on threads of their own) over the drain, per 1,000 deliveries finished.
``--profile`` writes a cProfile of the drain's main thread (the calls' threads are not in it).
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from bench import workload  # noqa: E402
from bench.stack import PASSWORD, USERNAME, Stack  # noqa: E402


def measure(customers: int, profile: Path | None, top: int) -> tuple[float, float, int, float]:
    """Emit ``customers`` × 5 purchases and drain them with one in-process worker.

    Returns:
        (CPU seconds of the drain, of which in the main thread; deliveries finished; wall
        seconds).
    """
    from addon.cli.worker import run_worker  # noqa: PLC0415
    from addon.logsetup import configure_logging  # noqa: PLC0415
    from addon.store.models import PENDING, Delivery  # noqa: PLC0415

    with Stack() as stack:
        stack.register_account(workload.LISTS)
        workload.set_up_marketplace(stack.app, USERNAME, PASSWORD)
        workload.emit_all(stack.app, workload.purchases(customers))
        with open(stack.dir / "worker.log", "w") as log_file:
            configure_logging(stream=log_file)
            profiler = cProfile.Profile() if profile else None
            began, wall, main = time.process_time(), time.perf_counter(), time.thread_time()
            if profiler:
                profiler.enable()
            run_worker(stack.app, burst=True)
            if profiler:
                profiler.disable()
            cpu, wall = time.process_time() - began, time.perf_counter() - wall
            main = time.thread_time() - main
            logging.getLogger().handlers.clear()
        with stack.app.app_context():
            session = stack.app.extensions["addon"].db.session
            done = session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status != PENDING)
            )
            left = session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status == PENDING)
            )
        if left:
            print(f"warning: {left} deliveries left pending", file=sys.stderr)
        if profiler and profile:
            profiler.dump_stats(profile)
            stats = pstats.Stats(str(profile))
            stats.sort_stats("cumulative").print_stats(top)
            stats.sort_stats("tottime").print_stats(top)
    return cpu, main, done or 0, wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000, help="5 events each")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the drain here")
    parser.add_argument("--top", type=int, default=30, help="functions the profile lists")
    args = parser.parse_args(argv)
    cpu, main, done, wall = measure(args.customers, args.profile, args.top)
    print(
        f"cpu: {1000 * cpu / max(done, 1):.3f} s per 1,000 deliveries, main thread "
        f"{1000 * main / max(done, 1):.3f} s ({done} deliveries, {cpu:.2f} s CPU, "
        f"{wall:.2f} s wall)"
    )


if __name__ == "__main__":
    main()
