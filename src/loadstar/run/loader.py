"""Loading one file: S3 object → Parquet batches → typed batches → warehouse, once.

The file's rows and its ledger row commit in one transaction; anything that
goes wrong rolls both back and the failure is recorded on its own.
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
    ConfigError,
    FileChangedError,
    ServiceUnavailableError,
    TransientError,
)
from loadstar.run.summary import FileOutcome
from loadstar.shape.casting import cast_batch
from loadstar.shape.mapping import LoadPlan, plan_columns
from loadstar.source.discovery import SourceFile
from loadstar.source.parquet import ParquetSource
from loadstar.source.s3 import head_object, open_object, tag_loaded
from loadstar.telemetry import logs, report
from loadstar.warehouse import ledger
from loadstar.warehouse.catalog import TableInfo
from loadstar.warehouse.connection import Connection
from loadstar.warehouse.errors import is_transient
from loadstar.warehouse.session import Session
from loadstar.warehouse.write import WriteResult, write_rows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


Progress = Callable[[str, SourceFile, int, int], None]
"""Told (table, file, rows done, rows in the file) after each batch a file loads."""


@dataclass(frozen=True)
class RunContext:
    session: Session
    s3: S3Client
    bucket: str
    ledger_schema: str
    run_id: str
    progress: Progress | None = None

    @property
    def conn(self) -> Connection:
        return self.session.conn

    def record(self, spec: TableSpec, file: SourceFile, status: ledger.Status, reason: str) -> None:
        """Note in the ledger a file that did not load, and why."""
        ledger.record(
            self.conn, self.ledger_schema, self.bucket, spec.name, file, status, reason, self.run_id
        )


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
) -> FileOutcome:
    """Load one file; a transient failure (connection lost, S3 failing) is tried again.

    A bad file is not: it would fail the same way. Raises `LockLostError` when
    the connection had to be replaced and another run holds the lock now.
    """
    delays = retry.FILE.delays()
    attempt = 1
    while True:
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
        ctx.session.ensure()
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
            outcome.status, outcome.reason = "vanished", f"deleted after it was listed ({exc})"
        else:
            # Overwritten since the listing: load the new bytes, under their ETag.
            outcome.status, outcome.reason = "failed", f"file {file.key!r}: {exc}"
            outcome.transient, outcome.refreshed = True, current
    except Exception as exc:
        # A bad file, a lost connection, even a defect: this file's failure
        # only. The other files and tables load; the run reports it loudly.
        reason = _reason(exc, file, table)
        outcome.status, outcome.reason = "failed", reason
        # boto3 has already retried S3's own failures with backoff.
        outcome.unavailable = isinstance(exc, ServiceUnavailableError)
        outcome.transient = is_transient(exc) and not outcome.unavailable
        if ctx.session.healthy:
            ctx.record(spec, file, ledger.Status.FAILED, reason)
    else:
        if result is None:
            outcome.status = "already_loaded"
        else:
            outcome.rows_in, outcome.rows_written = result.rows_in, result.rows_written
            outcome.encoding, outcome.foreign_keys = result.encoding, result.foreign_keys
            tag_loaded(
                ctx.s3, ctx.bucket, file.key, datetime.now(UTC).isoformat(timespec="seconds")
            )
    outcome.seconds = time.monotonic() - started
    return outcome


def _load(
    ctx: RunContext, spec: TableSpec, table: TableInfo, file: SourceFile, replay: bool
) -> WriteResult | None:
    with open_object(ctx.s3, ctx.bucket, file.key, etag=file.etag) as data:
        source = ParquetSource(data, key=file.key)
        plan = plan_columns(source.schema, spec, table)
        batches = typed_batches(source.batches(), plan)
        if ctx.progress is not None:
            batches = _reporting(batches, ctx.progress, spec.name, file, source.num_rows)
        with ctx.conn.transaction():
            if replay:
                claimed = ledger.claim_replay(ctx.conn, ctx.ledger_schema, ctx.bucket, file)
            else:
                claimed = ledger.claim(
                    ctx.conn, ctx.ledger_schema, ctx.bucket, spec.name, file, ctx.run_id
                )
            if not claimed:
                return None
            result = write_rows(ctx.conn, plan, batches)
            if not replay:
                # A replay keeps what the first load recorded; it only counts itself.
                ledger.mark_loaded(
                    ctx.conn,
                    ctx.ledger_schema,
                    ctx.bucket,
                    file.key,
                    result.rows_in,
                    result.rows_written,
                )
    return result


def _current(ctx: RunContext, file: SourceFile) -> SourceFile | None:
    """The file as it is now in the bucket, or None if it is gone."""
    found = head_object(ctx.s3, ctx.bucket, file.key)
    if found is None:
        return None
    etag, size = found
    return dataclasses.replace(file, etag=etag, size=size)


def _reason(exc: Exception, file: SourceFile, table: TableInfo) -> str:
    if isinstance(exc, BadFileError):
        return str(exc.located(key=file.key, table=table.qualified_name))
    kind = "" if isinstance(exc, ConfigError | TransientError) else f"{type(exc).__name__}: "
    return f"file {file.key!r}, table {table.qualified_name}: {kind}{exc}"


def _reporting(
    batches: Iterator[pa.RecordBatch], progress: Progress, table: str, file: SourceFile, total: int
) -> Iterator[pa.RecordBatch]:
    done = 0
    progress(table, file, done, total)
    for batch in batches:
        yield batch
        done += batch.num_rows
        progress(table, file, done, total)
