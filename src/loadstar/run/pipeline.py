"""One run: under the run lock, every table's pending files, dimensions before facts.

A run always reports itself: whatever stops it, even an exception nobody
foresaw, it ends in one ``run_finished`` line and returns its summary, which
says what failed and at what scope.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Collection
from contextlib import closing
from typing import TYPE_CHECKING

from loadstar.aws import s3_client
from loadstar.config import Settings, TableKind, TableSpec, load_order
from loadstar.errors import LoadstarError, TableBusyError, scope_of
from loadstar.run import report, unclaimed
from loadstar.run.budget import Budget
from loadstar.run.loader import Progress, RunContext, load_with_retries
from loadstar.run.pending import OUT_OF_ORDER
from loadstar.run.prepare import held_back_reason, prepare_table
from loadstar.run.summary import RunSummary, TableSummary, new_run_id
from loadstar.shape.mapping import index_advice
from loadstar.source.discovery import SourceFile
from loadstar.telemetry import logs
from loadstar.warehouse import Status, Warehouse

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
    """Load every pending file of the selected tables; never raises, the summary tells."""
    freeze_startup_objects()
    started = time.monotonic()
    summary = RunSummary(run_id=new_run_id(), bucket=settings.require_bucket())
    specs = load_order(t for t in settings.tables if t.kind in kinds)
    unforeseen: BaseException | None = None
    with logs.bound(run_id=summary.run_id), closing(Warehouse(settings)) as warehouse:
        try:
            if warehouse.open():
                budget = Budget(context, settings.time_reserve_seconds)
                s3 = s3 or s3_client()
                ctx = RunContext(
                    warehouse, s3, summary.bucket, summary.run_id, progress, budget, settings.tables
                )
                _load_tables(ctx, specs, summary, budget)
                unclaimed.check_bucket(s3, summary.bucket, settings.tables, summary)
            else:
                summary.skipped_reason = SKIPPED_LOCKED
        except Exception as exc:
            summary.stop(exc)
            summary.not_reached = [s.name for s in specs if s.name not in summary.tables]
            unforeseen = None if isinstance(exc, LoadstarError) else exc
        finally:
            summary.seconds = time.monotonic() - started
            report.run_finished(summary, unforeseen)
    return summary


def _load_tables(
    ctx: RunContext, specs: list[TableSpec], summary: RunSummary, budget: Budget
) -> None:
    for spec in specs:
        if summary.stopped_early:
            # Facts wait for their dimensions: once a run stops short, every
            # later table waits for the next run.
            summary.not_reached.append(spec.name)
            continue
        out = summary.table(spec.name)
        try:
            _load_table(ctx, spec, out, budget)
        except Exception as exc:
            if scope_of(exc) != "table":
                raise
            out.stop(exc)
            if isinstance(exc, TableBusyError):
                report.table_busy(spec.name, exc)
            else:
                report.table_failed(spec.name, exc)
            continue
        summary.stopped_early = bool(out.pending)


def _load_table(ctx: RunContext, spec: TableSpec, out: TableSummary, budget: Budget) -> None:
    ctx.warehouse.ensure()
    prepared = prepare_table(ctx.warehouse, ctx.s3, ctx.bucket, spec, ctx.catalogue)
    unclaimed.note_table(spec, prepared, out)
    todo = prepared.pending
    known = prepared.known
    out.listed(known.applied[0] if known.applied else None, todo.waiting)
    for file, reason, command in todo.attention:
        _skip(out, spec, file, reason)
        out.attention.append({"key": file.key, "reason": reason, "command": command})
    for file in todo.out_of_order:
        ctx.record(spec, file, Status.OUT_OF_ORDER, OUT_OF_ORDER)
    if prepared.problem is not None:
        raise prepared.problem
    if prepared.table is None:
        return
    table = prepared.table
    advice = index_advice(spec, table)
    if advice:
        logs.event("version_key_unindexed", logging.WARNING, table=spec.name, advice=advice)
    files = todo.to_load
    for index, file in enumerate(files):
        left = budget.left()
        if not budget.allows(file.size, left):
            out.pending = [f.key for f in files[index:]]
            return
        try:
            outcome = load_with_retries(ctx, spec, table, file, time_left=left)
        except Exception:
            # The table or the run stops here: this file and the rest wait.
            out.pending = [f.key for f in files[index:]]
            raise
        budget.spent(file.size, outcome.seconds)
        out.add(outcome)
        if outcome.status == "failed" and spec.kind == "dimension":
            # Later files of a dimension must not overwrite what the failed one
            # would have set; they wait until it loads or is skipped.
            for held in files[index + 1 :]:
                _skip(out, spec, held, held_back_reason(file.key))
            return


def _skip(out: TableSummary, spec: TableSpec, file: SourceFile, reason: str) -> None:
    out.skip(file.key, reason)
    report.file_skipped(spec.name, file, reason)


def freeze_startup_objects() -> None:
    """Move what imports left behind out of the collector's way, once per process.

    boto3's service models and pyarrow's bindings are hundreds of thousands of
    objects that live as long as the process; every full collection during a
    run would walk them all. With 20,000 loaded files to list, that was a third
    of a run's own time.
    """
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


_frozen = False
