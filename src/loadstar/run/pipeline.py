"""One run: under the run lock, every table's pending files, dimensions before facts."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection
from contextlib import closing
from typing import TYPE_CHECKING

import psycopg

from loadstar.config import Settings, TableKind, TableSpec, load_order
from loadstar.errors import LoadstarError, StopRun
from loadstar.run.budget import Budget
from loadstar.run.loader import Progress, RunContext, load_with_retries
from loadstar.run.pending import OUT_OF_ORDER, pending_files
from loadstar.run.summary import RunSummary, TableSummary
from loadstar.shape.mapping import check_table, index_advice
from loadstar.source.discovery import SourceFile
from loadstar.source.s3 import list_objects, s3_client
from loadstar.telemetry import logs, report
from loadstar.warehouse import ledger
from loadstar.warehouse.catalog import TableInfo, describe_table
from loadstar.warehouse.session import Session

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SKIPPED_LOCKED = "skipped: another load is in progress"


def run(
    settings: Settings,
    *,
    kinds: Collection[TableKind] = ("dimension", "fact"),
    context: object | None = None,
    s3: S3Client | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Load every pending file of the selected tables; never raises for a bad file."""
    started = time.monotonic()
    summary = RunSummary(run_id=uuid.uuid4().hex[:12], bucket=settings.require_bucket())
    with logs.bound(run_id=summary.run_id), closing(Session(settings)) as session:
        if session.open():
            ctx = RunContext(
                session,
                s3 or s3_client(),
                summary.bucket,
                settings.ledger_schema,
                summary.run_id,
                progress,
            )
            specs = load_order(t for t in settings.tables if t.kind in kinds)
            _load_tables(
                ctx, settings, specs, summary, Budget(context, settings.time_reserve_seconds)
            )
        else:
            summary.skipped_reason = SKIPPED_LOCKED
        summary.seconds = time.monotonic() - started
        _log_run(summary)
    return summary


def _load_tables(
    ctx: RunContext,
    settings: Settings,
    specs: list[TableSpec],
    summary: RunSummary,
    budget: Budget,
) -> None:
    for spec in specs:
        if summary.stopped_early:
            # Facts wait for their dimensions: once a run stops short, every
            # later table waits for the next run.
            summary.not_reached.append(spec.name)
            continue
        try:
            _load_table(ctx, settings, spec, summary.table(spec.name), budget)
        except StopRun as exc:
            summary.stopped_reason = str(exc)
        summary.stopped_early = bool(summary.table(spec.name).pending or summary.stopped_reason)


def _load_table(
    ctx: RunContext, settings: Settings, spec: TableSpec, out: TableSummary, budget: Budget
) -> None:
    prepared = _prepare_table(ctx, settings, spec, out)
    if prepared is None:
        return
    table, files = prepared
    for index, file in enumerate(files):
        if not budget.allows(file.size):
            out.pending = [f.key for f in files[index:]]
            return
        outcome = load_with_retries(ctx, spec, table, file)
        budget.spent(file.size, outcome.seconds)
        out.add(outcome)
        if outcome.unavailable:
            out.pending = [f.key for f in files[index + 1 :]]
            raise StopRun(f"S3 is failing ({outcome.reason}); the rest waits for the next run")
        if outcome.status == "failed" and spec.kind == "dimension":
            # Later files of a dimension must not overwrite what the failed one
            # would have set; they wait until it loads or is skipped.
            for held in files[index + 1 :]:
                _skip(out, spec, held, f"held back: earlier file {file.key!r} failed")
            return


def _prepare_table(
    ctx: RunContext, settings: Settings, spec: TableSpec, out: TableSummary
) -> tuple[TableInfo, list[SourceFile]] | None:
    """The table as the warehouse describes it and its files to load; None if none."""
    ctx.session.ensure()
    try:
        known = ledger.known_files(ctx.conn, ctx.ledger_schema, ctx.bucket, spec.name)
        listing = list_objects(ctx.s3, ctx.bucket, spec.prefix)
        todo = pending_files(spec.kind, spec.prefix, listing, known)
        out.listed(known.applied[0] if known.applied else None, todo.waiting)
        for file, reason in todo.reported:
            _skip(out, spec, file, reason)
        for file in todo.out_of_order:
            ctx.record(spec, file, ledger.Status.OUT_OF_ORDER, OUT_OF_ORDER)
        if not todo.to_load:
            return None
        table = describe_table(ctx.conn, spec.name, settings.schema)
        check_table(spec, table)
    except (LoadstarError, psycopg.Error) as exc:
        out.error = str(exc)
        logs.event("table_failed", logging.ERROR, table=spec.name, error=out.error)
        return None
    advice = index_advice(spec, table)
    if advice:
        logs.event("version_key_unindexed", logging.WARNING, table=spec.name, advice=advice)
    return table, todo.to_load


def _skip(out: TableSummary, spec: TableSpec, file: SourceFile, reason: str) -> None:
    out.skip(file.key, reason)
    report.file_skipped(spec.name, file, reason)


def _log_run(summary: RunSummary) -> None:
    data = summary.to_dict()
    data.pop("tables")
    level = logging.ERROR if summary.failed else logging.INFO
    logs.event("run_finished", level, **data)
