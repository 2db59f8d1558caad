"""The Lambda handler: scheduled events, the time budget, the summary, raising on failure."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client

from conftest import EVENTS
from loadstar import LoadFailedError, lambda_handler
from loadstar.dev.sample import dimension_files, fact_files, terrific_totes
from loadstar.source.keys import instant_from_key
from support import Conn, FakeContext, expected_facts, put_files, warehouse_facts

pytestmark = pytest.mark.usefixtures("env")


class ShrinkingContext(FakeContext):
    """Plenty of time for the first ``generous`` checks, then almost none."""

    def __init__(self, generous: int) -> None:
        super().__init__()
        self.generous = generous

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return 600_000 if self.calls <= self.generous else 1_500


def test_the_handler_path_is_loadstar_handler_lambda_handler() -> None:
    import importlib

    module = importlib.import_module("loadstar.handler")
    assert module.lambda_handler is lambda_handler


def test_a_scheduled_event_loads_and_returns_a_json_summary(
    s3: S3Client, bucket: str, scheduled_event: dict[str, Any], log_lines: Any
) -> None:
    files = terrific_totes(2, 10)
    put_files(s3, bucket, files)
    summary = lambda_handler(scheduled_event, FakeContext())
    assert json.loads(json.dumps(summary)) == summary
    assert summary["status"] == "loaded"
    assert summary["bucket"] == bucket
    assert summary["files_loaded"] == len(files)
    table = summary["tables"]["fact_sales_order"]
    assert set(table) >= {"files_loaded", "rows_written", "skipped", "failed", "pending"}
    # one line per file and one per run, with the invocation's context on each
    loaded = log_lines.events("file_loaded")
    assert len(loaded) == len(files)
    run = log_lines.events("run_finished")
    assert len(run) == 1
    for line in [*loaded, *run]:
        assert line["function_request_id"] == FakeContext.aws_request_id
        assert line["function_name"] == FakeContext.function_name
        assert line["function_arn"] == FakeContext.invoked_function_arn
        assert line["function_memory_size"] == 1024
        assert line["run_id"] == run[0]["run_id"]
        assert isinstance(line["cold_start"], bool)
    for field in ("run_id", "table", "key", "etag", "rows", "bytes", "duration_ms", "reason"):
        assert field in loaded[0], field
    assert loaded[0]["reason"] is None


def test_an_event_may_name_the_bucket(s3: S3Client, db: Conn) -> None:
    with (EVENTS / "scheduled_event_with_bucket.json").open() as fh:
        event = json.load(fh)
    s3.create_bucket(Bucket=event["detail"]["bucket"])
    put_files(s3, event["detail"]["bucket"], dimension_files())
    summary = lambda_handler(event, None)
    assert summary["bucket"] == "named-in-the-event"
    assert summary["files_loaded"] == 6


def test_too_little_time_stops_before_the_first_file(s3: S3Client, bucket: str, db: Conn) -> None:
    files = terrific_totes(2, 10)
    put_files(s3, bucket, files)
    summary = lambda_handler({}, FakeContext(remaining_ms=1_000))
    assert summary["status"] == "partial"
    assert summary["files_loaded"] == 0
    assert summary["tables"]["dim_date"]["pending"] == [files[0].key]
    assert "fact_sales_order" in summary["tables_not_reached"]


def test_a_run_short_of_time_stops_cleanly_and_the_next_resumes(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    facts = fact_files(4, 20)
    put_files(s3, bucket, [*dimension_files(), *facts])
    # The budget is asked before each table's lock and each file: 6 dimension
    # tables of one file each, then the fact table and 2 of its files.
    first = lambda_handler({}, ShrinkingContext(generous=6 * 2 + 1 + 2))
    assert first["status"] == "partial"
    assert first["files_loaded"] == 8
    assert first["tables"]["fact_sales_order"]["pending"] == [f.key for f in facts[2:]]
    second = lambda_handler({}, FakeContext())
    assert second["files_loaded"] == 2
    assert warehouse_facts(db) == expected_facts(facts)


def test_a_failed_file_raises_after_logging_the_summary(
    s3: S3Client, bucket: str, log_lines: Any
) -> None:
    put_files(s3, bucket, fact_files(1, 5))  # no dimensions: foreign keys miss
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, FakeContext())
    run = log_lines.events("run_finished")
    assert run[-1]["status"] == "failed"
    assert run[-1]["files_failed"] == 1
    assert caught.value.summary["files_failed"] == 1


def emf_documents(stdout: str) -> list[dict[str, Any]]:
    documents = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def test_each_run_prints_its_metrics_in_embedded_metric_format(
    s3: S3Client,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LOADSTAR_METRICS_NAMESPACE", "Warehouse/Test")
    monkeypatch.setenv("LOADSTAR_SERVICE", "loadstar-test")
    files = terrific_totes(1, 2)
    put_files(s3, bucket, files)
    summary = lambda_handler({}, FakeContext())
    documents = emf_documents(capsys.readouterr().out)
    run, *tables = documents
    directive = run["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Warehouse/Test"
    assert directive["Dimensions"] == [["Service"]]
    assert run["Service"] == "loadstar-test"
    # every declared metric has a value in the document, as EMF requires
    names = {m["Name"] for m in directive["Metrics"]}
    assert names == {
        "FilesLoaded",
        "RowsLoaded",
        "FilesFailed",
        "FilesNeedingAttention",
        "FilesPending",
        "IngestLagSeconds",
        "OldestPendingAgeSeconds",
        "NewestLoadedAgeSeconds",
        "DurationMs",
    }
    assert all(isinstance(run[name], int | float) for name in names - {"IngestLagSeconds"})
    # one lag per loaded file, each from its upload to its commit
    lags = run["IngestLagSeconds"]
    assert len(lags) == len(files)
    assert all(0 <= lag < 120 for lag in lags)
    assert run["FilesLoaded"] == len(files) == summary["files_loaded"]
    assert run["RowsLoaded"] == summary["rows_written"]
    assert run["FilesFailed"] == 0
    assert run["FilesPending"] == 0
    assert run["OldestPendingAgeSeconds"] == 0
    newest = max(instant(f.key) for f in files)
    age = (datetime.now(UTC) - newest).total_seconds()
    assert abs(run["NewestLoadedAgeSeconds"] - age) < 60
    assert {doc["Table"] for doc in tables} == set(summary["tables"])
    for doc in tables:
        assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Service", "Table"]]


def test_metrics_count_failed_and_still_pending_files(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # facts whose dimensions are missing fail, and stay pending for the next run
    facts = fact_files(1, 3)
    put_files(s3, bucket, facts)
    with pytest.raises(LoadFailedError):
        lambda_handler({}, FakeContext())
    run = emf_documents(capsys.readouterr().out)[0]
    assert run["FilesFailed"] == len(facts)
    assert run["FilesLoaded"] == 0
    assert run["FilesPending"] == len(facts)
    oldest = min(instant(f.key) for f in facts)
    age = (datetime.now(UTC) - oldest).total_seconds()
    assert abs(run["OldestPendingAgeSeconds"] - age) < 60
    assert "NewestLoadedAgeSeconds" not in run


def instant(key: str) -> datetime:
    found = instant_from_key(key)
    assert found is not None
    return found
