"""Loading one file: S3 object → Parquet batches → typed batches → warehouse, once.

The file's rows and its ledger row commit in one transaction; anything that
goes wrong rolls both back. What happens next depends on the failure's scope:
a bad file is recorded as failed and the run goes on; a transient failure is
tried again; a table's or the run's problem is raised for the pipeline to
handle at its level, blaming no file.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from loadstar import retry
from loadstar.config import TableSpec
from loadstar.errors import (
    BadFileError,
    FileChangedError,
    LoadstarError,
    OutOfTimeError,
    TableError,
    TransientError,
)
from loadstar.run import report
from loadstar.run.budget import Budget
from loadstar.run.summary import FileOutcome
from loadstar.shape.casting import cast_batch
from loadstar.shape.mapping import LoadPlan, plan_columns
from loadstar.shape.table import TableInfo
from loadstar.source.discovery import SourceFile
from loadstar.source.parquet import ParquetSource
from loadstar.source.s3 import DELETED_AFTER_LISTING, head_object, open_object, tag_loaded
from loadstar.telemetry import logs
from loadstar.warehouse import STATEMENT_TIMEOUT, Status, Warehouse, WriteResult

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


Progress = Callable[[str, str, int, int, int], None]
"""Told (table, key, bytes, rows done, rows in the file) after each batch a file loads."""


@dataclass(frozen=True)
class RunContext:
    warehouse: Warehouse
    s3: S3Client
    bucket: str
    run_id: str
    progress: Progress | None = None
    budget: Budget | None = None
    """The invocation's time budget; statements stop when it is spent."""
    catalogue: tuple[TableSpec, ...] = ()
    """Every table of the catalogue: a key two tables claim belongs to neither."""

    def record(self, spec: TableSpec, file: SourceFile, status: Status, reason: str) -> None:
        """Note in the ledger a file that did not load, and why."""
        self.warehouse.record(self.bucket, spec.name, file, status, reason, self.run_id)


def typed_batches(batches: Iterator[pa.RecordBatch], plan: LoadPlan) -> Iterator[pa.RecordBatch]:
    """The batches cast to the table's types; errors name the file row."""
    offset = 0
    for batch in batches:
        yield cast_batch(batch, plan, first_row=offset)
        offset += batch.num_rows


def load_with_retries(
    ctx: RunContext,
    spec: TableSpec,
    table: TableInfo,
    file: SourceFile,
    sleep: Callable[[float], None] = time.sleep,
    *,
    time_left: float | None = None,
) -> FileOutcome:
    """Load one file; a transient failure (connection lost, a deadlock) is tried again.

    A bad file is not: it would fail the same way. Raises `LockLostError` when
    the connection had to be replaced and another run holds the lock now, and
    the table's or the run's errors as they come.
    """
    delays = retry.FILE.delays()
    attempt = 1
    while True:
        _limit_time(ctx, time_left)
        outcome = load_file(ctx, spec, table, file)
        delay = next(delays, None) if outcome.transient else None
        if delay is None:
            report.file_outcome(outcome)
            return outcome
        logs.event(
            "file_retry",
            logging.WARNING,
            table=spec.name,
            key=file.key,
            attempt=attempt,
            reason=outcome.reason,
            retry_in_seconds=round(delay, 2),
        )
        attempt += 1
        sleep(delay)
        time_left = None  # ask the deadline afresh after the wait
        ctx.warehouse.ensure()
        if outcome.refreshed is not None:
            file = outcome.refreshed


