"""The printed table and the one-line summaries of a benchmark run."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from .latency import Latency
from .passes import Throttled, Throughput, percentile


@dataclass
class LatencyPass:
    """Everything measured at one simulator latency."""

    latency_ms: int
    naive: Throughput
    #: Rounds of one one-worker run followed by one two-worker run (index = round).
    ones: list[Throughput]
    twos: list[Throughput]
    e2e: Latency
    #: Two one-worker runs side by side on stacks of their own (see ``passes.side_by_side``).
    pair: list[Throughput] = field(default_factory=list)

    @property
    def one(self) -> Throughput:
        """The one-worker run of median rate: the one the table and the summary report."""
        return _median_run(self.ones)

    @property
    def two(self) -> Throughput:
        return _median_run(self.twos)

    @property
    def ratio(self) -> float:
        return self.one.rate / self.naive.rate if self.naive.rate else float("nan")

    @property
    def round_scales(self) -> list[float]:
        """Each round's two-worker rate over the one-worker rate of the same round."""
        return [
            two.rate / one.rate if one.rate else float("nan")
            for one, two in zip(self.ones, self.twos, strict=False)
        ]

    @property
    def scale_2w(self) -> float:
        """The median of the rounds' ratios. A round's two runs follow each other within a
        minute, so a machine that drifts faster or slower over the benchmark (a shared VM's
        does, by up to a quarter) shifts both alike; the median drops a round a neighbour's
        burst fell on."""
        return statistics.median(self.round_scales) if self.round_scales else float("nan")

    @property
    def pair_rate(self) -> float:
        """Both side-by-side runs' deliveries over the span from the first start to the
        last finish."""
        if len(self.pair) != 2 or not all(run.began and run.ended for run in self.pair):
            return float("nan")
        began = min(run.began for run in self.pair if run.began)
        ended = max(run.ended for run in self.pair if run.ended)
        span = (ended - began).total_seconds()
        return sum(run.finished for run in self.pair) / span if span > 0 else float("nan")

    @property
    def pair_scale(self) -> float:
        return self.pair_rate / self.one.rate if self.one.rate else float("nan")

    @property
    def emit_p99_ms(self) -> float:
        return 1000 * percentile(self.one.emit_s, 99)

    @property
    def enqueue_p99_ms(self) -> float:
        return 1000 * percentile(self.one.enqueue_s, 99)

    @property
    def e2e_p95_s(self) -> float:
        return percentile(self.e2e.seconds, 95)


