"""The proposal's functions, with the meaning loadstar's README gives them.

Each reads the settings afresh (arguments > environment > file > defaults),
so a warm process follows changes to its environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pyarrow as pa

from loadstar.aws import s3_client
from loadstar.config import TableKind, load_settings
from loadstar.errors import BadFileError, LoadFailedError
from loadstar.run import pipeline
from loadstar.run.loader import typed_batches
from loadstar.run.prepare import describe_for_loading
from loadstar.shape.mapping import plan_columns
from loadstar.source.discovery import latest_file
from loadstar.source.parquet import BATCH_ROWS, ParquetSource
from loadstar.source.s3 import open_object
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

    Raises `FileNotFoundError` naming the bucket and prefix when there is none.
    """
    return latest_file(s3_client(), bucket, prefix).key


def read_parquet_from_s3(bucket: str, key: str) -> pa.Table:
    """The object at ``key`` as a `pyarrow.Table`."""
    with open_object(s3_client(), bucket, key) as data:
        return ParquetSource(data, key=key).read_all()


def load_dim_tables(bucket: str) -> dict[str, Any]:
    """Load every configured dimension table from its pending files; the run's summary."""
    return _run(bucket, ("dimension",))


def load_fact_table(bucket: str) -> dict[str, Any]:
    """Load the fact table(s) from their pending files; the run's summary."""
    return _run(bucket, ("fact",))


def load_to_warehouse(table_data: Any, table_name: str) -> int:
    """Load in-memory rows into one table, in one transaction; the rows written.

    ``table_data`` is a `pyarrow.Table`, `pyarrow.RecordBatchReader`,
    `pyarrow.RecordBatch` or a pandas ``DataFrame``. Dimensions are upserted
    on their primary key, facts appended (once per version key). Rows written
    count inserted and changed rows; unchanged rows and repeated versions are
    not written again.
    """
    settings = load_settings()
    spec = settings.table(table_name)
    schema, batches = _as_batches(table_data)
    with closing(Warehouse(settings)) as warehouse:
        warehouse.connect()
        table = describe_for_loading(warehouse, spec)
        plan = plan_columns(schema, spec, table)
        try:
            return warehouse.write(plan, typed_batches(batches, plan)).rows_written
        except BadFileError as exc:
            raise exc.located(table=table.qualified_name) from None


def _run(bucket: str, kinds: tuple[TableKind, ...]) -> dict[str, Any]:
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