def load_file(
    ctx: RunContext,
    spec: TableSpec,
    table: TableInfo,
    file: SourceFile,
    *,
    replay: bool = False,
) -> FileOutcome:
    """Load one file exactly once; a bad file is recorded as failed, never half-loaded.

    With ``replay``, the file must be a loaded one, and is loaded again.
    """
    started = time.monotonic()
    outcome = FileOutcome(
        table=spec.name,
        key=file.key,
        status="loaded",
        etag=file.etag,
        instant=file.instant,
        size_bytes=file.size,
    )
    try:
        result = _load(ctx, spec, table, file, replay)
    except FileChangedError as exc:
        current = _current(ctx, file)
        if current is None:
            outcome.status, outcome.reason = "vanished", DELETED_AFTER_LISTING
        else:
            # Overwritten since the listing: load the new bytes, under their ETag.
            outcome.status, outcome.reason = "failed", f"file {file.key!r}: {exc}"
            outcome.transient, outcome.refreshed = True, current
    except (BadFileError, TransientError) as exc:
        outcome.status, outcome.reason = "failed", _reason(exc, file, table)
        outcome.cause = exc.cause_fields
        outcome.transient = isinstance(exc, TransientError)
        _record_failure(ctx, spec, file, outcome)
    except TableError as exc:
        if _out_of_time(ctx, exc):
            raise OutOfTimeError(
                f"the time budget ran out while loading {file.key!r}; it waits for the next run",
                sqlstate=exc.sqlstate,
            ) from exc
        raise
    except LoadstarError:
        raise
    except Exception as exc:
        # Nobody foresaw this one: a defect, or an input nobody imagined. The
        # file may be innocent, so the table stops and names it; none is blamed.
        raise TableError(
            f"file {file.key!r}, table {table.qualified_name}: unexpected "
            f"{type(exc).__name__}: {exc}",
            table=spec.name,
            hint="this is loadstar's defect or an input it does not know; "
            "`loadstar skip` the file if it is bad, and report the traceback",
        ) from exc
    else:
        if result is None:
            outcome.status = "already_loaded"
        else:
            outcome.rows_in, outcome.rows_written = result.rows_in, result.rows_written
            outcome.encoding, outcome.foreign_keys = result.encoding, result.foreign_keys
            committed = datetime.now(UTC)
            if file.last_modified is not None and not replay:
                outcome.lag_seconds = max(0.0, (committed - file.last_modified).total_seconds())
            tag_loaded(ctx.s3, ctx.bucket, file.key, committed.isoformat(timespec="seconds"))
    outcome.seconds = time.monotonic() - started
    return outcome


def _limit_time(ctx: RunContext, left: float | None) -> None:
    """Lock waits within the lock timeout and, with a deadline, statements within it."""
    if left is None and ctx.budget is not None:
        left = ctx.budget.left()
    lock = ctx.warehouse.settings.lock_timeout_seconds
    ctx.warehouse.limit_time(
        lock_seconds=lock if left is None else max(0.0, min(lock, left)),
        statement_seconds=None if left is None else max(0.0, left),
    )


def _out_of_time(ctx: RunContext, exc: TableError) -> bool:
    """Whether a statement timeout is the time budget loadstar itself set running out."""
    if exc.sqlstate != STATEMENT_TIMEOUT or ctx.budget is None:
        return False
    left = ctx.budget.left()
    return left is not None and left <= _BUDGET_SLACK_SECONDS


_BUDGET_SLACK_SECONDS = 1.0


def _load(
    ctx: RunContext, spec: TableSpec, table: TableInfo, file: SourceFile, replay: bool
) -> WriteResult | None:
    with open_object(ctx.s3, ctx.bucket, file.key, etag=file.etag) as data:
        source = ParquetSource(data, key=file.key)
        plan = plan_columns(source.schema, spec, table)
        batches = typed_batches(source.batches(), plan)
        if ctx.progress is not None:
            batches = _reporting(batches, ctx.progress, spec.name, file, source.num_rows)
        return ctx.warehouse.load_file(plan, batches, ctx.bucket, file, ctx.run_id, replay=replay)


def _record_failure(
    ctx: RunContext, spec: TableSpec, file: SourceFile, outcome: FileOutcome
) -> None:
    """Record the failure in the ledger, when the connection still stands.

    Losing the connection while recording is one more transient failure: the
    file is tried again on a new connection, and recorded then.
    """
    if not ctx.warehouse.healthy:
        return
    try:
        ctx.record(spec, file, Status.FAILED, outcome.reason or "")
    except TransientError as exc:
        outcome.transient = True
        logs.event("record_failed", logging.WARNING, table=spec.name, key=file.key, error=str(exc))


def _current(ctx: RunContext, file: SourceFile) -> SourceFile | None:
    """The file as it is now in the bucket, or None if it is gone."""
    found = head_object(ctx.s3, ctx.bucket, file.key)
    if found is None:
        return None
    etag, size = found
    return dataclasses.replace(file, etag=etag, size=size)


def _reason(exc: LoadstarError, file: SourceFile, table: TableInfo) -> str:
    if isinstance(exc, BadFileError):
        return str(exc.located(key=file.key, table=table.qualified_name))
    return f"file {file.key!r}, table {table.qualified_name}: {exc}"


def _reporting(
    batches: Iterator[pa.RecordBatch], progress: Progress, table: str, file: SourceFile, total: int
) -> Iterator[pa.RecordBatch]:
    done = 0
    progress(table, file.key, file.size, done, total)
    for batch in batches:
        yield batch
        done += batch.num_rows
        progress(table, file.key, file.size, done, total)
