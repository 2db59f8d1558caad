"""Never a hang, never a raw driver error: locks, timeouts and servers that refuse to write.

A table another session keeps locked is reported busy within the lock
timeout (never past the time budget) and loads next run; a statement that
runs into the budget stops the run cleanly; a read-only server or a tiny
statement_timeout ends the run with its line, its metrics and a hint that
fits the cause.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from mypy_boto3_s3 import S3Client
from psycopg import sql

from loadstar import LoadFailedError, lambda_handler
from loadstar.cli import EXIT_CONFIG, EXIT_LOCKED, main
from loadstar.dev.sample import dimension_files
from support import Conn, DeadlineContext, count, ledger, put_files

pytestmark = pytest.mark.usefixtures("env")


@pytest.fixture
def staff_locked(database: str) -> Iterator[None]:
    """Another session's transaction holds dim_staff exclusively for the test."""
    with psycopg.connect(database) as other:
        other.execute("LOCK TABLE dim_staff IN ACCESS EXCLUSIVE MODE")
        yield
        other.rollback()


@pytest.mark.usefixtures("staff_locked")
def test_a_locked_table_is_busy_within_the_lock_timeout_and_the_others_load(
    s3: S3Client, bucket: str, db: Conn, monkeypatch: pytest.MonkeyPatch, log_lines: Any
) -> None:
    monkeypatch.setenv("LOADSTAR_LOCK_TIMEOUT_SECONDS", "1")
    put_files(s3, bucket, dimension_files())
    started = time.monotonic()
    summary = lambda_handler({}, DeadlineContext(60))
    assert time.monotonic() - started < 15
    assert summary["status"] == "partial"
    assert "locked by another session" in summary["tables"]["dim_staff"]["busy"]
    assert [b["table"] for b in log_lines.events("table_busy")] == ["dim_staff"]
    assert log_lines.events("file_failed") == []
    assert summary["tables"]["dim_counterparty"]["files_loaded"] == 1
    assert not [k for k in ledger(db) if "staff" in k]


def test_a_busy_table_loads_on_the_next_run(
    s3: S3Client, bucket: str, db: Conn, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOADSTAR_LOCK_TIMEOUT_SECONDS", "0.5")
    put_files(s3, bucket, dimension_files())
    with psycopg.connect(database) as other:
        other.execute("LOCK TABLE dim_staff IN ACCESS EXCLUSIVE MODE")
        assert main(["run"]) == EXIT_LOCKED
        other.rollback()
    assert main(["run"]) == 0
    assert count(db, "dim_staff") == 20


@pytest.mark.usefixtures("staff_locked")
def test_a_lock_wait_never_outlasts_the_time_budget(
    s3: S3Client, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOADSTAR_LOCK_TIMEOUT_SECONDS", "300")
    monkeypatch.setenv("LOADSTAR_TIME_RESERVE_SECONDS", "1")
    put_files(s3, bucket, [f for f in dimension_files() if f.table == "dim_staff"])
    started = time.monotonic()
    summary = lambda_handler({}, DeadlineContext(6))
    assert time.monotonic() - started < 6
    assert summary["status"] == "partial"


def test_a_statement_running_into_the_budget_stops_the_run_cleanly(
    s3: S3Client, bucket: str, db: Conn, monkeypatch: pytest.MonkeyPatch, log_lines: Any
) -> None:
    monkeypatch.setenv("LOADSTAR_TIME_RESERVE_SECONDS", "1")
    db.execute(
        "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(30); RETURN NEW; END $$"
    )
    db.execute(
        "CREATE TRIGGER slow BEFORE INSERT ON dim_staff FOR EACH ROW EXECUTE FUNCTION slow()"
    )
    staff = next(f for f in dimension_files() if f.table == "dim_staff")
    put_files(s3, bucket, [staff])
    started = time.monotonic()
    summary = lambda_handler({}, DeadlineContext(5))
    assert time.monotonic() - started < 8
    assert summary["status"] == "partial"
    assert "time budget ran out" in summary["stopped_early"]
    assert summary["tables"]["dim_staff"]["pending"] == [staff.key]
    assert log_lines.events("file_failed") == []
    assert staff.key not in ledger(db)


@pytest.mark.parametrize(
    ("setting", "value", "hint"),
    [
        ("default_transaction_read_only", "on", "read-only"),
        ("statement_timeout", "1ms", "statement_timeout"),
    ],
)
def test_a_server_that_refuses_every_statement_ends_the_run_with_a_fitting_hint(
    setting: str,
    value: str,
    hint: str,
    s3: S3Client,
    bucket: str,
    database: str,
    db: Conn,
    log_lines: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put_files(s3, bucket, dimension_files())
    name = psycopg.conninfo.conninfo_to_dict(database)["dbname"]
    db.execute(
        sql.SQL("ALTER DATABASE {} SET {} = {}").format(
            sql.Identifier(str(name)), sql.Identifier(setting), sql.Literal(value)
        )
    )
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    error = caught.value.summary["error"]
    assert error["scope"] == "run"
    assert hint in error["hint"]
    assert len(log_lines.events("run_finished")) == 1
    assert '"_aws"' in capsys.readouterr().out
    assert main(["run"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"hint: {error['hint']}" in err
    assert "privileges" not in err
