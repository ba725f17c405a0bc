"""The Logs' picture: entries per day for the last 30 days by outcome, drawn as SVG by the
template (no script), with the same numbers as a table for those who would rather read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ...engine import logs
from ...state import context
from ...store.models import FAILED, PENDING, SKIPPED, SUCCESS
from .guard import marketplace

#: The chart's days, and the order its bars stack in (bottom first) with their words.
CHART_DAYS = 30
OUTCOMES = ((SUCCESS, "Success"), (SKIPPED, "Skipped"), (PENDING, "Pending"), (FAILED, "Failed"))
#: The chart's drawing box (SVG user units): a slot per day, the bars' height.
SLOT, BAR, HEIGHT = 20, 14, 100


@dataclass(frozen=True)
class Segment:
    status: str
    y: float
    height: float


@dataclass(frozen=True)
class Day:
    date: dt.date
    counts: dict[str, int]
    x: int
    segments: list[Segment]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def chart_context() -> dict[str, Any]:
    """The Logs' chart: entries per day for the last 30 days, stacked by outcome."""
    counts = logs.daily_counts(context(), marketplace(), CHART_DAYS)
    peak = max((sum(day.values()) for _, day in counts), default=0)
    days = []
    for n, (date, day) in enumerate(counts):
        segments, base = [], float(HEIGHT)
        for status, _ in OUTCOMES:
            height = HEIGHT * day.get(status, 0) / peak if peak else 0
            if height:
                base -= height
                segments.append(Segment(status, round(base, 2), round(height, 2)))
        days.append(Day(date, day, n * SLOT + (SLOT - BAR) // 2, segments))
    return {
        "chart_days": days,
        "chart_peak": peak,
        "chart_size": (CHART_DAYS * SLOT, HEIGHT),
        "chart_bar": BAR,
        "outcomes": OUTCOMES,
    }
