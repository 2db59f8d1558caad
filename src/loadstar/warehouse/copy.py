"""Streaming Arrow record batches into ``COPY … FROM STDIN``.

Each batch is encoded to CSV by Arrow's C++ writer and handed to the server
as it is produced, so only one batch is ever held in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

# Arrow quotes every string and leaves NULL unquoted and empty, which is
# exactly how PostgreSQL's CSV format tells NULL from the empty string.
_CSV = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def copy_statement(table: sql.Composable, columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("COPY {table} ({columns}) FROM STDIN (FORMAT csv)").format(
        table=table,
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
    )


def copy_batches(
    cur: psycopg.Cursor[tuple[object, ...]],
    table: sql.Composable,
    columns: Sequence[str],
    batches: Iterable[pa.RecordBatch],
) -> int:
    """COPY every batch into ``table``; the number of rows sent."""
    rows = 0
    with cur.copy(copy_statement(table, columns)) as copy:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            sink = pa.BufferOutputStream()
            pacsv.write_csv(batch, sink, _CSV)
            copy.write(memoryview(sink.getvalue()))
            rows += batch.num_rows
    return rows
