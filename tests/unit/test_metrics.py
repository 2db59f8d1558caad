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
    summary = RunSummary(run_id="r2", bucket="b")
    summary.table("fact_sales_order").busy = "being loaded by another run"
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


def lagging(count: int) -> RunSummary:
    summary = RunSummary(run_id="r4", bucket="b")
    table = summary.table("fact_sales_order")
    for n in range(count):
        table.add(
            FileOutcome(
                table="fact_sales_order", key=f"k{n}", status="loaded", lag_seconds=n + 0.25
            )
        )
    # a replay or a file found only in the ledger has no landing time: no lag
    table.add(FileOutcome(table="fact_sales_order", key="old", status="loaded"))
    return summary


def test_every_loaded_file_reports_its_own_ingest_lag() -> None:
    [run] = emf_documents(lagging(3), namespace="NS", service="svc", now=NOW)
    assert run["IngestLagSeconds"] == [0.25, 1.25, 2.25]
    names = [m["Name"] for m in run["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert "IngestLagSeconds" in names
    assert UNITS["IngestLagSeconds"] == "Seconds"


def test_more_lags_than_one_document_holds_go_out_in_several() -> None:
    documents = emf_documents(lagging(250), namespace="NS", service="svc", now=NOW)
    lags = [d["IngestLagSeconds"] for d in documents]
    assert [len(values) for values in lags] == [100, 100, 50]
    assert [v for values in lags for v in values] == [n + 0.25 for n in range(250)]
    assert "FilesLoaded" in documents[0]
    assert "FilesLoaded" not in documents[1]
    assert {d["run_id"] for d in documents} == {"r4"}


def test_a_run_that_loaded_nothing_reports_no_lag() -> None:
    [run] = emf_documents(lagging(0), namespace="NS", service="svc", now=NOW)
    assert "IngestLagSeconds" not in run
