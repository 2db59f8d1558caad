"""Overlapping invocations: one load of a table at a time, every row exactly once."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

import psycopg
import pytest
from mypy_boto3_s3 import S3Client

from loadstar import lambda_handler
from loadstar.dev.sample import terrific_totes
from support import (
    Conn,
    count,
    expected_facts,
    hold_table_lock,
    ledger,
    put_files,
    warehouse_facts,
)

pytestmark = pytest.mark.usefixtures("env")


def _invoke(environment: dict[str, str], start: Any, results: Any) -> None:
    os.environ.update(environment)
    start.wait()
    try:
        results.put(lambda_handler({}, None))
    except Exception as exc:  # reported to the test, which fails on it
        results.put({"status": "error", "error": repr(exc)})


def test_two_handlers_started_together_load_every_row_once(
    s3: S3Client, bucket: str, db: Conn, env: dict[str, str]
) -> None:
    files = terrific_totes(8, 400)
    put_files(s3, bucket, files)
    spawn = multiprocessing.get_context("spawn")
    start, results = spawn.Barrier(2), spawn.Queue()
    workers = [spawn.Process(target=_invoke, args=(env, start, results)) for _ in range(2)]
    for w in workers:
        w.start()
    summaries = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=30)

    # A table the other run was loading waits for it, or for the next run.
    assert {s["status"] for s in summaries} <= {"loaded", "partial"}, summaries
    assert sum(s["files_loaded"] for s in summaries) == len(files)
    assert warehouse_facts(db) == expected_facts(files)
    assert {r["status"] for r in ledger(db).values()} == {"loaded"}


def test_a_table_another_load_holds_waits_and_the_others_load(
    s3: S3Client,
    bucket: str,
    database: str,
    db: Conn,
    log_lines: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOADSTAR_TABLE_LOCK_WAIT_SECONDS", "0.5")
    files = terrific_totes(1, 5)
    put_files(s3, bucket, files)
    with psycopg.connect(database, autocommit=True) as holder:
        hold_table_lock(holder, "fact_sales_order")
        summary = lambda_handler({}, None)
        assert summary["status"] == "partial"
        fact = summary["tables"]["fact_sales_order"]
        assert fact["busy"] == "table fact_sales_order is being loaded by another run"
        assert fact["files_loaded"] == 0
        assert count(db, "fact_sales_order") == 0
        assert summary["files_loaded"] == len(files) - 1  # every dimension loaded
        [busy] = log_lines.events("table_busy")
        assert busy["table"] == "fact_sales_order"
        assert log_lines.events("run_finished")[-1]["status"] == "partial"
    # the holder's connection is gone, and with it the lock
    after = lambda_handler({}, None)
    assert after["status"] == "loaded"
    assert after["files_loaded"] == 1
    assert warehouse_facts(db) == expected_facts(files)
