"""The load ledger at its edges: what each outcome records, and what it never overwrites."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loadstar.source.discovery import SourceFile
from loadstar.warehouse import ledger
from loadstar.warehouse.ledger import Status
from support import Conn
from support import ledger as ledger_rows

SCHEMA = "loadstar"
BUCKET = "processed"
TABLE = "dim_staff"
INSTANT = datetime(2024, 5, 24, 10, tzinfo=UTC)


def source(key: str = "dimension/staff-2024-05-24.parquet", etag: str = "e1") -> SourceFile:
    return SourceFile(key=key, etag=etag, size=1234, instant=INSTANT, stamped=True)


@pytest.fixture
def conn(db: Conn) -> Conn:
    ledger.ensure_ledger(db, SCHEMA)
    return db


def record(conn: Conn, file: SourceFile, status: Status, reason: str = "why") -> bool:
    return ledger.record(conn, SCHEMA, BUCKET, TABLE, file, status, reason, "run-1")


def load(conn: Conn, file: SourceFile) -> bool:
    with conn.transaction():
        claimed = ledger.claim(conn, SCHEMA, BUCKET, TABLE, file, "run-1")
        if claimed:
            ledger.mark_loaded(conn, SCHEMA, BUCKET, file.key, 10, 7)
    return claimed


def test_a_failure_counts_an_attempt_and_each_retry_another(conn: Conn) -> None:
    file = source()
    assert record(conn, file, Status.FAILED, "bad value")
    assert record(conn, file, Status.FAILED, "still bad")
    row = ledger_rows(conn)[file.key]
    assert (row["status"], row["attempts"], row["reason"]) == ("failed", 2, "still bad")


@pytest.mark.parametrize("status", [Status.OUT_OF_ORDER, Status.SKIPPED])
def test_a_file_not_tried_counts_no_attempt(conn: Conn, status: Status) -> None:
    file = source()
    assert record(conn, file, status, "older than applied")
    row = ledger_rows(conn)[file.key]
    assert (row["status"], row["attempts"], row["reason"]) == (
        status.value,
        0,
        "older than applied",
    )


def test_a_loaded_file_is_never_recorded_over(conn: Conn) -> None:
    file = source()
    assert load(conn, file)
    assert not record(conn, file, Status.FAILED, "late failure")
    row = ledger_rows(conn)[file.key]
    assert (row["status"], row["attempts"], row["reason"]) == ("loaded", 1, None)
    assert (row["rows_in_file"], row["rows_written"]) == (10, 7)


def test_an_operators_skip_stays_whatever_a_run_records_after(conn: Conn) -> None:
    file = source()
    assert record(conn, file, Status.FAILED)
    assert ledger.skip(conn, SCHEMA, BUCKET, file.key, "operator said so")
    assert not record(conn, file, Status.FAILED, "failed again")
    assert record(conn, file, Status.SKIPPED, "skipped again")
    row = ledger_rows(conn)[file.key]
    assert (row["status"], row["reason"]) == ("skipped", "skipped again")


def test_the_newest_loaded_file_is_the_latest_instant_then_the_greatest_key(conn: Conn) -> None:
    assert ledger.newest_loaded(conn, SCHEMA, BUCKET, TABLE) is None
    later = SourceFile(
        "dimension/staff-b.parquet", "e2", 1, datetime(2024, 5, 25, tzinfo=UTC), True
    )
    tie = SourceFile("dimension/staff-c.parquet", "e3", 1, datetime(2024, 5, 25, tzinfo=UTC), True)
    for file in (source(), later, tie):
        assert load(conn, file)
    record(conn, source("dimension/staff-z.parquet"), Status.FAILED)  # not loaded: not counted
    assert ledger.newest_loaded(conn, SCHEMA, BUCKET, TABLE) == (tie.instant, tie.key)
    assert ledger.newest_loaded(conn, SCHEMA, "other-bucket", TABLE) is None


def test_each_skip_adds_its_reason_below_the_earlier_ones_and_returns_the_trail(
    conn: Conn,
) -> None:
    file = source()
    assert record(conn, file, Status.FAILED, "bad value in row 3")
    first = ledger.skip(conn, SCHEMA, BUCKET, file.key, "hold for review")
    assert first == "failed: bad value in row 3\nhold for review"
    second = ledger.skip(conn, SCHEMA, BUCKET, file.key, "reissued upstream")
    assert second == "failed: bad value in row 3\nhold for review\nreissued upstream"
    assert ledger_rows(conn)[file.key]["reason"] == second
    untried = source("dimension/staff-2024-05-25.parquet")
    assert record(conn, untried, Status.OUT_OF_ORDER, "")
    assert ledger.skip(conn, SCHEMA, BUCKET, untried.key, "not needed") == "not needed"
    loaded = source("dimension/staff-2024-05-26.parquet")
    assert load(conn, loaded)
    assert ledger.skip(conn, SCHEMA, BUCKET, loaded.key, "too late") is None
    assert ledger_rows(conn)[loaded.key]["status"] == "loaded"
