"""The Lambda entry point: ``loadstar.handler.lambda_handler``.

A thin adapter over `loadstar.run.pipeline.run`: settings from the environment
(an event may name the bucket), the Lambda context for the time budget and
log lines, the run's metrics as EMF on stdout whatever happened (as
Powertools flushes its metrics in a ``finally``), and an exception when
anything failed so that Lambda's Errors metric, retries and alarms see it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from loadstar.config import load_settings
from loadstar.errors import ConfigError, LoadFailedError, LoadstarError
from loadstar.run import pipeline, report
from loadstar.telemetry import logs


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Load every pending file, dimensions first; the run's JSON-able summary.

    Raises `LoadFailedError` (after logging the summary and printing the
    metrics) when any file, table or the run itself failed.
    """
    logs.configure_logging(fmt="json")
    logs.clear()
    logs.bind(**lambda_fields(context))
    try:
        settings = load_settings(bucket=bucket_from_event(event))
        settings.require_bucket()
    except LoadstarError as exc:
        logs.event("run_failed", logging.ERROR, error=str(exc), error_type=type(exc).__name__)
        raise
    # The run never raises: whatever stops it is in its summary, and its
    # metrics go out before the handler raises for it.
    summary = pipeline.run(settings, context=context)
    report.emit(summary, sys.stdout, namespace=settings.metrics_namespace, service=settings.service)
    data = summary.to_dict()
    if data["status"] == "failed":
        raise LoadFailedError(data) from summary.exception
    return data


def lambda_fields(context: Any) -> dict[str, Any]:
    """The invocation's context for every log line, under the field names of
    Powertools for AWS Lambda, so existing queries and dashboards work as they are.
    """
    global _cold_start
    fields: dict[str, Any] = {"cold_start": _cold_start}
    _cold_start = False
    for field, attribute in (
        ("function_name", "function_name"),
        ("function_memory_size", "memory_limit_in_mb"),
        ("function_arn", "invoked_function_arn"),
        ("function_request_id", "aws_request_id"),
    ):
        value = getattr(context, attribute, None)
        if value is not None:
            fields[field] = value
    trace = os.environ.get("_X_AMZN_TRACE_ID")
    if trace:
        fields["xray_trace_id"] = trace.split(";")[0].removeprefix("Root=")
    return fields


_cold_start = True


def bucket_from_event(event: Any) -> str | None:
    """The bucket an event names, as ``bucket`` or ``detail.bucket``; None if it names none."""
    if not isinstance(event, Mapping):
        return None
    candidates = [event.get("bucket")]
    detail = event.get("detail")
    if isinstance(detail, Mapping):
        candidates.append(detail.get("bucket"))
    for value in candidates:
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise ConfigError(f"the event's bucket must be a non-empty string, got {value!r}")
        return value
    return None
