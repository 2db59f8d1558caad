"""The terminal progress line."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from loadstar.source.discovery import SourceFile
from loadstar.telemetry.progress import TerminalProgress, render

FILE = SourceFile(
    key="fact/sales_order-2024-05-24.parquet",
    etag="e",
    size=4_000_000,
    instant=datetime(2024, 5, 24, tzinfo=UTC),
    stamped=True,
)


def test_the_line_shows_rows_and_bytes_of_the_file() -> None:
    line = render("fact_sales_order", FILE.key, FILE.size, 5_000, 20_000)
    assert line.startswith("fact_sales_order sales_order-2024-05-24.parquet [######      ")
    assert " 25% 5,000/20,000 rows, 1.0 MB/4.0 MB" in line


def test_an_empty_file_is_complete() -> None:
    assert "100% 0/0 rows" in render("t", FILE.key, FILE.size, 0, 0)


def test_the_line_is_redrawn_in_place_and_always_at_start_and_end() -> None:
    out = io.StringIO()
    progress = TerminalProgress(out)
    for done in (0, 10, 20, 30, 100):
        progress("t", FILE.key, FILE.size, done, 100)
    drawn = out.getvalue().split("\r\x1b[K")[1:]
    # batches in between are throttled; the first and the last are always drawn
    assert "0/100 rows" in drawn[0]
    assert "100/100 rows" in drawn[-1]
    assert "\n" not in out.getvalue()
