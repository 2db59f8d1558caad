"""A dry run: what the next run would load, and whether it would fail.

Nothing is written and no lock is taken. Each pending file's schema and row
count come from its Parquet footer, read in ranged requests; with values
checked (the default) every row is also read, cast and written exactly as a
load would — COPY, upsert or append, foreign keys, constraints, triggers —
in a transaction that is always rolled back, so what would fail is found
here rather than at 3 a.m.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from loadstar.config import Settings, TableSpec, load_order
from loadstar.errors import BadFileError, LoadstarError
from loadstar.run.loader import typed_batches
from loadstar.run.prepare import prepare_table
from loadstar.shape.mapping import plan_columns
from loadstar.shape.table import TableInfo
from loadstar.source.discovery import SourceFile
from loadstar.source.parquet import ParquetSource
from loadstar.source.s3 import RangedObject, open_object
from loadstar.warehouse import Warehouse

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


FOOTER_READ_BYTES = 64 * 1024


@dataclass
class FilePlan:
    key: str
    size_bytes: int
    instant: datetime
    rows: int | None = None
    problem: str | None = None
    """Why loading the file would fail (or wait); None when it would load."""


@dataclass
class TablePlan:
    table: str
    kind: str
    files: list[FilePlan] = field(default_factory=list)
    reported: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    error_type: str | None = None
    """The error's class: a MissingTableError is the set-up's, not the files'."""
    """Why none of the table's files would load (table missing, columns unknown)."""

    @property
    def ok(self) -> bool:
        return self.error is None and all(f.problem is None for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.table,
            "kind": self.kind,
            "files": [vars(f) for f in self.files],
            "reported": [{"key": k, "reason": r} for k, r in self.reported],
            **({"error": self.error, "error_type": self.error_type} if self.error else {}),
        }


def plan(settings: Settings, s3: S3Client, *, check_values: bool = True) -> Iterator[TablePlan]:
    """Each table's plan, dimensions first, as the run would take them."""
    bucket = settings.require_bucket()
    with closing(Warehouse(settings, read_only=True)) as warehouse:
        warehouse.connect()
        # One transaction for the whole plan, rolled back at its end: fact files
        # meet the dimension rows the files before them would have written.
        with warehouse.rehearsal():
            for spec in load_order(settings.tables):
                yield _table_plan(warehouse, s3, bucket, spec, settings.tables, check_values)


def _table_plan(
    warehouse: Warehouse,
    s3: S3Client,
    bucket: str,
    spec: TableSpec,
    catalogue: tuple[TableSpec, ...],
    check_values: bool,
) -> TablePlan:
    result = TablePlan(table=spec.name, kind=spec.kind)
    try:
        prepared = prepare_table(
            warehouse,
            s3,
            bucket,
            spec,
            catalogue,
            full_listing_interval=warehouse.settings.full_listing_interval_seconds,
        )
    except LoadstarError as exc:
        if exc.scope == "run":
            raise
        result.error, result.error_type = str(exc), type(exc).__name__
        return result
    todo = prepared.pending
    result.reported = [(file.key, reason) for file, reason in todo.reported]
    result.files = [_listed(file) for file in todo.to_load]
    if prepared.problem is not None:
        # The files are still listed: what would wait behind the table's problem.
        result.error = str(prepared.problem)
        result.error_type = type(prepared.problem).__name__
        return result
    if prepared.table is None:
        return result
    for planned, file in zip(result.files, todo.to_load, strict=True):
        _check_file(planned, warehouse, s3, bucket, spec, prepared.table, file, check_values)
    return result


def _listed(file: SourceFile) -> FilePlan:
    return FilePlan(key=file.key, size_bytes=file.size, instant=file.instant)


def _check_file(
    planned: FilePlan,
    warehouse: Warehouse,
    s3: S3Client,
    bucket: str,
    spec: TableSpec,
    table: TableInfo,
    file: SourceFile,
    check_values: bool,
) -> None:
    """Fill in the file's row count and, if it would not load, why."""
    data: IO[bytes]
    try:
        if check_values:
            data = open_object(s3, bucket, file.key, etag=file.etag)
        else:
            ranged = RangedObject(s3, bucket, file.key, etag=file.etag, size=file.size)
            # Footers are small: one 64 KiB read at the end usually holds all of it.
            data = io.BufferedReader(ranged, buffer_size=FOOTER_READ_BYTES)
        with closing(data):
            source = ParquetSource(data, key=file.key)
            planned.rows = source.num_rows
            columns = plan_columns(source.schema, spec, table)
            if check_values:
                # The same checks a load makes, against the warehouse, then undone.
                warehouse.try_write(columns, typed_batches(source.batches(), columns))
    except BadFileError as exc:
        planned.problem = str(exc.located(key=file.key, table=table.qualified_name))
    except LoadstarError as exc:
        if exc.scope == "run":
            raise
        planned.problem = f"file {file.key!r}: {exc}"
