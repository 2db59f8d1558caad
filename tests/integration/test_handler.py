"""The Lambda handler: scheduled events, the time budget, the summary, raising on failure."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client

from conftest import EVENTS
from loadstar import LoadFailedError, lambda_handler
from loadstar.sample import dimension_files, fact_files, terrific_totes
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
    # one line per file and one per run, with the request id on each
    loaded = log_lines.events("file_loaded")
    assert len(loaded) == len(files)
    assert {line["request_id"] for line in loaded} == {FakeContext.aws_request_id}
    assert len(log_lines.events("run_finished")) == 1


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
    first = lambda_handler({}, ShrinkingContext(generous=8))  # 6 dimension files, 2 facts
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
