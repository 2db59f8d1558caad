"""Overlapping invocations: one run at a time, every row exactly once."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

import psycopg
import pytest
from mypy_boto3_s3 import S3Client

from loadstar import lambda_handler
from loadstar.dev.sample import terrific_totes
from loadstar.run.pipeline import SKIPPED_LOCKED
from support import Conn, expected_facts, ledger, put_files, warehouse_facts

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

    assert {s["status"] for s in summaries} <= {"loaded", "skipped"}, summaries
    for s in summaries:
        if s["status"] == "skipped":
            assert s["reason"] == SKIPPED_LOCKED
            assert s["files_loaded"] == 0
    assert sum(s["files_loaded"] for s in summaries) == len(files)
    assert warehouse_facts(db) == expected_facts(files)
    assert {r["status"] for r in ledger(db).values()} == {"loaded"}


def test_a_run_finding_the_lock_held_skips_and_says_so(
    s3: S3Client, bucket: str, database: str, log_lines: Any
) -> None:
    put_files(s3, bucket, terrific_totes(1, 5))
    with psycopg.connect(database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (0x4C53, "loadstar"))
        summary = lambda_handler({}, None)
    assert summary["status"] == "skipped"
    assert summary["reason"] == "skipped: another load is in progress"
    assert summary["files_loaded"] == 0
    assert log_lines.events("run_finished")[-1]["status"] == "skipped"
    # the holder's connection is gone, and with it the lock
    assert lambda_handler({}, None)["status"] == "loaded"
