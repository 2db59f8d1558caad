"""Dimension rows converge to the newest file that carried them, whatever the arrival order.

For every dimension row loadstar keeps, in the ledger schema, the instant and
key of the file that last set it (``key_versions``), written in the same
statement as the row. A file's row is applied only when its file is not older
than that: a late older file still inserts keys the table has never seen and
never overwrites newer values; a file loaded again (a replay) re-applies its
own. Rows loaded before loadstar kept versions count as set by the newest
file the ledger holds for the table.

Files of one instant are ordered by key in code-point order, as loadstar
sorts them in Python and S3 lists them; the warehouse's own collation (often
a linguistic one, where "_a" sorts before "_B") must not decide, so every
comparison of file keys here (and the ledger's newest file) is COLLATE "C".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from loadstar.shape.mapping import LoadPlan
from loadstar.warehouse.catalog import table_identifier
from loadstar.warehouse.ledger import LEDGER_TABLE, VERSIONS_TABLE

Cursor = psycopg.Cursor[tuple[object, ...]]


@dataclass(frozen=True)
class FileVersion:
    """Which file a dimension file's rows come from, in the order files are compared."""

    ledger_schema: str
    table: str
    """The table's catalogue name, as the ledger records it."""
    instant: datetime
    key: str


def upsert(cur: Cursor, plan: LoadPlan, stage: sql.Identifier, version: FileVersion | None) -> int:
    """Insert new keys and update changed rows from the stage; the rows written.

    With ``version``, only the rows whose key no newer file has set, and
    their versions recorded; without (rows that come from no file), all.
    """
    columns = plan.target_names
    key = plan.table.primary_key
    # An identity column is set once, when its row is inserted; never updated.
    fixed = {c.name for c in plan.target_columns if c.always_generated}
    others = [c for c in columns if c not in key and c not in fixed]
    action: sql.Composable = sql.SQL("DO NOTHING")
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
    parts = {
        "table": table_identifier(plan.table),
        "columns": _idents(columns),
        "overriding": overriding(plan),
        "key": _idents(key),
        "action": action,
        "stage": stage,
    }
    if version is None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {table} AS t ({columns}) {overriding} SELECT {columns} FROM {stage} "
                "ON CONFLICT ({key}) {action}"
            ).format(**parts)
        )
        return max(cur.rowcount, 0)
    # A key's text must not depend on the session's settings (a role's DateStyle
    # or TimeZone changed between two loads): pinned for this transaction.
    cur.execute(_KEY_TEXT_SETTINGS)
    _seed(cur, plan, version)
    row_key = _row_key(key, "s")
    cur.execute(
        sql.SQL("""
            WITH fresh AS (
                SELECT s.* FROM {stage} AS s
                WHERE NOT EXISTS (
                    SELECT FROM {versions} AS v
                    WHERE v.table_name = %(table)s AND v.row_key = {row_key}
                      AND (v.file_instant, v.file_key COLLATE "C") > (%(instant)s, %(key)s)
                )
            ), written AS (
                INSERT INTO {table} AS t ({columns}) {overriding}
                SELECT {columns} FROM fresh
                ON CONFLICT ({key}) {action}
                RETURNING 1
            ), recorded AS (
                INSERT INTO {versions} AS v (table_name, row_key, file_instant, file_key)
                SELECT %(table)s, {fresh_key}, %(instant)s, %(key)s FROM fresh AS s
                ON CONFLICT (table_name, row_key) DO UPDATE
                SET file_instant = EXCLUDED.file_instant, file_key = EXCLUDED.file_key
                WHERE (v.file_instant, v.file_key COLLATE "C")
                   <= (EXCLUDED.file_instant, EXCLUDED.file_key)
            )
            SELECT count(*) FROM written
        """).format(
            **parts,
            versions=sql.Identifier(version.ledger_schema, VERSIONS_TABLE),
            row_key=row_key,
            fresh_key=row_key,
        ),
        {"table": version.table, "instant": version.instant, "key": version.key},
    )
    row = cur.fetchone()
    return int(str(row[0])) if row else 0


_KEY_TEXT_SETTINGS = sql.SQL(
    "SELECT set_config('DateStyle', 'ISO, YMD', true), set_config('TimeZone', 'UTC', true), "
    "set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '1', true)"
)


def _seed(cur: Cursor, plan: LoadPlan, version: FileVersion) -> None:
    """Give rows loaded before versions were kept the newest loaded file's version, once."""
    versions = sql.Identifier(version.ledger_schema, VERSIONS_TABLE)
    cur.execute(
        sql.SQL("""
            INSERT INTO {versions} (table_name, row_key, file_instant, file_key)
            SELECT %(table)s, {row_key}, newest.file_instant, newest.key
            FROM {target} AS t, (
                SELECT file_instant, key FROM {ledger}
                WHERE table_name = %(table)s AND status = 'loaded'
                ORDER BY file_instant DESC, key COLLATE "C" DESC LIMIT 1
            ) AS newest
            WHERE NOT EXISTS (SELECT FROM {versions} WHERE table_name = %(table)s)
            ON CONFLICT DO NOTHING
        """).format(
            versions=versions,
            row_key=_row_key(plan.table.primary_key, "t"),
            target=table_identifier(plan.table),
            ledger=sql.Identifier(version.ledger_schema, LEDGER_TABLE),
        ),
        {"table": version.table},
    )


def _row_key(key: tuple[str, ...], alias: str) -> sql.Composable:
    """A row's primary key as one text value: ``ROW(a, b)::text``."""
    return sql.SQL("ROW({})::text").format(
        sql.SQL(", ").join(sql.Identifier(alias, c) for c in key)
    )


def overriding(plan: LoadPlan) -> sql.Composable:
    """A file's value for an identity ``GENERATED ALWAYS`` column is its natural key: keep it."""
    if any(c.always_generated for c in plan.target_columns):
        return sql.SQL("OVERRIDING SYSTEM VALUE")
    return sql.SQL("")


def _idents(names: tuple[str, ...] | list[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)
