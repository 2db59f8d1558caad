"""Faults a scheduled Lambda meets: killed processes, lost connections, S3 misbehaving,
overlapping runs. After each, one more normal run leaves every table exactly right."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from mypy_boto3_s3 import S3Client

from faults import (
    Loader,
    PgProxy,
    Rule,
    S3FaultProxy,
    backend_running,
    pg_socket_path,
    slow_ledger_writes,
    wait_for,
)
from loadstar import LoadFailedError, lambda_handler
from loadstar.aws import MAX_ATTEMPTS
from loadstar.config import default_catalogue
from loadstar.dev.local import LocalServices
from loadstar.dev.sample import (
    SampleFile,
    dimension_files,
    fact_files,
    sales_order_table,
    terrific_totes,
)
from loadstar.run.report import ALREADY_LOADED
from loadstar.warehouse.ledger import ensure_ledger
from support import Conn, assert_exact, count, ledger, put_files, put_table, staff

pytestmark = pytest.mark.usefixtures("env")

GET_FACT = r"^/[^/?]+/fact/sales_order[^?]*$"


@pytest.fixture
def proxy(
    stack: LocalServices, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> Iterator[S3FaultProxy]:
    fault = S3FaultProxy(stack.endpoint_url).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault.url)
    env["AWS_ENDPOINT_URL"] = fault.url
    yield fault
    fault.stop()


@pytest.fixture
def files(s3: S3Client, bucket: str) -> list[SampleFile]:
    landed = terrific_totes(3, 200)
    put_files(s3, bucket, landed)
    return landed


def big_fact_file(at_key: str, rows: int) -> SampleFile:
    """A fact file large enough that its COPY takes a while."""
    base = fact_files(1, rows, seed=3)[0]
    return SampleFile(at_key, base.table, base.data)


# -- 1. the process dies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("point", "rule"),
    [
        ("while listing", Rule("GET", r"list-type=2&prefix=fact", "hold")),
        ("while downloading", Rule("GET", GET_FACT, "hold")),
        ("after commit, before the tag", Rule("PUT", r"\?tagging", "hold")),
    ],
)
def test_killed_at_an_s3_call(
    point: str,
    rule: Rule,
    proxy: S3FaultProxy,
    files: list[SampleFile],
    env: dict[str, str],
    db: Conn,
) -> None:
    held = proxy.add(rule)
    loader = Loader(env)
    assert held.reached.wait(timeout=60), f"the loader never got {point}"
    loader.kill()
    held.release.set()
    lambda_handler({}, None)
    assert_exact(db, files)


def test_killed_mid_copy(
    s3: S3Client,
    bucket: str,
    files: list[SampleFile],
    env: dict[str, str],
    db: Conn,
    database: str,
) -> None:
    big = big_fact_file("fact/sales_order-2024-05-30 00:00:00.000000.parquet", 200_000)
    put_files(s3, bucket, [big])
    loader = Loader(env)
    wait_for(backend_running(database, r"^COPY .*fact_sales_order|^COPY \"loadstar_stage\""))
    loader.kill()
    lambda_handler({}, None)
    assert_exact(db, [*files, big])


def test_killed_after_the_rows_before_commit(
    files: list[SampleFile], env: dict[str, str], db: Conn, database: str
) -> None:
    ensure_ledger(db, "loadstar")
    with slow_ledger_writes(db, 3):
        loader = Loader(env)
        wait_for(backend_running(database, r"^\s*UPDATE .*load_ledger"))
        loader.kill()
    assert ledger(db) == {}  # nothing committed: the first file was mid-transaction
    lambda_handler({}, None)
    assert_exact(db, files)


def test_killed_at_random_moments(files: list[SampleFile], env: dict[str, str], db: Conn) -> None:
    rng = random.Random(20240524)
    for _ in range(6):
        loader = Loader(env)
        threading.Event().wait(rng.uniform(0.05, 1.5))
        loader.kill()
    lambda_handler({}, None)
    assert_exact(db, files)


# -- 2. the database goes away ----------------------------------------------------------------


def test_backend_terminated_mid_file_is_retried_in_the_same_run(
    s3: S3Client, bucket: str, files: list[SampleFile], db: Conn, database: str, log_lines: Any
) -> None:
    big = big_fact_file("fact/sales_order-2024-05-30 00:00:00.000000.parquet", 200_000)
    put_files(s3, bucket, [big])
    result: dict[str, Any] = {}
    run = threading.Thread(target=lambda: result.update(lambda_handler({}, None)))
    run.start()
    terminated = 0
    while run.is_alive() and not terminated:
        try:
            wait_for(backend_running(database, r"^COPY"), timeout=10)
        except TimeoutError:
            break
        # The COPY may end between seeing it and terminating it: then wait for the next.
        row = db.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS done "
            "FROM pg_stat_activity WHERE application_name = 'loadstar' AND state = 'active' "
            "AND query ~ '^COPY') AS t WHERE done"
        ).fetchone()
        terminated = row[0] if row else 0
    run.join(timeout=120)
    assert result["status"] == "loaded", result
    assert_exact(db, [*files, big])
    # the file whose COPY was cut was retried once, then loaded: one line says
    # so, and the file's own line is file_loaded
    assert terminated == 1
    retried = log_lines.events("file_retry")
    assert len(retried) == 1
    assert "connection" in retried[0]["reason"]
    assert retried[0]["key"] in {line["key"] for line in log_lines.events("file_loaded")}
    assert not log_lines.events("file_failed")


def test_an_unreachable_warehouse_at_connect_is_retried(
    stack: LocalServices,
    files: list[SampleFile],
    db: Conn,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    log_lines: Any,
) -> None:
    pg = PgProxy(pg_socket_path(database)).start()
    try:
        dbname = psycopg.conninfo.conninfo_to_dict(database)["dbname"]
        monkeypatch.setenv("LOADSTAR_DATABASE_URL", pg.url(str(dbname)))
        # The first attempt and the first retry are refused, whatever the
        # jittered waits between them: the retry is what this test holds.
        pg.refuse_next(2)
        summary = lambda_handler({}, None)
    finally:
        pg.stop()
    assert summary["status"] == "loaded"
    assert pg.refused == 2
    assert len(log_lines.events("db_connect_retry")) == 2
    assert_exact(db, files)


def test_a_dropped_connection_mid_run_is_recovered(
    stack: LocalServices,
    s3: S3Client,
    bucket: str,
    files: list[SampleFile],
    db: Conn,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big = big_fact_file("fact/sales_order-2024-05-30 00:00:00.000000.parquet", 200_000)
    put_files(s3, bucket, [big])
    pg = PgProxy(pg_socket_path(database)).start()
    try:
        dbname = psycopg.conninfo.conninfo_to_dict(database)["dbname"]
        monkeypatch.setenv("LOADSTAR_DATABASE_URL", pg.url(str(dbname)))
        result: dict[str, Any] = {}
        run = threading.Thread(target=lambda: result.update(lambda_handler({}, None)))
        run.start()
        wait_for(backend_running(database, r"^COPY"))
        pg.sever()
        run.join(timeout=120)
    finally:
        pg.stop()
    assert result["status"] == "loaded", result
    assert_exact(db, [*files, big])


@pytest.mark.parametrize(
    ("table", "statement"),
    [("dim_staff", b'"dim_staff"'), ("fact_sales_order", b'"fact_sales_order"')],
)
def test_a_commit_whose_reply_is_lost_is_found_loaded_on_retry_and_written_once(
    table: str,
    statement: bytes,
    s3: S3Client,
    bucket: str,
    db: Conn,
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    log_lines: Any,
) -> None:
    # No version key and no unique index: were the fact file claimed again,
    # every one of its rows would be there twice.
    db.execute("DROP INDEX fact_sales_order_version")
    config = tmp_path / "catalogue.toml"
    config.write_text(
        "".join(
            f'[tables.{spec.name}]\nprefix = "{spec.prefix}"\n'
            + ("version_key = []\n" if spec.kind == "fact" else "")
            for spec in default_catalogue()
        )
    )
    monkeypatch.setenv("LOADSTAR_CONFIG", str(config))
    files = [*dimension_files(), *fact_files(1, 50)]
    put_files(s3, bucket, files)
    key = next(f.key for f in files if f.table == table)
    pg = PgProxy(pg_socket_path(database)).start()
    try:
        dbname = psycopg.conninfo.conninfo_to_dict(database)["dbname"]
        monkeypatch.setenv("LOADSTAR_DATABASE_URL", pg.url(str(dbname)))
        pg.lose_commit_reply_after(statement)
        summary = lambda_handler({}, None)
    finally:
        pg.stop()
    assert pg.commit_reply_lost.is_set()  # the server committed; the client never heard
    assert summary["status"] == "loaded"
    retried = [r for r in log_lines.events("file_retry") if r["key"] == key]
    assert len(retried) == 1
    skipped = [s for s in log_lines.events("file_skipped") if s["key"] == key]
    assert [s["reason"] for s in skipped] == [ALREADY_LOADED]
    row = ledger(db)[key]
    assert (row["status"], row["attempts"]) == ("loaded", 1)
    expected = next(f for f in files if f.key == key).data.num_rows
    assert row["rows_written"] == expected
    assert count(db, table) == expected
    assert count(db, "dim_staff") == 20


# -- 3. S3 misbehaves -------------------------------------------------------------------------


def test_throttling_and_server_errors_are_retried(
    proxy: S3FaultProxy, files: list[SampleFile], db: Conn
) -> None:
    proxy.add(Rule("GET", r"list-type=2", "status", times=2, status=503, code="SlowDown"))
    proxy.add(Rule("GET", GET_FACT, "status", times=2, status=500, code="InternalError"))
    assert lambda_handler({}, None)["status"] == "loaded"
    assert_exact(db, files)


def test_a_connection_reset_mid_download_is_retried(
    proxy: S3FaultProxy, files: list[SampleFile], db: Conn
) -> None:
    truncate = proxy.add(Rule("GET", GET_FACT, "truncate", times=1))
    assert lambda_handler({}, None)["status"] == "loaded"
    assert truncate.hits == 1
    assert_exact(db, files)


def test_s3_failing_all_run_long_stops_the_run_and_the_next_run_loads_everything(
    proxy: S3FaultProxy, files: list[SampleFile], db: Conn
) -> None:
    outage = proxy.add(Rule("GET", GET_FACT, "status", times=None, status=503, code="SlowDown"))
    with pytest.raises(LoadFailedError, match=r"SlowDown") as caught:
        lambda_handler({}, None)
    # boto3's attempts for the first fact file, no more: the run stops there
    assert outage.hits == MAX_ATTEMPTS
    summary = caught.value.summary
    assert summary["error"]["scope"] == "run"
    assert summary["error"]["s3_code"] == "SlowDown"
    assert "still after 4 attempts" in summary["stopped_early"]
    assert len(summary["tables"]["fact_sales_order"]["pending"]) == 3
    # S3 failing is nobody's file's fault: no fact file is marked failed.
    assert summary["files_failed"] == 0
    assert not [k for k in ledger(db) if k.startswith("fact/")]
    proxy.rules.clear()
    lambda_handler({}, None)
    assert_exact(db, files)


def test_an_object_deleted_between_listing_and_reading_is_reported(
    proxy: S3FaultProxy, s3: S3Client, bucket: str, db: Conn
) -> None:
    key = "dimension/staff-2024-05-24 14:35:22.123456.parquet"
    put_table(s3, bucket, key, staff([1, 2]))
    proxy.add(
        Rule(
            "GET",
            r"^/[^?]+/dimension/staff",
            "call",
            callback=lambda: s3.delete_object(Bucket=bucket, Key=key),
        )
    )
    summary = lambda_handler({}, None)
    assert summary["status"] == "loaded"
    skipped = summary["tables"]["dim_staff"]["skipped"]
    assert [s["key"] for s in skipped] == [key]
    assert "deleted" in skipped[0]["reason"]
    assert key not in ledger(db)


def test_an_object_overwritten_between_listing_and_reading_loads_its_new_bytes(
    proxy: S3FaultProxy, s3: S3Client, bucket: str, db: Conn
) -> None:
    key = "dimension/staff-2024-05-24 14:35:22.123456.parquet"
    put_table(s3, bucket, key, staff([1, 2], department="Listed"))
    new: dict[str, str] = {}
    proxy.add(
        Rule(
            "GET",
            r"^/[^?]+/dimension/staff",
            "call",
            callback=lambda: new.update(
                etag=put_table(s3, bucket, key, staff([1, 2, 3], department="Overwritten"))
            ),
        )
    )
    summary = lambda_handler({}, None)
    assert summary["status"] == "loaded"
    assert ledger(db)[key]["etag"] == new["etag"]
    rows = db.execute("SELECT DISTINCT department_name FROM dim_staff").fetchall()
    assert rows == [("Overwritten",)]
    assert ledger(db)[key]["rows_in_file"] == 3


# -- 4. overlapping invocations ---------------------------------------------------------------


def test_a_late_run_leaves_the_table_one_holds_and_a_killed_holder_lets_go(
    proxy: S3FaultProxy,
    files: list[SampleFile],
    env: dict[str, str],
    db: Conn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOADSTAR_TABLE_LOCK_WAIT_SECONDS", "0.2")
    held = proxy.add(Rule("GET", GET_FACT, "hold"))
    first = Loader(env)
    assert held.reached.wait(timeout=60)
    late = lambda_handler({}, None)  # the schedule fires again
    retry = lambda_handler({}, None)  # and Lambda retries
    for summary in (late, retry):
        assert summary["status"] == "partial"
        assert summary["tables"]["fact_sales_order"]["busy"]
        assert summary["files_loaded"] == 0  # the first run loaded every dimension
    first.kill()
    held.release.set()
    wait_for(lambda: lambda_handler({}, None)["status"] == "loaded", timeout=30, every=0.2)
    assert_exact(db, files)


def test_version_rows_stay_unique_when_files_repeat_versions(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    files = terrific_totes(2, 30)
    put_files(s3, bucket, files)
    again = [f for f in files if f.table == "fact_sales_order"][-1]  # the same versions, again
    late = SampleFile(
        "fact/sales_order-2024-06-01 00:00:00.000000.parquet",
        again.table,
        sales_order_table(again.data.to_pylist()),
    )
    put_files(s3, bucket, [late])
    lambda_handler({}, None)
    assert_exact(db, [*files, late])


# -- scopes on the S3 side ------------------------------------------------------------------


@pytest.mark.parametrize("code", ["ExpiredToken", "InvalidAccessKeyId", "AccessDenied"])
def test_refused_s3_credentials_stop_the_run_and_blame_no_file(
    code: str,
    proxy: S3FaultProxy,
    files: list[SampleFile],
    db: Conn,
    log_lines: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = 400 if code == "ExpiredToken" else 403
    proxy.add(Rule("GET", r"list-type=2", "status", times=None, status=status, code=code))
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    summary = caught.value.summary
    assert summary["error"]["scope"] == "run"
    assert summary["error"]["s3_code"] == code
    assert "check the role's S3 permissions" in summary["error"]["message"]
    # the first table was reached and stopped; every other waits, none is blamed
    assert list(summary["tables"]) == ["dim_date"]
    assert len(summary["tables_not_reached"]) == 6
    assert summary["files_failed"] == 0
    assert log_lines.events("file_failed") == []
    assert log_lines.events("table_failed") == []
    assert len(log_lines.events("run_finished")) == 1
    assert '"_aws"' in capsys.readouterr().out
    assert not ledger(db)
    proxy.rules.clear()
    lambda_handler({}, None)
    assert_exact(db, files)


def test_s3_failing_while_a_changed_file_is_looked_up_still_ends_the_run_cleanly(
    proxy: S3FaultProxy, s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    key = "dimension/staff-2024-05-24 14:35:22.123456.parquet"
    put_table(s3, bucket, key, staff([1, 2]))
    # The read says the object changed; the look-up of what it is now fails.
    proxy.add(
        Rule("GET", r"^/[^?]+/dimension/staff", "status", status=412, code="PreconditionFailed")
    )
    proxy.add(Rule("HEAD", r"^/[^?]+/dimension/staff", "status", times=None, status=503))
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    summary = caught.value.summary
    assert summary["error"]["type"] == "ServiceUnavailableError"
    assert summary["tables"]["dim_staff"]["pending"] == [key]
    assert len(log_lines.events("run_finished")) == 1
    assert key not in ledger(db)
    proxy.rules.clear()
    assert lambda_handler({}, None)["tables"]["dim_staff"]["files_loaded"] == 1
