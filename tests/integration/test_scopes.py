"""Every failure is handled at its scope: a file's, a table's or the run's.

A table's problem (a privilege, a full disk, an internal error) blames none
of its files and stops no other table; a failure while recording a failure
still ends the run with its line and its metrics.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client
from psycopg import sql

from conftest import ROLE
from loadstar import LoadFailedError, lambda_handler
from loadstar.config import default_catalogue, load_order
from loadstar.dev.sample import dimension_files, fact_files, terrific_totes
from support import Conn, assert_exact, count, department, ledger, put_files, put_table, staff

pytestmark = pytest.mark.usefixtures("env")


def emf_documents(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_a_revoked_insert_stops_the_fact_table_and_blames_none_of_its_files(
    as_loader: str,
    s3: S3Client,
    bucket: str,
    db: Conn,
    log_lines: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = terrific_totes(3, 20)
    put_files(s3, bucket, files)
    revoke = sql.SQL("REVOKE INSERT ON fact_sales_order FROM {}").format(sql.Identifier(ROLE))
    db.execute(revoke)

    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)

    summary = caught.value.summary
    assert summary["status"] == "failed"
    assert summary["files_failed"] == 0
    fact = summary["tables"]["fact_sales_order"]
    assert fact["failed"] == []
    assert fact["error_detail"]["sqlstate"] == "42501"
    assert "grant the loader role" in fact["error_detail"]["hint"]
    assert len(fact["pending"]) == 3
    failed_tables = log_lines.events("table_failed")
    assert [(t["table"], t["sqlstate"]) for t in failed_tables] == [("fact_sales_order", "42501")]
    assert log_lines.events("file_failed") == []
    assert len(log_lines.events("run_finished")) == 1
    # the dimensions loaded; no file is marked failed, no fact file is in the ledger
    assert count(db, "dim_staff") == 21
    assert {r["status"] for r in ledger(db).values()} == {"loaded"}
    assert not [k for k in ledger(db) if k.startswith("fact/")]
    assert count(db, "fact_sales_order") == 0
    (run_document, *_) = emf_documents(capsys.readouterr().out)
    assert run_document["status"] == "failed"

    db.execute(sql.SQL("GRANT INSERT ON fact_sales_order TO {}").format(sql.Identifier(ROLE)))
    second = lambda_handler({}, None)
    assert second["status"] == "loaded"
    assert second["tables"]["fact_sales_order"]["files_loaded"] == 3
    assert_exact(db, files)


SERVER_FAILURES = [
    pytest.param("53100", id="disk full"),
    pytest.param("53200", id="out of memory"),
    pytest.param("XX000", id="internal error"),
    pytest.param("XX001", id="data corrupted"),
    pytest.param("58030", id="I/O error"),
    pytest.param("57014", id="statement timeout"),
    pytest.param("25006", id="read-only transaction"),
    pytest.param("42501", id="permission denied"),
]


@pytest.mark.parametrize("state", SERVER_FAILURES)
def test_a_server_failure_in_a_dimension_load_marks_no_file_failed(
    state: str, s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    db.execute(
        sql.SQL(
            "CREATE FUNCTION fail_staff() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'the server failed' USING ERRCODE = {}; END $$"
        ).format(sql.Literal(state))
    )
    db.execute(
        "CREATE TRIGGER fail_staff BEFORE INSERT OR UPDATE ON dim_staff "
        "FOR EACH ROW EXECUTE FUNCTION fail_staff()"
    )
    older, newer = "2024-05-24 10:00:00", "2024-05-24 11:00:00"
    put_table(s3, bucket, f"dimension/staff-{older}.parquet", staff([1, 2], department="Old"))
    put_table(s3, bucket, f"dimension/staff-{newer}.parquet", staff([2], department="New"))
    put_files(s3, bucket, [f for f in dimension_files() if f.table == "dim_date"])

    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)

    summary = caught.value.summary
    staff_summary = summary["tables"]["dim_staff"]
    assert staff_summary["failed"] == []
    assert staff_summary["error_detail"]["sqlstate"] == state
    assert staff_summary["skipped"] == []  # nothing held back either: nothing failed
    assert log_lines.events("file_failed") == []
    assert [t["sqlstate"] for t in log_lines.events("table_failed")] == [state]
    assert not [k for k in ledger(db) if k.startswith("dimension/staff")]
    assert summary["tables"]["dim_date"]["files_loaded"] == 1  # the other tables went on

    db.execute("DROP TRIGGER fail_staff ON dim_staff")
    assert lambda_handler({}, None)["tables"]["dim_staff"]["files_loaded"] == 2
    assert department(db, 1) == "Old"
    assert department(db, 2) == "New"


def test_a_failure_while_recording_a_failure_still_ends_the_run_with_its_line_and_metrics(
    s3: S3Client, bucket: str, db: Conn, log_lines: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # The ledger itself refuses to record a failed file: the error escapes the
    # file's guard, and the run must still report itself.
    db.execute("CREATE SCHEMA IF NOT EXISTS loadstar")
    db.execute(
        "CREATE FUNCTION loadstar.refuse_failures() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF NEW.status = 'failed' THEN "
        "RAISE EXCEPTION 'the ledger broke' USING ERRCODE = 'XX000'; END IF; RETURN NEW; END $$"
    )
    lambda_handler({}, None)  # creates the ledger
    db.execute(
        "CREATE TRIGGER refuse_failures BEFORE INSERT OR UPDATE ON loadstar.load_ledger "
        "FOR EACH ROW EXECUTE FUNCTION loadstar.refuse_failures()"
    )
    capsys.readouterr()
    dims = dimension_files()
    bad = dims[0].data.append_column("no_such_column", [[1] * dims[0].data.num_rows])
    put_table(s3, bucket, dims[0].key, bad)  # dim_date, the first table a run loads
    put_files(s3, bucket, [*dims[1:], *fact_files(1, 10)])

    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)

    summary = caught.value.summary
    assert summary["error"]["scope"] == "run"
    assert summary["error"]["sqlstate"] == "XX000"
    assert "ledger in schema 'loadstar'" in summary["error"]["message"]
    assert summary["tables_not_reached"] == [t.name for t in load_order(default_catalogue())][1:]
    finished = [f for f in log_lines.events("run_finished") if f["run_id"] == summary["run_id"]]
    assert len(finished) == 1
    assert finished[0]["status"] == "failed"
    assert finished[0]["error"]["sqlstate"] == "XX000"
    documents = emf_documents(capsys.readouterr().out)
    assert documents[0]["status"] == "failed"
    assert documents[0]["run_id"] == summary["run_id"]
    assert count(db, "dim_date") == 0
