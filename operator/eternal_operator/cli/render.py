"""Text output: aligned columns, sections, and colour only for a terminal.

Widths are measured on the plain text, so colour never misaligns a column, and `Style(False)`
(output piped, or NO_COLOR set) emits no escape code at all.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2", "cyan": "36"}


@dataclass(frozen=True)
class Cell:
    text: str
    colour: str | None = None


@dataclass(frozen=True)
class Style:
    colour: bool

    @classmethod
    def for_stream(cls, stream: TextIO) -> Style:
        """Colour on a terminal only, and never with NO_COLOR set (https://no-color.org)."""
        tty = bool(getattr(stream, "isatty", lambda: False)())
        return cls(tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb")

    def paint(self, text: str, colour: str | None) -> str:
        if not self.colour or not colour or not text:
            return text
        return f"\033[{_CODES[colour]}m{text}\033[0m"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Cell | str]], style: Style, indent: int = 2
) -> str:
    """Columns padded to their widest cell, two spaces apart, like `kubectl get`."""
    cells = [[c if isinstance(c, Cell) else Cell(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell.text))
    pad = " " * indent

    def line(row: Sequence[Cell]) -> str:
        parts = []
        for i, cell in enumerate(row):
            text = cell.text if i == len(row) - 1 else cell.text.ljust(widths[i])
            parts.append(style.paint(text, cell.colour) if cell.text else text)
        return (pad + "  ".join(parts)).rstrip()

    out = [line([Cell(h, "dim") for h in headers])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def heading(title: str, style: Style) -> str:
    return style.paint(title, "bold")
