"""Checking a file's foreign keys once per key instead of once per row.

PostgreSQL checks a foreign key with a trigger that runs a query for every
inserted row; with the sales fact's nine keys that caps any load at ~35k
rows/s on a small machine, whatever the client does. loadstar can instead
check each key once per file — one join of the file's distinct values
against the referenced table, taking the same ``FOR KEY SHARE`` row locks the
triggers take — and then insert with the per-row triggers switched off for
that one statement (``session_replication_role = replica``).

It does so only when that is equivalent: the role may set
``session_replication_role`` (a superuser, or ``GRANT SET ON PARAMETER
session_replication_role`` on PostgreSQL 15+), the table has no triggers or
rules of its own (replica mode would silence them too), and every foreign key
is a plain MATCH SIMPLE key to another table whose columns the file supplies.
Otherwise the rows go through the ordinary per-row checks.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

import psycopg
from psycopg import sql

from loadstar.errors import BadFileError
from loadstar.mapping import LoadPlan
from loadstar.warehouse.catalog import ForeignKey
from loadstar.warehouse.connection import Connection

_KEYS = sql.Identifier("loadstar_fk_keys")
Cursor = psycopg.Cursor[tuple[object, ...]]
_permitted: WeakKeyDictionary[Connection, bool] = WeakKeyDictionary()


def set_based_checks_apply(conn: Connection, plan: LoadPlan) -> bool:
    """Whether this file's foreign keys may be checked set-wise (see the module doc)."""
    table = plan.table
    if not table.foreign_keys or table.has_triggers:
        return False
    loaded = set(plan.target_names)
    for fk in table.foreign_keys.values():
        if not fk.match_simple:
            return False
        for name in fk.columns:
            column = table.column(name)
            # A column left out of the file takes its default, which would go unchecked.
            if name not in loaded and (column is None or column.has_default):
                return False
    return _may_set_replica_role(conn)


def _may_set_replica_role(conn: Connection) -> bool:
    if conn not in _permitted:
        try:
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")
                raise psycopg.Rollback
        except psycopg.errors.InsufficientPrivilege:
            _permitted[conn] = False
        else:
            _permitted[conn] = True
    return _permitted[conn]


def check_foreign_keys(cur: Cursor, plan: LoadPlan, stage: sql.Identifier) -> None:
    """Every foreign key of the staged rows exists; the referenced rows are locked.

    One pass over the staged rows collects the distinct values of every key
    (grouping sets); then each key is one join against its referenced table.
    Raises `BadFileError` naming the key's columns and one missing value.
    """
    loaded = set(plan.target_names)
    # A key with a column the file lacks is NULL throughout: MATCH SIMPLE checks nothing.
    keys = [fk for fk in plan.table.foreign_keys.values() if set(fk.columns) <= loaded]
    if not keys:
        return
    columns = sorted({c for fk in keys for c in fk.columns})
    cur.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(_KEYS))
    cur.execute(
        sql.SQL(
            "CREATE TEMPORARY TABLE {keys} ON COMMIT DROP AS "
            "SELECT {columns}, GROUPING({columns}) AS loadstar_set FROM {stage} "
            "GROUP BY GROUPING SETS ({sets})"
        ).format(
            keys=_KEYS,
            columns=_idents(columns),
            stage=stage,
            sets=sql.SQL(", ").join(sql.SQL("({})").format(_idents(fk.columns)) for fk in keys),
        )
    )
    for fk in keys:
        _check_one(cur, plan, fk, _grouping_mask(columns, fk.columns))


def _grouping_mask(columns: list[str], grouped: tuple[str, ...]) -> int:
    """GROUPING()'s value for rows of the set ``grouped``: a 1 bit for each column not in it."""
    mask = 0
    for column in columns:
        mask = (mask << 1) | (0 if column in grouped else 1)
    return mask


def _check_one(cur: Cursor, plan: LoadPlan, fk: ForeignKey, mask: int) -> None:
    present = sql.SQL(" AND ").join(
        [sql.SQL("f.loadstar_set = {}").format(sql.Literal(mask))]
        + [sql.SQL("f.{} IS NOT NULL").format(sql.Identifier(c)) for c in fk.columns]
    )
    match = sql.SQL(" AND ").join(
        sql.SQL("r.{} = f.{}").format(sql.Identifier(rc), sql.Identifier(c))
        for rc, c in zip(fk.ref_columns, fk.columns, strict=True)
    )
    cur.execute(
        sql.SQL(
            "SELECT (SELECT count(*) FROM {keys} AS f WHERE {present}), "
            "(SELECT count(*) FROM (SELECT FROM {ref} AS r JOIN {keys} AS f ON {match} "
            "WHERE {present} FOR KEY SHARE OF r) AS locked)"
        ).format(keys=_KEYS, present=present, ref=fk.ref_identifier, match=match)
    )
    row = cur.fetchone()
    needed, found = (int(str(v)) for v in row) if row else (0, 0)
    if found >= needed:
        return
    cur.execute(
        sql.SQL(
            "SELECT {values} FROM {keys} AS f WHERE {present} "
            "AND NOT EXISTS (SELECT FROM {ref} AS r WHERE {match}) LIMIT 1"
        ).format(
            values=sql.SQL(", ").join(
                sql.SQL("f.{}").format(sql.Identifier(c)) for c in fk.columns
            ),
            keys=_KEYS,
            present=present,
            ref=fk.ref_identifier,
            match=match,
        )
    )
    example = cur.fetchone() or ()
    shown = ", ".join(f"{c}={v!r}" for c, v in zip(fk.columns, example, strict=False))
    raise BadFileError(
        f"foreign key {fk.name}: {needed - found} value(s) are not present in "
        f"{fk.ref_schema}.{fk.ref_table} ({', '.join(fk.ref_columns)}), e.g. {shown}",
        table=plan.table.qualified_name,
        column=", ".join(fk.columns),
    )


def _idents(names: list[str] | tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)
