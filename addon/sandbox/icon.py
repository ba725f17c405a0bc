"""The simulator's favicon, drawn in code: a 16×16 ICO, so no file ships and browsers get no 404."""

from __future__ import annotations

import functools
import struct

# A white envelope on a blue tile; "#" = white, "." = blue, " " = transparent corner.
_PICTURE = (
    " .............. ",
    "................",
    "................",
    "................",
    "..############..",
    "..##........##..",
    "..#.#......#.#..",
    "..#..#....#..#..",
    "..#...#..#...#..",
    "..#....##....#..",
    "..#..........#..",
    "..############..",
    "................",
    "................",
    "................",
    " .............. ",
)
# BGRA, as the ICO's bitmap stores them.
_COLOURS = {"#": (255, 255, 255, 255), ".": (0xC8, 0x6B, 0x1F, 255), " ": (0, 0, 0, 0)}


@functools.cache
def favicon_ico() -> bytes:
    """The icon as ``image/x-icon`` bytes (one 32-bit 16×16 image)."""
    size = len(_PICTURE)
    # The bitmap's rows go bottom-up; an ICO bitmap header states twice the height (XOR + AND).
    pixels = b"".join(bytes(_COLOURS[ch]) for row in reversed(_PICTURE) for ch in row)
    mask = bytes(4 * size)  # AND mask: 1 bit a pixel, rows padded to 32 bits; alpha rules
    header = struct.pack("<IiiHHIIiiII", 40, size, size * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    image = header + pixels + mask
    directory = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(image), 6 + 16)
    return directory + entry + image
