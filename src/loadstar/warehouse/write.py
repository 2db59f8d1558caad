"""Writing one file's rows: dimensions upserted, facts appended once per version.

Both go through a temporary staging table filled by COPY, then one set-based
statement moves the rows into the warehouse table, so a constraint or
trigger that rejects any row rejects the whole file, and unchanged dimension
rows cost no write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
import pyarrow as pa
from psycopg import sql

from loadstar.errors import BadFileError
from loadstar.mapping import LoadPlan
from loadstar.warehouse.connection import Connection
from loadstar.warehouse.copy import copy_batches
from loadstar.warehouse.errors import classify

STAGE = sql.Identifier("loadstar_stage")


@dataclass(frozen=True)
class WriteResult:
    rows_in: int
    """Rows the file held."""
    rows_written: int
    """Rows inserted or changed in the warehouse table."""


def write_rows(conn: Connection, plan: LoadPlan, batches: Iterable[pa.RecordBatch]) -> WriteResult:
    """Write the batches into the plan's table in the current transaction."""
    try:
        if plan.spec.kind == "dimension":
            return _upsert_dimension(conn, plan, batches)
        return _append_fact(conn, plan, batches)
    except psycopg.Error as exc:
        raise classify(exc, table=plan.table) from exc


def _create_stage(cur: psycopg.Cursor[tuple[object, ...]], plan: LoadPlan) -> None:
    cur.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(STAGE))
    cur.execute(
        sql.SQL(
            "CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
            "SELECT {columns} FROM {table} WITH NO DATA"
        ).format(stage=STAGE, columns=_idents(plan.target_names), table=plan.table.identifier)
    )


def _upsert_dimension(
    conn: Connection, plan: LoadPlan, batches: Iterable[pa.RecordBatch]
) -> WriteResult:
    columns = plan.target_names
    key = plan.table.primary_key
    others = [c for c in columns if c not in key]
    with conn.cursor() as cur:
        _create_stage(cur, plan)
        rows_in = copy_batches(cur, STAGE, plan.target_columns, batches)
        if rows_in == 0:
            return WriteResult(0, 0)
        action: sql.Composable
        if others:
            action = sql.SQL(
                "DO UPDATE SET {assign} WHERE ROW({current}) IS DISTINCT FROM ROW({incoming})"
            ).format(
                assign=sql.SQL(", ").join(
                    sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in others
                ),
                current=sql.SQL(", ").join(sql.Identifier("t", c) for c in others),
                incoming=sql.SQL(", ").join(sql.Identifier("excluded", c) for c in others),
            )
        else:
            action = sql.SQL("DO NOTHING")
        upsert = sql.SQL(
            "INSERT INTO {table} AS t ({columns}) SELECT {columns} FROM {stage} "
            "ON CONFLICT ({key}) {action}"
        ).format(
            table=plan.table.identifier,
            columns=_idents(columns),
            stage=STAGE,
            key=_idents(key),
            action=action,
        )
        try:
            with conn.transaction():
                cur.execute(upsert)
        except psycopg.errors.CardinalityViolation:
            raise _duplicate_key_error(cur, plan) from None
        return WriteResult(rows_in, max(cur.rowcount, 0))


def _duplicate_key_error(cur: psycopg.Cursor[tuple[object, ...]], plan: LoadPlan) -> BadFileError:
    key = plan.table.primary_key
    cur.execute(
        sql.SQL(
            "SELECT {key}, count(*) FROM {stage} GROUP BY {key} HAVING count(*) > 1 LIMIT 1"
        ).format(key=_idents(key), stage=STAGE)
    )
    row = cur.fetchone()
    shown = ", ".join(f"{k}={v!r}" for k, v in zip(key, row or (), strict=False))
    times = row[-1] if row else "several"
    return BadFileError(
        f"primary key ({shown}) appears {times} times in the file; "
        "a dimension file may hold each key once",
        table=plan.table.qualified_name,
        column=", ".join(key),
    )


def _append_fact(
    conn: Connection, plan: LoadPlan, batches: Iterable[pa.RecordBatch]
) -> WriteResult:
    columns = plan.target_names
    version_key = plan.spec.version_key
    with conn.cursor() as cur:
        if not version_key:
            rows = copy_batches(cur, plan.table.identifier, plan.target_columns, batches)
            return WriteResult(rows, rows)
        _create_stage(cur, plan)
        rows_in = copy_batches(cur, STAGE, plan.target_columns, batches)
        if rows_in == 0:
            return WriteResult(0, 0)
        matches = sql.SQL(" AND ").join(
            sql.SQL("t.{c} = s.{c}").format(c=sql.Identifier(c)) for c in version_key
        )
        append = sql.SQL(
            "INSERT INTO {table} ({columns}) "
            "SELECT {columns} FROM ("
            "  SELECT DISTINCT ON ({vk}) {columns} FROM {stage} ORDER BY {vk}, ctid"
            ") AS s "
            "WHERE NOT EXISTS (SELECT FROM {table} AS t WHERE {matches})"
        ).format(
            table=plan.table.identifier,
            columns=_idents(columns),
            vk=_idents(version_key),
            stage=STAGE,
            matches=matches,
        )
        cur.execute(append)
        return WriteResult(rows_in, max(cur.rowcount, 0))


def _idents(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)
