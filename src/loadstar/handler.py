"""The Lambda entry point: ``loadstar.handler.lambda_handler``.

A thin adapter over `loadstar.run.pipeline`: it reads what the event asks
(`loadstar.run.events`), takes settings from the environment, the Lambda
context for the time budget and log lines, and prints the run's metrics as
EMF on stdout whatever happened (as Powertools flushes its metrics in a
``finally``).

- A schedule sweeps every table; it raises when anything failed, so that
  Lambda's Errors metric, retries and alarms see it.
- A batch of SQS messages loads the files they name and answers with the
  messages whose files are not done (``batchItemFailures``, beside the run's
  summary): only those come back, and after ``maxReceiveCount`` tries they rest in the dead-letter
  queue. It never raises for a file, since that would return the whole batch.
- S3 notifications or EventBridge events invoking the function directly load
  the files they name, and raise when any did not load, for Lambda's retries.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from loadstar.config import Settings, load_settings
from loadstar.errors import ConfigError, LoadFailedError, LoadstarError
from loadstar.run import events, pipeline, report
from loadstar.run.events import Notice, Trigger
from loadstar.run.summary import RunSummary
from loadstar.telemetry import logs


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Do what the event asks: a sweep's or direct event's summary, or a batch response.

    Raises `LoadFailedError` (after logging the summary and printing the
    metrics) when a sweep or a direct event failed, and `ConfigError` for
    settings or an event loadstar cannot read.
    """
    logs.configure_logging(fmt="json")
    logs.clear()
    logs.bind(**lambda_fields(context))
    try:
        trigger = events.read_event(event)
        settings = load_settings(bucket=trigger.sweep_bucket if trigger.is_sweep else None)
        if settings.bucket is None and len(trigger.buckets) == 1:
            # No bucket configured: the one the event's files are in.
            settings = load_settings(bucket=trigger.buckets.pop())
        # Events that name no file (S3's test event) need no bucket to be ignored.
        bucket = settings.require_bucket() if trigger.is_sweep or trigger.notices else ""
    except LoadstarError as exc:
        logs.event("run_failed", logging.ERROR, error=str(exc), error_type=type(exc).__name__)
        raise
    if trigger.ignored:
        logs.event("event_ignored", reasons=trigger.ignored)
    if trigger.unreadable:
        logs.event(
            "event_unreadable",
            logging.ERROR,
            messages=trigger.unreadable,
            hint="they return to the queue, and after its retries rest in its dead-letter queue",
        )
    if trigger.is_sweep:
        return _finish(settings, pipeline.run(settings, context=context))
    mine = [n for n in trigger.notices if n.bucket == bucket]
    foreign = [n for n in trigger.notices if n.bucket != bucket]
    if foreign:
        logs.event(
            "event_foreign_bucket",
            logging.ERROR,
            bucket=bucket,
            files=[f"s3://{n.bucket}/{n.key}" for n in foreign],
            hint="only the configured bucket's notifications should reach loadstar",
        )
    # The run never raises: whatever stops it is in its summary, and its
    # metrics go out before the handler answers or raises for it.
    summary = pipeline.run_files(settings, mine, context=context) if mine else None
    if not trigger.from_queue:
        if foreign:
            raise ConfigError(f"the event names files of another bucket than {bucket!r}")
        return _finish(settings, summary) if summary is not None else {"status": "ignored"}
    failures = [{"itemIdentifier": i} for i in _unfinished(trigger, summary)]
    if summary is None:
        return {"batchItemFailures": failures}
    _emit(settings, summary)
    # Lambda reads only batchItemFailures; the summary beside it is for whoever
    # invokes the function by hand.
    return {**summary.to_dict(), "batchItemFailures": failures}


def _unfinished(trigger: Trigger, summary: RunSummary | None) -> list[str]:
    """The messages to hand back: those naming a file that is not done, or unreadable."""
    failed = set(trigger.unreadable)
    for notice in trigger.notices:
        if summary is None or not _done(notice, summary):
            failed.add(notice.message_id or "")
    return [i for i in trigger.messages if i in failed]


def _done(notice: Notice, summary: RunSummary) -> bool:
    return notice.bucket == summary.bucket and summary.settled(notice.key)


def _finish(settings: Settings, summary: RunSummary) -> dict[str, Any]:
    _emit(settings, summary)
    data = summary.to_dict()
    if data["status"] == "failed":
        raise LoadFailedError(data) from summary.exception
    return data


def _emit(settings: Settings, summary: RunSummary) -> None:
    report.emit(summary, sys.stdout, namespace=settings.metrics_namespace, service=settings.service)


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
