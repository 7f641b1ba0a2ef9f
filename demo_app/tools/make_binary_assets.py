"""Regenerate the demo's binary assets (a pixel font and a large photo-like PNG), deterministically.

Run from the repository root: ``python demo_app/tools/make_binary_assets.py`` (needs fonttools).
The outputs are committed, so the demo itself never needs this script.
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"

# A 5x7 pixel font: each glyph is seven rows of five cells ("#" = ink).
GLYPHS = {
    "A": ".###.|#...#|#...#|#####|#...#|#...#|#...#",
    "B": "####.|#...#|#...#|####.|#...#|#...#|####.",
    "C": ".###.|#...#|#....|#....|#....|#...#|.###.",
    "D": "####.|#...#|#...#|#...#|#...#|#...#|####.",
    "E": "#####|#....|#....|####.|#....|#....|#####",
    "F": "#####|#....|#....|####.|#....|#....|#....",
    "G": ".###.|#...#|#....|#.###|#...#|#...#|.####",
    "H": "#...#|#...#|#...#|#####|#...#|#...#|#...#",
    "I": ".###.|..#..|..#..|..#..|..#..|..#..|.###.",
    "J": "..###|...#.|...#.|...#.|...#.|#..#.|.##..",
    "K": "#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#",
    "L": "#....|#....|#....|#....|#....|#....|#####",
    "M": "#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#",
    "N": "#...#|#...#|##..#|#.#.#|#..##|#...#|#...#",
    "O": ".###.|#...#|#...#|#...#|#...#|#...#|.###.",
    "P": "####.|#...#|#...#|####.|#....|#....|#....",
    "Q": ".###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#",
    "R": "####.|#...#|#...#|####.|#.#..|#..#.|#...#",
    "S": ".####|#....|#....|.###.|....#|....#|####.",
    "T": "#####|..#..|..#..|..#..|..#..|..#..|..#..",
    "U": "#...#|#...#|#...#|#...#|#...#|#...#|.###.",
    "V": "#...#|#...#|#...#|#...#|#...#|.#.#.|..#..",
    "W": "#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#.",
    "X": "#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#",
    "Y": "#...#|#...#|.#.#.|..#..|..#..|..#..|..#..",
    "Z": "#####|....#|...#.|..#..|.#...|#....|#####",
    "0": ".###.|#...#|#..##|#.#.#|##..#|#...#|.###.",
    "1": "..#..|.##..|..#..|..#..|..#..|..#..|.###.",
    "2": ".###.|#...#|....#|...#.|..#..|.#...|#####",
    "3": "####.|....#|....#|.###.|....#|....#|####.",
    "4": "...#.|..##.|.#.#.|#..#.|#####|...#.|...#.",
    "5": "#####|#....|####.|....#|....#|#...#|.###.",
    "6": ".###.|#....|#....|####.|#...#|#...#|.###.",
    "7": "#####|....#|...#.|..#..|.#...|.#...|.#...",
    "8": ".###.|#...#|#...#|.###.|#...#|#...#|.###.",
    "9": ".###.|#...#|#...#|.####|....#|....#|.###.",
    "!": "..#..|..#..|..#..|..#..|..#..|.....|..#..",
    ".": ".....|.....|.....|.....|.....|.....|..#..",
    "-": ".....|.....|.....|#####|.....|.....|.....",
}
CELL = 100  # font units per pixel; 7 rows + 1 descent = 800 of 1000 units per em


def make_font(target: Path) -> None:
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    names = {char: f"g{ord(char)}" for char in GLYPHS}
    order = [".notdef", "space", *names.values()]
    glyphs = {".notdef": _empty(TTGlyphPen), "space": _empty(TTGlyphPen)}
    for char, rows in GLYPHS.items():
        pen = TTGlyphPen(None)
        for y, row in enumerate(rows.split("|")):
            for x, cell in enumerate(row):
                if cell == "#":
                    left, top = x * CELL + 50, (6 - y) * CELL
                    pen.moveTo((left, top))
                    pen.lineTo((left, top + CELL))
                    pen.lineTo((left + CELL, top + CELL))
                    pen.lineTo((left + CELL, top))
                    pen.closePath()
        glyphs[names[char]] = pen.glyph()
    cmap = {ord(c): n for c, n in names.items()} | {
        ord(c.lower()): n for c, n in names.items() if c.isalpha()
    }
    cmap[32] = "space"
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap(cmap)
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics(dict.fromkeys(order, (600, 0)))
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Staticserve Pixel", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=800, usWinAscent=800, usWinDescent=200)
    builder.setupPost()
    builder.font.flavor = "woff2"
    target.parent.mkdir(parents=True, exist_ok=True)
    builder.save(str(target))


def _empty(pen_class: type) -> object:
    return pen_class(None).glyph()


def make_png(target: Path, width: int = 640, height: int = 400) -> None:
    """A sky-to-sea gradient with film grain: photo-like, so it stays large (~700 KB)."""
    rng = random.Random(7)
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type: none
        for x in range(width):
            horizon = y < height * 0.55
            base = (90 + y // 3, 150 + y // 5, 235) if horizon else (20, 80 + x // 12, 120 + y // 8)
            row += bytes(max(0, min(255, c + rng.randint(-24, 24))) for c in base)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    make_font(ASSETS / "fonts" / "pixel.woff2")
    make_png(ASSETS / "img" / "horizon.png")
    for path in (ASSETS / "fonts" / "pixel.woff2", ASSETS / "img" / "horizon.png"):
        print(path.relative_to(ASSETS.parent), path.stat().st_size, "bytes")
