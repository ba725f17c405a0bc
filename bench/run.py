"""The throughput benchmark of the Integration Engine (``make bench``).

    python bench/run.py            # the full run (10-15 minutes on 2 cores)
    python bench/run.py --quick    # a smaller workload, for development

Runs the real stack (an embedded Redis server, ``worker.py`` processes, the iContact simulator
in its own process, SQLite in a temp dir) at zero and 50 ms simulator latency, then once with
the simulator throttled; prints a table and ends with the ``bench:`` line of figures.
See BENCHMARKS.md for what each figure means.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import allowance, passes, report  # noqa: E402
from bench.benchmarks_md import replace_section  # noqa: E402
from bench.latency import Latency  # noqa: E402
from bench.latency import e2e_run as latency_run  # noqa: E402
from bench.machine import describe, yardstick  # noqa: E402

ALL_PASSES = ("0", "50", "throttled", "allowance")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workload and time caps")
    parser.add_argument(
        "--passes",
        default=",".join(ALL_PASSES),
        help="comma-separated: 0, 50, throttled, allowance",
    )
    parser.add_argument("--redis-url", help="use this Redis (it is FLUSHED) instead of embedded")
    parser.add_argument("--database-uri", help="use this database (add-on tables emptied)")
    parser.add_argument("--customers", type=int, help="distinct customers (5 events each)")
    parser.add_argument("--cap", type=float, help="seconds one timed run may take at most")
    parser.add_argument("--e2e-workers", type=int, default=2, help="workers in the e2e run")
    parser.add_argument("--emitters", type=int, default=2, help="emitting processes (e2e run)")
    parser.add_argument("--latency-ms", type=int, default=50, help="the second pass's latency")
    parser.add_argument(
        "--only",
        default="naive,1w,2w,pair,e2e",
        help="parts of each latency pass to run (comma-separated: naive, 1w, 2w, pair, e2e)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="one-worker then two-worker runs, this many times (scale_2w: the median ratio)",
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="sample the timed workers with py-spy into DIR"
    )
    parser.add_argument(
        "--update-benchmarks", action="store_true", help="write the results into BENCHMARKS.md"
    )
    args = parser.parse_args(argv)
    full = {
        "customers": 2000,  # × 5 events = 10,000 events, 20,000 deliveries
        "naive_sample": 2000,
        "naive_sample_latency": 200,  # 3 calls × 50 ms each: a smaller sample
        "bare_enqueues": 2000,
        "cap": 90.0,
        "rounds": 3,
        "e2e_rate": 500.0,
        "e2e_seconds": 10.0,
        "e2e_wait": 30.0,
        "throttle_customers": 200,  # 1,000 events
        "throttle_cap": 150.0,
        "allowance_cap": 900.0,
    }
    quick = {
        "customers": 400,
        "naive_sample": 400,
        "naive_sample_latency": 60,
        "bare_enqueues": 500,
        "cap": 30.0,
        "rounds": 1,
        "e2e_rate": 500.0,
        "e2e_seconds": 3.0,
        "e2e_wait": 10.0,
        "throttle_customers": 40,
        "throttle_cap": 60.0,
        "allowance_cap": 300.0,
    }
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    args.passes = [p.strip() for p in args.passes.split(",") if p.strip()]
    unknown = set(args.passes) - {*ALL_PASSES, str(args.latency_ms)}
    if unknown:
        parser.error(f"unknown pass(es): {', '.join(sorted(unknown))}")
    return args


def latency_pass(
    args: argparse.Namespace, latency_ms: int, emitted: passes.Emitted
) -> report.LatencyPass:
    latency = latency_ms / 1000
    parts = set(args.only.split(","))
    sample = args.naive_sample if latency_ms == 0 else args.naive_sample_latency
    # A part not run reads as "n/a" in the table.
    naive = passes.Throughput(expected=0)
    ones: list[passes.Throughput] = []
    twos: list[passes.Throughput] = []
    e2e = Latency(pairs=0, seconds=[], missing=0, emit_rate=0.0, emit_s=[], rss_mb=0.0, failed=0)
    if "naive" in parts:
        step(f"[{latency_ms} ms] naive baseline, {sample} deliveries")
        naive = passes.naive_run(args, latency, sample)
    for number in range(1, args.rounds + 1):
        of = f", round {number} of {args.rounds}" if args.rounds > 1 else ""
        if "1w" in parts:
            step(f"[{latency_ms} ms] engine, 1 worker{of}")
            ones.append(passes.engine_run(args, latency, 1, emitted, label=f"-r{number}"))
        if "2w" in parts:
            step(f"[{latency_ms} ms] engine, 2 workers{of}")
            twos.append(passes.engine_run(args, latency, 2, emitted, label=f"-r{number}"))
    pair: list[passes.Throughput] = []
    if "pair" in parts:
        step(f"[{latency_ms} ms] two one-worker stacks side by side (the machine's ceiling)")
        pair = passes.side_by_side(args, latency, emitted)
    if "e2e" in parts:
        step(f"[{latency_ms} ms] end-to-end latency under load")
        e2e = latency_run(args, latency)
    return report.LatencyPass(latency_ms, naive, ones, twos, e2e, pair)


_BEGAN = time.monotonic()


def step(message: str) -> None:
    print(f"{time.monotonic() - _BEGAN:5.0f} s  {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    first = yardstick()
    began = time.monotonic()
    results = []
    latencies = [int(name) for name in args.passes if name not in ("throttled", "allowance")]
    at_allowance = None
    with tempfile.TemporaryDirectory(prefix="addon-bench-snapshot-") as folder:
        if latencies or "allowance" in args.passes:
            step("the workload, emitted once for every timed engine run")
            emitted = passes.emit_workload(args, Path(folder))
        for latency_ms in latencies:
            results.append(latency_pass(args, latency_ms, emitted))
        if "allowance" in args.passes:
            step("[allowance] 60 calls/minute, cold cache")
            at_allowance = allowance.allowance_run(args, emitted)
    throttled = None
    if "throttled" in args.passes:
        step("[throttled] 600 calls/minute")
        throttled = passes.throttled_run(args, limit=600)
    runtime = time.monotonic() - began
    machine = describe((first, yardstick()))
    workload = f"{args.customers * 5:,} events from {args.customers:,} customers"
    title = f"Integration Engine benchmark: {workload}{' (--quick)' if args.quick else ''}"
    table = report.table(results, throttled) if results or throttled else ""
    if at_allowance is not None:
        table += "\n\n" + allowance.describe(at_allowance)
    lines = summary_lines(results, throttled, runtime, at_allowance)
    print(f"\n{title}\n{machine}\n\n{table}\n\n{lines}")
    if args.update_benchmarks:
        replace_section("latest-run", f"{title}; {machine}\n\n{table}\n\n```\n{lines}\n```")
    return 0


def summary_lines(
    results: list[report.LatencyPass], throttled, runtime: float, at_allowance=None
) -> str:
    lines = [f"runtime: {runtime:.0f} s"]
    # The zero-latency pass's line comes last: it is the one `make bench` ends with.
    for figures in results:
        if figures.latency_ms:
            lines.append(report.summary(f"bench-{figures.latency_ms}ms", figures))
    if throttled is not None:
        lines.append(report.throttled_summary(throttled))
    if at_allowance is not None:
        lines.append(allowance.summary(at_allowance))
    for figures in results:
        if not figures.latency_ms:
            lines.append(report.summary("bench", figures))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