def _median_run(runs: list[Throughput]) -> Throughput:
    if not runs:
        return Throughput(expected=0)
    return sorted(runs, key=lambda run: run.rate)[(len(runs) - 1) // 2]


def _num(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _rate(run: Throughput) -> str:
    text = f"{run.rate:,.1f}/s ({run.finished:,} in {run.seconds:.1f} s"
    if run.failed:
        text += f", {run.failed} failed"
    if not run.complete:
        text += f", capped: {run.expected - run.finished:,} unfinished"
        if run.events:
            text += f", {run.expanded:,}/{run.events:,} events expanded"
    return text + ")"


def _calls(run: Throughput) -> str:
    text = _num(run.calls_per_delivery, 3)
    # Calls made for work still unfinished at the cap are counted too.
    return text if run.complete else f"{text} (capped: includes calls for unfinished work)"


def _scale(figures: LatencyPass) -> str:
    text = _num(figures.scale_2w, 2)
    if len(figures.round_scales) > 1:
        text += f" (median of {', '.join(_num(scale, 2) for scale in figures.round_scales)})"
    if all(run.complete for run in figures.ones + figures.twos):
        return text
    return f"{text} (a capped run: rates by the cap)"


def _pair(figures: LatencyPass) -> str:
    """Two one-worker runs on stacks of their own, at once: what this machine allows two
    workers that share nothing (no database, Redis or simulator) at all."""
    if not figures.pair:
        return "n/a"
    rates = " + ".join(f"{run.rate:,.0f}" for run in figures.pair)
    text = f"{_num(figures.pair_scale, 2)} × 1 worker ({figures.pair_rate:,.0f}/s = {rates}/s)"
    return text if all(run.complete for run in figures.pair) else f"{text} (capped)"


def _cpu(run: Throughput) -> str:
    """Where a run's CPU went: it tells a saturated machine from one left idle (waiting)."""
    if run.cpu is None or not run.finished:
        return "n/a"
    per = 1000 / run.finished
    return (
        f"workers {run.cpu.workers * per:.2f} s, simulator {run.cpu.simulator * per:.2f} s"
        f"{f' (nice {run.cpu.simulator_nice})' if run.cpu.simulator_nice else ''}, "
        f"bench {run.cpu.bench * per:.2f} s; "
        f"machine {100 * run.cpu.machine_busy:.0f} % busy"
    )


def _pair_cpu(figures: LatencyPass) -> str:
    """The side-by-side workers' CPU per delivery: set against the one-worker run's, it shows
    what two busy processes on this machine cost each other with nothing shared."""
    runs = [run for run in figures.pair if run.cpu is not None]
    finished = sum(run.finished for run in runs)
    if len(runs) != 2 or not finished:
        return "n/a"
    workers = sum(run.cpu.workers for run in runs if run.cpu is not None)
    return f"workers {1000 * workers / finished:.2f} s"


def _e2e(run: Latency) -> str:
    # A subscription not stored by the end counts with the time waited: percentiles are then
    # lower bounds, marked "≥".
    if not run.seconds:
        return "n/a"
    bound = "≥ " if run.missing else ""
    p50, p95, worst = percentile(run.seconds, 50), percentile(run.seconds, 95), max(run.seconds)
    text = f"p50 {bound}{p50:.2f} s, p95 {bound}{p95:.2f} s, max {bound}{worst:.2f} s"
    if run.missing:
        text += f" ({run.missing:,}/{run.pairs:,} not stored by the end)"
    return text


def _e2e_cpu(run: Latency) -> str:
    """CPU per event from the first emit until the last subscription was stored: on a
    saturated machine the emitters fall behind and the backlog, not the engine, sets the
    latency."""
    if run.cpu is None or not run.emit_s:
        return "n/a"
    per = 1000 / len(run.emit_s)
    return (
        f"emitters {run.emitters_cpu_s * per:.2f} ms, workers {run.cpu.workers * per:.2f} ms, "
        f"simulator {run.cpu.simulator * per:.2f} ms; "
        f"machine {100 * run.cpu.machine_busy:.0f} % busy"
    )


def _stages(run: Latency) -> str:
    if not run.to_expand:
        return "n/a"
    expand = [percentile(run.to_expand, pct) for pct in (50, 95)]
    finish = [percentile(run.to_finish, pct) for pct in (50, 95)]
    return "rules matched {:.2f} / {:.2f}, then applied {:.2f} / {:.2f}".format(*expand, *finish)


def table(passes: list[LatencyPass], throttled: Throttled | None) -> str:
    """A readable table: one row per figure, one column per simulator latency."""
    header = ["figure", *(f"{p.latency_ms} ms / call" for p in passes), "target"]
    rows = [
        ("naive_per_s (RQ, 1 job/delivery)", [_rate(p.naive) for p in passes], ""),
        ("  naive calls/delivery", [_num(p.naive.calls_per_delivery, 2) for p in passes], ""),
        ("deliveries_per_s, 1 worker", [_rate(p.one) for p in passes], ""),
        ("ratio (engine / naive)", [_num(p.ratio, 1) for p in passes], "≥ 10 (0 ms), ≥ 50 (50 ms)"),
        ("calls_per_delivery", [_calls(p.one) for p in passes], "≤ 0.15"),
        ("deliveries_per_s, 2 workers", [_rate(p.two) for p in passes], ""),
        ("scale_2w", [_scale(p) for p in passes], "≥ 1.6"),
        ("  CPU per 1,000 deliveries, 1 worker", [_cpu(p.one) for p in passes], ""),
        ("  CPU per 1,000 deliveries, 2 workers", [_cpu(p.two) for p in passes], ""),
        ("  ceiling: 2 one-worker stacks side by side", [_pair(p) for p in passes], ""),
        ("  CPU per 1,000 deliveries, side by side", [_pair_cpu(p) for p in passes], ""),
        (
            "emit p50 / p99 (ms), bulk",
            [
                f"{_num(1000 * percentile(p.one.emit_s, 50), 2)} / {_num(p.emit_p99_ms, 2)}"
                for p in passes
            ],
            "p99 ≤ 2",
        ),
        (
            "bare Queue.enqueue p50 / p99 (ms)",
            [
                f"{_num(1000 * percentile(p.one.enqueue_s, 50), 2)} / {_num(p.enqueue_p99_ms, 2)}"
                for p in passes
            ],
            "",
        ),
        (
            "emit p99 / enqueue p99",
            [_num(p.emit_p99_ms / p.enqueue_p99_ms, 1) for p in passes],
            "≤ 3",
        ),
        ("e2e emit → subscribed", [_e2e(p.e2e) for p in passes], "p95 ≤ 2 s"),
        ("  e2e stages p50 / p95 (s)", [_stages(p.e2e) for p in passes], ""),
        ("  e2e load (events/s achieved)", [_num(p.e2e.emit_rate, 0) for p in passes], "500"),
        ("  e2e CPU per event", [_e2e_cpu(p.e2e) for p in passes], ""),
        (
            "  emit p99 under that load (ms)",
            [_num(1000 * percentile(p.e2e.emit_s, 99), 2) for p in passes],
            "",
        ),
        (
            "failed deliveries (1 worker / 2 / e2e)",
            [
                f"{sum(r.failed for r in p.ones)} / {sum(r.failed for r in p.twos)} / "
                f"{p.e2e.failed}"
                for p in passes
            ],
            "0",
        ),
        (
            "rss_mb (worker peak VmHWM)",
            [_num(max(run.rss_mb for run in [*p.ones, *p.twos, p.e2e]), 0) for p in passes],
            "≤ 150",
        ),
    ]
    widths = [max(len(header[0]), *(len(r[0]) for r in rows))]
    for col in range(len(passes)):
        widths.append(max(len(header[col + 1]), *(len(r[1][col]) for r in rows)))
    widths.append(max(len(header[-1]), *(len(r[2]) for r in rows)))
    lines = [_row(header, widths), _row(["-" * w for w in widths], widths).replace(" ", "-")]
    for name, values, target in rows:
        lines.append(_row([name, *values, target], widths))
    if throttled is not None:
        lines.append("")
        lines.append(
            f"throttled pass ({throttled.limit} calls/min in the simulator and the engine): "
            f"{throttled.finished:,}/{throttled.expected:,} deliveries finished in "
            f"{throttled.seconds:.1f} s, {throttled.failed} failed, {throttled.calls} calls, "
            f"busiest minute {throttled.max_per_minute} calls, {throttled.throttled} throttled "
            f"(target: 0 failed, busiest minute ≤ {throttled.limit}, 0 throttled)"
        )
    return "\n".join(lines)


def _row(cells: list[str], widths: list[int]) -> str:
    """A Markdown table row, padded so it also reads well as plain text."""
    padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
    return "| " + " | ".join(padded) + " |"


def summary(prefix: str, figures: LatencyPass) -> str:
    """The ``bench:`` line (the exact format the issue asks for)."""
    rss = max(run.rss_mb for run in [*figures.ones, *figures.twos, figures.e2e])
    return (
        f"{prefix}: deliveries_per_s={figures.one.rate:.1f} naive_per_s={figures.naive.rate:.1f} "
        f"ratio={figures.ratio:.1f} calls_per_delivery={figures.one.calls_per_delivery:.3f} "
        f"emit_p99_ms={figures.emit_p99_ms:.2f} enqueue_p99_ms={figures.enqueue_p99_ms:.2f} "
        f"e2e_p95_s={figures.e2e_p95_s:.2f} "
        f"rss_mb={rss:.0f} scale_2w={figures.scale_2w:.2f}"
    )


def throttled_summary(run: Throttled) -> str:
    failed = run.failed + (run.expected - run.finished)
    return (
        f"bench-throttled: failed={failed} max_calls_per_min={run.max_per_minute} "
        f"throttled={run.throttled}"
    )
