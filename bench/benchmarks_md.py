"""Writing the latest figures into BENCHMARKS.md, between ``<!-- NAME:start/end -->`` markers."""

from __future__ import annotations

from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def replace_section(name: str, text: str, path: Path = PATH) -> None:
    """Put ``text`` between the ``name`` markers of ``path``.

    Raises:
        ValueError: when the file lacks the markers.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    content = path.read_text()
    if start not in content or end not in content:
        raise ValueError(f"{path.name} has no {start} … {end} section")
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{text.strip()}\n{end}{tail}")
