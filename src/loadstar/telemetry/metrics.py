"""CloudWatch metrics of a run, as Embedded Metric Format documents.

EMF is a JSON log line CloudWatch turns into metrics, so a run needs no
PutMetricData permission and no extra call: the Lambda prints the documents to
stdout with its logs. One document per run carries the totals; one per table
carries that table's backlog and freshness, so an alarm can point at either.

Two alarms matter: "the load failed" (FilesFailed, or the function's Errors)
and "the warehouse has gone stale" (NewestLoadedAgeSeconds: nothing new has
loaded for a while; OldestPendingAgeSeconds: a file has waited too long).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TextIO

from loadstar.run.summary import RunSummary, TableSummary

UNITS: dict[str, str] = {
    "FilesLoaded": "Count",
    "RowsLoaded": "Count",
    "FilesFailed": "Count",
    "FilesPending": "Count",
    "OldestPendingAgeSeconds": "Seconds",
    "NewestLoadedAgeSeconds": "Seconds",
    "DurationMs": "Milliseconds",
}
"""Every metric loadstar emits, and its unit."""

SERVICE_DIMENSION = "Service"
TABLE_DIMENSION = "Table"


def run_metrics(summary: RunSummary, now: datetime) -> dict[str, float]:
    """The run's metrics; backlog and freshness only when some table was listed."""
    tables = summary.tables.values()
    values: dict[str, float] = {
        "FilesLoaded": sum(t.files_loaded for t in tables),
        "RowsLoaded": sum(t.rows_written for t in tables),
        "FilesFailed": sum(len(t.failed) for t in tables) + sum(bool(t.error) for t in tables),
        "DurationMs": round(summary.seconds * 1000),
    }
    listed = [t for t in tables if t.waiting is not None]
    if listed:
        values.update(_backlog(listed, now))
    newest = [t.newest_loaded for t in tables if t.newest_loaded is not None]
    if newest:
        values["NewestLoadedAgeSeconds"] = _age(max(newest), now)
    return values


def table_metrics(table: TableSummary, now: datetime) -> dict[str, float]:
    """One table's backlog and freshness; empty when the run did not list it."""
    if table.waiting is None:
        return {}
    values = _backlog([table], now)
    if table.newest_loaded is not None:
        values["NewestLoadedAgeSeconds"] = _age(table.newest_loaded, now)
    return values


def emf_documents(
    summary: RunSummary, *, namespace: str, service: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The run's document, then one per table the run listed."""
    now = now or datetime.now(UTC)
    documents = [
        _document(
            namespace,
            {SERVICE_DIMENSION: service},
            run_metrics(summary, now),
            now,
            run_id=summary.run_id,
            status=summary.status,
        )
    ]
    for name, table in summary.tables.items():
        values = table_metrics(table, now)
        if values:
            dimensions = {SERVICE_DIMENSION: service, TABLE_DIMENSION: name}
            documents.append(_document(namespace, dimensions, values, now, run_id=summary.run_id))
    return documents


def emit(summary: RunSummary, stream: TextIO, *, namespace: str, service: str) -> None:
    """Write the run's EMF documents to ``stream``, one JSON line each."""
    for document in emf_documents(summary, namespace=namespace, service=service):
        stream.write(json.dumps(document) + "\n")
    stream.flush()


def _backlog(tables: list[TableSummary], now: datetime) -> dict[str, float]:
    waiting = [instant for t in tables for instant in (t.waiting or {}).values()]
    # No backlog is an age of zero rather than no data, so that an alarm on
    # the age sees a healthy value rather than a gap.
    return {
        "FilesPending": len(waiting),
        "OldestPendingAgeSeconds": _age(min(waiting), now) if waiting else 0,
    }


def _age(instant: datetime, now: datetime) -> float:
    # Keys stamped slightly in the future (clock skew upstream) count as fresh.
    return max(0, round((now - instant).total_seconds()))


def _document(
    namespace: str,
    dimensions: dict[str, str],
    values: dict[str, float],
    now: datetime,
    **properties: str,
) -> dict[str, Any]:
    return {
        "_aws": {
            "Timestamp": int(now.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": name, "Unit": UNITS[name]} for name in values],
                }
            ],
        },
        "event": "metrics",
        **dimensions,
        **properties,
        **values,
    }
