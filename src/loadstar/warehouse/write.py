"""Writing one file's rows: dimensions upserted, facts appended once per version.

Rows are COPYed into a temporary staging table, then one set-based statement
moves them into the warehouse table, so a constraint or trigger that rejects
any row rejects the whole file, unchanged dimension rows cost no write, and
a re-emitted fact version is found by one indexed probe. A fact table with
neither a version key nor foreign keys to check set-wise is COPYed into
directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import psycopg
import pyarrow as pa
from psycopg import sql

from loadstar.errors import BadFileError
from loadstar.shape.mapping import LoadPlan
from loadstar.warehouse.catalog import table_identifier
from loadstar.warehouse.connection import Connection
from loadstar.warehouse.copy import CopyFormat, copy_batches
from loadstar.warehouse.errors import STAGE_NAME, classify
from loadstar.warehouse.foreign_keys import KeyValues, check_foreign_keys, set_based_checks_apply
from loadstar.warehouse.versions import FileVersion, overriding, upsert

STAGE = sql.Identifier(STAGE_NAME)

Cursor = psycopg.Cursor[tuple[object, ...]]
ForeignKeyChecks = Literal["per_file", "per_row", "none"]


@dataclass(frozen=True)
class WriteResult:
    rows_in: int
    """Rows the file held."""
    rows_written: int
    """Rows inserted or changed in the warehouse table."""
    encoding: CopyFormat | None = None
    """How the rows went over COPY: binary, csv (None: there were none)."""
    foreign_keys: ForeignKeyChecks = "none"
    """How foreign keys were checked: per file (set-based), per row (triggers), or none."""


def write_rows(
    conn: Connection,
    plan: LoadPlan,
    batches: Iterable[pa.RecordBatch],
    version: FileVersion | None = None,
) -> WriteResult:
    """Write the batches into the plan's table in the current transaction.

    ``version`` says which file the rows come from: a dimension's rows then
    converge per key to the newest file (`loadstar.warehouse.versions`).
    """
    try:
        key_values = KeyValues(plan) if set_based_checks_apply(conn, plan) else None
        checks: ForeignKeyChecks = (
            "per_file" if key_values else "per_row" if plan.table.foreign_keys else "none"
        )
        if key_values is not None:
            batches = key_values.watch(batches)
        with conn.cursor() as cur:
            if plan.spec.kind == "fact" and not plan.spec.version_key and key_values is None:
                rows, encoding = copy_batches(
                    cur, table_identifier(plan.table), plan.target_columns, batches
                )
                return WriteResult(rows, rows, encoding, checks)
            _create_stage(cur, plan)
            rows_in, encoding = copy_batches(cur, STAGE, plan.target_columns, batches)
            if rows_in == 0:
                return WriteResult(0, 0, encoding, checks)

            def move() -> int:
                if plan.spec.kind == "dimension":
                    return _upsert(conn, cur, plan, version)
                return _append(conn, cur, plan)

            if key_values is None:
                return WriteResult(rows_in, move(), encoding, checks)
            check_foreign_keys(cur, plan, key_values)
            # The keys are checked and their rows locked; the per-row checks
            # would only repeat that, one query per row and key.
            cur.execute("SET LOCAL session_replication_role = replica")
            written = move()
            cur.execute("SET LOCAL session_replication_role = origin")
            return WriteResult(rows_in, written, encoding, checks)
    except psycopg.Error as exc:
        raise classify(exc, table=plan.table) from exc


def _create_stage(cur: Cursor, plan: LoadPlan) -> None:
    cur.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(STAGE))
    cur.execute(
        sql.SQL(
            "CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
            "SELECT {columns} FROM {table} WITH NO DATA"
        ).format(
            stage=STAGE, columns=_idents(plan.target_names), table=table_identifier(plan.table)
        )
    )


def _upsert(conn: Connection, cur: Cursor, plan: LoadPlan, version: FileVersion | None) -> int:
    """Insert new keys, update changed rows; unchanged rows are not written."""
    try:
        with conn.transaction():
            return upsert(cur, plan, STAGE, version)
    except psycopg.errors.CardinalityViolation:
        raise _duplicate_key_error(cur, plan) from None


def _duplicate_key_error(cur: Cursor, plan: LoadPlan) -> BadFileError:
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


_APPEND_ALL = sql.SQL("INSERT INTO {table} ({columns}) {overriding} SELECT {columns} FROM {stage}")
_APPEND_NEW = sql.SQL(
    "INSERT INTO {table} ({columns}) {overriding} SELECT {columns} FROM {stage} AS s "
    "WHERE NOT EXISTS (SELECT FROM {table} AS t WHERE {matches})"
)
_APPEND_NEW_ONCE = sql.SQL(
    "INSERT INTO {table} ({columns}) {overriding} "
    "SELECT {columns} FROM ("
    "  SELECT DISTINCT ON ({vk}) {columns} FROM {stage} ORDER BY {vk}, ctid"
    ") AS s "
    "WHERE NOT EXISTS (SELECT FROM {table} AS t WHERE {matches})"
)


def _append(conn: Connection, cur: Cursor, plan: LoadPlan) -> int:
    """Append every version not yet stored, each once (the first in file order)."""
    version_key = plan.spec.version_key
    if not version_key:
        return _run_append(cur, plan, _APPEND_ALL)
    if frozenset(version_key) in plan.table.unique_keys:
        # Most files repeat no version within themselves, and then the sort
        # that keeps one of each is wasted (1M rows: 2.3 s against 3.4 s);
        # the unique index says when it is needed after all.
        try:
            with conn.transaction():
                return _run_append(cur, plan, _APPEND_NEW)
        except psycopg.errors.UniqueViolation:
            pass
    return _run_append(cur, plan, _APPEND_NEW_ONCE)


def _run_append(cur: Cursor, plan: LoadPlan, statement: sql.SQL) -> int:
    columns = plan.target_names
    version_key = plan.spec.version_key
    probe = bool(version_key) and plan.table.has_index_for(version_key)
    if probe:
        # One index probe per staged row, never a pass over the whole fact
        # table: a merge or hash anti-join would read all of it, and the
        # table only grows.
        cur.execute("SET LOCAL enable_hashjoin = off")
        cur.execute("SET LOCAL enable_mergejoin = off")
    cur.execute(
        statement.format(
            table=table_identifier(plan.table),
            columns=_idents(columns),
            overriding=overriding(plan),
            stage=STAGE,
            vk=_idents(version_key),
            matches=sql.SQL(" AND ").join(
                sql.SQL("t.{c} = s.{c}").format(c=sql.Identifier(c)) for c in version_key
            ),
        )
    )
    written = max(cur.rowcount, 0)
    if probe:
        cur.execute("RESET enable_hashjoin")
        cur.execute("RESET enable_mergejoin")
    return written


def _idents(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)
