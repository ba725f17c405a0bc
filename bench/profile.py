"""Summarise py-spy samples of a worker (``run.py --profile DIR`` writes them).

    python -m bench.profile DIR/0ms-1w/bench-1-*.txt

Each input line is one collapsed stack (``frame;frame;...;leaf count``), idle samples
included. Only the main thread is summarised (the one that runs jobs; the sweeper and RQ's
pub/sub threads mostly sleep), so the shares are of the worker's wall-clock time: waiting for
a job, the kind of work in a job (the leaf decides), the add-on functions with the most time
inside them (inclusive), and the hottest leaf functions.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# The first pattern a stack's frames match names its kind (checked leaf first).
KINDS = (
    ("waiting for a job (Redis BLMOVE)", re.compile(r"dequeue_any|lpop|blpop|blmove", re.I)),
    (
        # Statements, commits and waits for the writer lock (addon/sqlite.py wraps the cursor).
        "SQLite (sqlite3 C calls, writer lock)",
        re.compile(r"\(sqlalchemy/engine/default\.py\)|do_execute|addon/sqlite\.py"),
    ),
    ("HTTP to iContact (requests/urllib3)", re.compile(r"requests/|urllib3/|http/client")),
    ("Redis (other commands)", re.compile(r"redis/")),
    ("SQLAlchemy ORM / Core (Python)", re.compile(r"sqlalchemy/")),
    ("JSON", re.compile(r"json/")),
    ("logging", re.compile(r"logging/")),
    ("RQ bookkeeping", re.compile(r"rq/")),
    ("add-on code", re.compile(r"addon/")),
)
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def read(paths: list[Path]) -> list[tuple[list[str], int]]:
    stacks = []
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks.append((stack.split(";"), int(count)))
    return stacks


def kind(frames: list[str]) -> str:
    # Waiting for a job is waiting wherever in redis-py the sample finds it (its leaf is
    # a socket read, which would otherwise count as a Redis command).
    waiting, pattern = KINDS[0]
    if any(pattern.search(frame) for frame in frames):
        return waiting
    for frame in reversed(frames):
        for name, pattern in KINDS:
            if pattern.search(frame):
                return name
    return "other"


def short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for root in ("site-packages/", "/work/main/"):
        if root in path:
            path = path.split(root, 1)[1]
    return f"{match['func']} ({path})"


def summarise(stacks: list[tuple[list[str], int]], top: int = 15) -> str:
    everything = sum(count for _, count in stacks) or 1
    # The main thread's stacks start at a script's module; threads at Thread._bootstrap.
    stacks = [(frames, n) for frames, n in stacks if frames[0].startswith("<module> (")]
    total = sum(count for _, count in stacks) or 1
    kinds: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for frames, count in stacks:
        kinds[kind(frames)] += count
        leaves[short(frames[-1])] += count
        for frame in set(frames):
            if "addon/" in frame and "addon/sandbox" not in frame:
                inclusive[short(frame)] += count
    lines = [
        f"{total} samples of the main thread ({100 * total / everything:.0f} % of all samples)",
        "",
        "by kind of work (leaf frame):",
    ]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in kinds.most_common()]
    lines += ["", "add-on functions, inclusive:"]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common(top)]
    lines += ["", "hottest leaves:"]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in leaves.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    print(summarise(read(args.files), args.top))


if __name__ == "__main__":
    main()
