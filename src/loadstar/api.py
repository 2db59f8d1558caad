"""The proposal's functions, with the meaning loadstar's README gives them.

Each reads the settings afresh (arguments > environment > file > defaults),
so a warm process follows changes to its environment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pyarrow as pa

from loadstar.aws import s3_client
from loadstar.config import TableKind, TableSpec, load_settings
from loadstar.errors import BadFileError, LoadFailedError, LoadstarError
from loadstar.run import pipeline
from loadstar.run.loader import typed_batches
from loadstar.shape.mapping import check_table, plan_columns
from loadstar.shape.table import TableInfo
from loadstar.source.discovery import latest_file
from loadstar.source.parquet import BATCH_ROWS, ParquetSource
from loadstar.source.s3 import open_object
from loadstar.telemetry import logs
from loadstar.warehouse import Warehouse
from loadstar.warehouse.connection import Connection, open_connection


def get_db_connection() -> Connection:
    """A psycopg 3 connection to the warehouse (autocommit; use ``conn.transaction()``).

    Raises `loadstar.errors.ConnectionFailedError` with a logged, password-free
    reason when the warehouse cannot be reached.
    """
    return open_connection(load_settings())


def get_latest_parquet_file(bucket: str, prefix: str) -> str:
    """The key of the newest timestamped Parquet file under ``prefix``.

    ``prefix`` follows the catalogue's rules: ending in ``/`` it is a folder.
    Raises `FileNotFoundError` naming the bucket and prefix, how many keys
    the prefix holds and why they were not taken, when there is none.
    """
    try:
        key = latest_file(s3_client(), bucket, prefix).key
    except (FileNotFoundError, LoadstarError) as exc:
        logs.event(
            "latest_file_failed", logging.ERROR, bucket=bucket, prefix=prefix, error=str(exc)
        )
        raise
    logs.event("latest_file", bucket=bucket, prefix=prefix, key=key)
    return key


def read_parquet_from_s3(bucket: str, key: str) -> pa.Table:
    """The object at ``key`` as a `pyarrow.Table`."""
    try:
        with open_object(s3_client(), bucket, key) as data:
            table = ParquetSource(data, key=key).read_all()
    except (FileNotFoundError, LoadstarError) as exc:
        logs.event("read_failed", logging.ERROR, bucket=bucket, key=key, error=str(exc))
        raise
    logs.event("file_read", bucket=bucket, key=key, rows=table.num_rows)
    return table


def load_dim_tables(bucket: str | None = None) -> dict[str, Any]:
    """Load every configured dimension table from its pending files; the run's summary.

    Without ``bucket``, the configured one (``LOADSTAR_BUCKET``, the TOML file).
    """
    return _run(bucket, ("dimension",))


def load_fact_table(bucket: str | None = None) -> dict[str, Any]:
    """Load the fact table(s) from their pending files; the run's summary.

    Without ``bucket``, the configured one (``LOADSTAR_BUCKET``, the TOML file).
    """
    return _run(bucket, ("fact",))


def load_to_warehouse(table_data: Any, table_name: str) -> int:
    """Load in-memory rows into any table of the warehouse, in one transaction; rows written.

    ``table_data`` is a `pyarrow.Table`, `pyarrow.RecordBatchReader`,
    `pyarrow.RecordBatch` or a pandas ``DataFrame``. A table of the catalogue
    keeps its rules: dimensions upserted on their primary key, facts appended
    once per version key. Any other table is introspected: when the data
    holds every column of its primary key it is upserted on that key,
    otherwise its rows are appended (a warehouse-generated key is the
    warehouse's to assign). Rows written count inserted and changed rows;
    unchanged rows and repeated versions are not written again.
    """
    settings = load_settings()
    schema, batches = _as_batches(table_data)
    try:
        with closing(Warehouse(settings)) as warehouse:
            warehouse.connect()
            table = warehouse.describe(table_name)
            spec = settings.catalogued(table_name) or _spec_for(table_name, table, schema)
            check_table(spec, table)
            plan = plan_columns(schema, spec, table)
            try:
                written = warehouse.write(plan, typed_batches(batches, plan)).rows_written
            except BadFileError as exc:
                raise exc.located(table=table.qualified_name) from None
    except LoadstarError as exc:
        logs.event(
            "load_failed",
            logging.ERROR,
            table=table_name,
            column=getattr(exc, "column", None),
            error=str(exc),
        )
        raise
    logs.event("table_loaded", table=table_name, rows_written=written)
    return written


def _spec_for(name: str, table: TableInfo, schema: pa.Schema) -> TableSpec:
    """Rules for a table the catalogue does not name: upsert on a key the data holds."""
    given = {n.lower() for n in schema.names}
    keyed = bool(table.primary_key) and all(c.lower() in given for c in table.primary_key)
    return TableSpec(name=name, kind="dimension" if keyed else "fact", prefix=None)


def _run(bucket: str | None, kinds: tuple[TableKind, ...]) -> dict[str, Any]:
    summary = pipeline.run(load_settings(bucket=bucket), kinds=kinds)
    data = summary.to_dict()
    if data["status"] == "failed":
        raise LoadFailedError(data) from summary.exception
    return data


def _as_batches(data: Any) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    if isinstance(data, pa.Table):
        return data.schema, iter(data.to_batches(max_chunksize=BATCH_ROWS))
    if isinstance(data, pa.RecordBatchReader):
        return data.schema, iter(data)
    if isinstance(data, pa.RecordBatch):
        return data.schema, iter([data])
    if type(data).__module__.startswith("pandas") and hasattr(data, "columns"):
        table = pa.Table.from_pandas(data, preserve_index=False)
        return table.schema, iter(table.to_batches(max_chunksize=BATCH_ROWS))
    raise TypeError(
        "load_to_warehouse needs a pyarrow Table, RecordBatchReader, RecordBatch or a pandas "
        f"DataFrame, got {type(data).__name__}"
    )
