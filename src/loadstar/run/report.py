"""What a run says about itself: one line per file, per stopped table, per run; its metrics.

Every file a run looks at ends in exactly one of ``file_loaded``,
``file_failed`` or ``file_skipped``, with the same fields whichever it is, so
one Logs Insights query over ``event`` and ``table`` answers "what happened to
this file". A table that stops says so once (``table_failed``), and the run
ends in one ``run_finished`` line and its EMF documents, whatever happened.

Two alarms matter: "the load failed" (FilesFailed, or the function's Errors)
and "the warehouse has gone stale" (NewestLoadedAgeSeconds: nothing new has
loaded for a while; OldestPendingAgeSeconds: a file has waited too long).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, TextIO

from loadstar.run.summary import FileOutcome, RunSummary, TableSummary, error_fields
from loadstar.source.discovery import SourceFile
from loadstar.telemetry import logs, metrics
from loadstar.telemetry.metrics import SERVICE_DIMENSION, TABLE_DIMENSION

ALREADY_LOADED = (
    "already loaded: the ledger has it (another run, or an attempt whose reply was lost)"
)


def file_outcome(outcome: FileOutcome) -> None:
    """The line for a file the run tried to load."""
    fields: dict[str, Any] = {
        "table": outcome.table,
        "key": outcome.key,
        "etag": outcome.etag,
        "rows": outcome.rows_in,
        "rows_written": outcome.rows_written,
        "bytes": outcome.size_bytes,
        "duration_ms": round(outcome.seconds * 1000),
        "reason": None,
    }
    if outcome.status == "loaded":
        fields["copy_format"] = outcome.encoding
        fields["foreign_keys"] = outcome.foreign_keys
        if outcome.seconds > 0:
            fields["rows_per_second"] = round(outcome.rows_in / outcome.seconds)
        if outcome.lag_seconds is not None:
            fields["ingest_lag_ms"] = round(outcome.lag_seconds * 1000)
        logs.event("file_loaded", **fields)
    elif outcome.status == "failed":
        fields["reason"] = outcome.reason
        fields["transient"] = outcome.transient
        fields.update(outcome.cause)
        logs.event("file_failed", logging.ERROR, **fields)
    else:
        fields["reason"] = outcome.reason or ALREADY_LOADED
        logs.event("file_skipped", logging.WARNING, **fields)


def file_skipped(table: str, file: SourceFile, reason: str) -> None:
    """The line for a file the run reports but does not try to load."""
    logs.event(
        "file_skipped",
        logging.WARNING,
        table=table,
        key=file.key,
        etag=file.etag,
        rows=0,
        rows_written=0,
        bytes=file.size,
        duration_ms=0,
        reason=reason,
    )


def table_failed(table: str, exc: BaseException) -> None:
    """The one line for a table that stopped: what, its cause, and what to do."""
    detail = error_fields(exc)
    logs.event(
        "table_failed",
        logging.ERROR,
        table=table,
        error=detail.pop("message"),
        error_type=detail.pop("type"),
        **detail,
        exc_info=None if detail.get("scope") else exc,
    )


def table_busy(table: str, exc: BaseException) -> None:
    """The one line for a table another session's lock kept: not a failure, tried next run."""
    detail = error_fields(exc)
    logs.event(
        "table_busy",
        logging.WARNING,
        table=table,
        reason=detail["message"],
        sqlstate=detail.get("sqlstate"),
    )


def run_finished(summary: RunSummary, exc: BaseException | None = None) -> None:
    """The run's one closing line; with the exception nobody foresaw, if one ended it."""
    data = summary.to_dict()
    data.pop("tables")
    level = logging.ERROR if summary.failed else logging.INFO
    logs.event("run_finished", level, **data, exc_info=exc)


# -- metrics --------------------------------------------------------------------------------


def run_metrics(summary: RunSummary, now: datetime) -> dict[str, float]:
    """The run's metrics; backlog and freshness only when some table was listed."""
    tables = summary.tables.values()
    values: dict[str, float] = {
        "FilesLoaded": sum(t.files_loaded for t in tables),
        "RowsLoaded": sum(t.rows_written for t in tables),
        "FilesFailed": sum(len(t.failed) for t in tables) + sum(bool(t.error) for t in tables),
        "FilesNeedingAttention": sum(len(t.attention) for t in tables),
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
    service_only = {SERVICE_DIMENSION: service}
    run: dict[str, float | list[float]] = dict(run_metrics(summary, now))
    # Every file's own lag, so that CloudWatch's percentiles are the files';
    # EMF takes at most 100 values of a metric per document.
    lags = [round(lag, 3) for t in summary.tables.values() for lag in t.lags]
    step = metrics.MAX_VALUES
    chunks = [lags[i : i + step] for i in range(0, len(lags), step)]
    if chunks:
        run["IngestLagSeconds"] = chunks[0]
    documents = [
        metrics.document(
            namespace, service_only, run, now, run_id=summary.run_id, status=summary.status
        ),
        *(
            metrics.document(
                namespace, service_only, {"IngestLagSeconds": c}, now, run_id=summary.run_id
            )
            for c in chunks[1:]
        ),
    ]
    for name, table in summary.tables.items():
        values = table_metrics(table, now)
        if values:
            dimensions = {SERVICE_DIMENSION: service, TABLE_DIMENSION: name}
            documents.append(
                metrics.document(namespace, dimensions, values, now, run_id=summary.run_id)
            )
    return documents


def emit(summary: RunSummary, stream: TextIO, *, namespace: str, service: str) -> None:
    """Write the run's EMF documents to ``stream``, one JSON line each."""
    metrics.write(emf_documents(summary, namespace=namespace, service=service), stream)


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
