"""A per-file progress bar for a terminal: rows loaded, of the file's rows and bytes."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from loadstar.telemetry.wording import human_size

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
