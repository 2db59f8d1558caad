"""A per-file progress bar for a terminal: rows loaded, of the file's rows and bytes."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_BAR = 24
_REDRAW_SECONDS = 0.1


class TerminalProgress:
    """Redraws one line of ``stream`` in place; log lines clear it before they print."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._drawn = 0.0

    def __call__(self, table: str, key: str, size: int, done: int, total: int) -> None:
        now = time.monotonic()
        # Redrawing per batch would cost more than the batch on a slow terminal.
        if 0 < done < total and now - self._drawn < _REDRAW_SECONDS:
            return
        self._drawn = now
        self.stream.write("\r\x1b[K" + render(table, key, size, done, total))
        self.stream.flush()


def render(table: str, key: str, size: int, done: int, total: int) -> str:
    """``dim_staff staff-….parquet [####    ] 50% 10/20 rows, 96.0 kB/192.0 kB``."""
    fraction = done / total if total else 1.0
    bar = "#" * round(fraction * _BAR)
    name = key.rsplit("/", 1)[-1]
    return (
        f"{table} {name} [{bar:<{_BAR}}] {fraction:4.0%} "
        f"{done:,}/{total:,} rows, {human_size(size * fraction)}/{human_size(size)}"
    )


def human_size(count: float) -> str:
    """Bytes as a person reads them: ``812 B``, ``9.6 kB``, ``1.3 MB``, ``2.1 GB``."""
    units = (("B", 1.0), ("kB", 1e3), ("MB", 1e6), ("GB", 1e9))
    at = max([0, *(i for i, (_, scale) in enumerate(units) if count >= scale)])
    if at and at < len(units) - 1 and round(count / units[at][1], 1) >= 1000:
        at += 1  # 999,960 bytes is 1.0 MB, not 1000.0 kB
    unit, scale = units[at]
    return f"{count:.0f} B" if at == 0 else f"{count / scale:.1f} {unit}"
