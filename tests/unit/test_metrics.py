"""EMF documents built from a run's summary, without a run."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from loadstar.run.report import emf_documents, emit, run_metrics
from loadstar.run.summary import FileOutcome, RunSummary
from loadstar.telemetry.metrics import UNITS

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def summary_with_backlog() -> RunSummary:
    summary = RunSummary(run_id="r1", bucket="b", seconds=2.5)
    dim = summary.table("dim_staff")
    dim.listed(NOW - timedelta(hours=5), {"d1": NOW - timedelta(hours=1)})
    dim.add(
        FileOutcome(
            table="dim_staff",
            key="d1",
            status="loaded",
            rows_in=10,
            rows_written=7,
            instant=NOW - timedelta(hours=1),
        )
    )
    fact = summary.table("fact_sales_order")
    fact.listed(
        None,
        {"f1": NOW - timedelta(minutes=90), "f2": NOW - timedelta(minutes=30)},
    )
    fact.add(FileOutcome(table="fact_sales_order", key="f1", status="failed", reason="bad"))
    fact.pending = ["f2"]
    return summary


def test_run_metrics_sum_the_tables_and_age_the_backlog() -> None:
    values = run_metrics(summary_with_backlog(), NOW)
    assert values == {
        "FilesLoaded": 1,
        "RowsLoaded": 7,
        "FilesFailed": 1,
        "FilesNeedingAttention": 0,
        "DurationMs": 2500,
        # the failed file and the one not reached both still wait
        "FilesPending": 2,
        "OldestPendingAgeSeconds": 5400,
        # the newest loaded file is the one this run loaded, not the older one
        "NewestLoadedAgeSeconds": 3600,
    }


def test_a_run_that_listed_nothing_reports_no_backlog_or_freshness() -> None:
    summary = RunSummary(run_id="r2", bucket="b", skipped_reason="locked")
    values = run_metrics(summary, NOW)
    assert set(values) == {
        "FilesLoaded",
        "RowsLoaded",
        "FilesFailed",
        "FilesNeedingAttention",
        "DurationMs",
    }


def test_documents_declare_exactly_the_metrics_they_carry() -> None:
    documents = emf_documents(summary_with_backlog(), namespace="NS", service="svc", now=NOW)
    assert [d.get("Table") for d in documents] == [None, "dim_staff", "fact_sales_order"]
    for document in documents:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "NS"
        assert document["_aws"]["Timestamp"] == int(NOW.timestamp() * 1000)
        for metric in directive["Metrics"]:
            assert metric["Unit"] == UNITS[metric["Name"]]
            assert isinstance(document[metric["Name"]], int | float)
        for dimension in directive["Dimensions"][0]:
            assert isinstance(document[dimension], str)
    fact = documents[2]
    assert fact["FilesPending"] == 2
    assert "NewestLoadedAgeSeconds" not in fact  # nothing of it ever loaded


def test_a_key_stamped_in_the_future_counts_as_fresh() -> None:
    summary = RunSummary(run_id="r3", bucket="b")
    summary.table("t").listed(NOW + timedelta(minutes=5), {})
    assert run_metrics(summary, NOW)["NewestLoadedAgeSeconds"] == 0


def test_emit_writes_one_json_document_per_line() -> None:
    out = io.StringIO()
    emit(summary_with_backlog(), out, namespace="NS", service="svc")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["event"] == "metrics" for line in lines)
