"""The terminal progress line."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from loadstar.source.discovery import SourceFile
from loadstar.telemetry.progress import TerminalProgress, render
from loadstar.telemetry.wording import human_size

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


@pytest.mark.parametrize(
    ("size", "done", "total", "shown"),
    [
        (812, 1, 1, "1/1 rows, 812 B/812 B"),
        (9_613, 2, 4, "2/4 rows, 4.8 kB/9.6 kB"),
        (1_300_000, 1, 2, "1/2 rows, 650.0 kB/1.3 MB"),
        (2_100_000_000, 4, 4, "4/4 rows, 2.1 GB/2.1 GB"),
    ],
)
def test_sizes_read_in_their_unit_never_as_zero_megabytes(
    size: int, done: int, total: int, shown: str
) -> None:
    line = render("dim_date", "dimension/date.parquet", size, done, total)
    assert line.endswith(shown)


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1_000, "1.0 kB"),
        (999_949, "999.9 kB"),
        (999_960, "1.0 MB"),
        (1_300_000, "1.3 MB"),
        (999_960_000, "1.0 GB"),
        (5e12, "5000.0 GB"),
    ],
)
def test_a_size_reads_in_the_unit_its_rounding_lands_in(count: float, shown: str) -> None:
    assert human_size(count) == shown
