"""The ledger read for people: one file's row, the most recent changes, a table's totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from loadstar.warehouse.connection import Connection
from loadstar.warehouse.ledger import ledger_table, newest_loaded


@dataclass(frozen=True)
class Entry:
    """One file as the ledger holds it."""

    key: str
    table: str
    status: str
    etag: str
    size_bytes: int
    file_instant: datetime
    rows_in_file: int | None
    rows_written: int | None
    attempts: int
    replays: int
    reason: str | None
    run_id: str | None
    updated_at: datetime
    loaded_at: datetime | None


_ENTRY_COLUMNS = sql.SQL(
    "key, table_name, status, etag, size_bytes, file_instant, rows_in_file, rows_written, "
    "attempts, replays, reason, run_id, updated_at, loaded_at"
)


def entry(conn: Connection, schema: str, bucket: str, key: str) -> Entry | None:
    """The ledger's row for one key, if it has one."""
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT {} FROM {} WHERE bucket = %s AND key = %s").format(
                _ENTRY_COLUMNS, ledger_table(schema)
            ),
            (bucket, key),
        )
        row = cur.fetchone()
    return Entry(*row) if row else None


def history(
    conn: Connection, schema: str, bucket: str, *, table: str | None = None, limit: int = 50
) -> list[Entry]:
    """The ledger's rows, most recently changed first."""
    query = sql.SQL("SELECT {} FROM {} WHERE bucket = %s").format(
        _ENTRY_COLUMNS, ledger_table(schema)
    )
    params: list[object] = [bucket]
    if table is not None:
        query += sql.SQL(" AND table_name = %s")
        params.append(table)
    query += sql.SQL(" ORDER BY updated_at DESC, key DESC LIMIT %s")
    params.append(limit)
    with conn.cursor() as cur:
        cur.execute(query, params)
        return [Entry(*row) for row in cur.fetchall()]


@dataclass(frozen=True)
class Totals:
    """One table's files in the ledger, summed up."""

    files_loaded: int
    rows_written: int
    newest_key: str | None
    newest_instant: datetime | None
    failed: list[tuple[str, str]]
    """(key, reason) of each file whose last attempt failed, oldest first."""
    skipped: int
    newest_skipped: tuple[str, str, datetime] | None = None
    """The file an operator skipped last: its key, the reasons given, when."""


def totals(conn: Connection, schema: str, bucket: str, table: str) -> Totals:
    where = sql.SQL("FROM {} WHERE bucket = %s AND table_name = %s").format(ledger_table(schema))
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                SELECT count(*) FILTER (WHERE status = 'loaded'),
                       coalesce(sum(rows_written) FILTER (WHERE status = 'loaded'), 0),
                       count(*) FILTER (WHERE status = 'skipped')
            """)
            + where,
            (bucket, table),
        )
        loaded, rows, skipped = cur.fetchone() or (0, 0, 0)
        cur.execute(
            sql.SQL("SELECT key, coalesce(reason, '') ")
            + where
            + sql.SQL(" AND status = 'failed' ORDER BY file_instant, key"),
            (bucket, table),
        )
        failed = [(key, reason) for key, reason in cur.fetchall()]
        cur.execute(
            sql.SQL("SELECT key, coalesce(reason, ''), updated_at ")
            + where
            + sql.SQL(" AND status = 'skipped' ORDER BY updated_at DESC, key LIMIT 1"),
            (bucket, table),
        )
        last_skip = cur.fetchone()
    newest = newest_loaded(conn, schema, bucket, table)
    return Totals(
        files_loaded=loaded,
        rows_written=int(rows),
        newest_key=newest[1] if newest else None,
        newest_instant=newest[0] if newest else None,
        failed=failed,
        skipped=skipped,
        newest_skipped=(str(last_skip[0]), str(last_skip[1]), last_skip[2]) if last_skip else None,
    )
