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
rules of its own (replica mode would silence them too), every foreign key is
a plain MATCH SIMPLE key to another table whose columns the file supplies,
and no foreign key pointing *into* the table could be broken by the write
(replica mode silences those triggers as well: an upsert may only leave
referenced columns alone, which it does when they are the primary key).
Otherwise the rows go through the ordinary per-row checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from weakref import WeakKeyDictionary

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from loadstar.errors import BadFileError
from loadstar.shape.mapping import LoadPlan
from loadstar.shape.table import ForeignKey
from loadstar.warehouse.catalog import ref_identifier
from loadstar.warehouse.connection import Connection

Cursor = psycopg.Cursor[tuple[object, ...]]
_permitted: WeakKeyDictionary[Connection, bool] = WeakKeyDictionary()


def set_based_checks_apply(conn: Connection, plan: LoadPlan) -> bool:
    """Whether this file's foreign keys may be checked set-wise (see the module doc)."""
    table = plan.table
    if not table.foreign_keys or table.has_triggers or not _references_into_hold(plan):
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


def _references_into_hold(plan: LoadPlan) -> bool:
    """Whether the write can break no foreign key that points at this table.

    Replica mode also silences the triggers that guard rows other tables
    reference (NO ACTION, RESTRICT, CASCADE). Appending new rows never breaks
    them; an upsert changes only columns outside the primary key, so it is
    safe when every reference into the table is to primary-key columns.
    """
    if plan.spec.kind != "dimension":
        return True
    key = set(plan.table.primary_key)
    return all(set(reference.key) <= key for reference in plan.table.referenced_by)


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


class KeyValues:
    """The distinct values of each foreign key, gathered from the batches on their way.

    The client has them almost for free while the server ingests the COPY;
    the server would need a pass over the staged rows to find them.
    """

    def __init__(self, plan: LoadPlan) -> None:
        loaded = set(plan.target_names)
        # A key with a column the file lacks is NULL throughout: MATCH SIMPLE checks nothing.
        self.keys = [fk for fk in plan.table.foreign_keys.values() if set(fk.columns) <= loaded]
        self._seen: dict[str, list[pa.Table]] = {fk.name: [] for fk in self.keys}

    def watch(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for fk in self.keys:
                self._seen[fk.name].append(_distinct(batch, fk.columns))
            yield batch

    def values(self, fk: ForeignKey) -> pa.Table:
        """The key's distinct values in the file, without NULLs (MATCH SIMPLE skips those)."""
        seen = self._seen[fk.name]
        return (
            _distinct(pa.concat_tables(seen), fk.columns) if seen else pa.Table.from_arrays([], [])
        )


def _distinct(data: pa.Table | pa.RecordBatch, columns: tuple[str, ...]) -> pa.Table:
    picked = data.select(list(columns))
    table = pa.Table.from_batches([picked]) if isinstance(picked, pa.RecordBatch) else picked
    if len(columns) == 1:
        # A hash kernel, not a group-by: that would import Arrow's query engine
        # and, through it, pandas.
        values = pc.unique(pc.drop_null(table.column(0)))
        return pa.Table.from_arrays([values], names=list(columns))
    return table.drop_null().group_by(list(columns)).aggregate([])


def check_foreign_keys(cur: Cursor, plan: LoadPlan, found: KeyValues) -> None:
    """Every foreign key value of the file exists; the referenced rows are locked.

    Each key is one query against its referenced table with the file's
    distinct values, taking the ``FOR KEY SHARE`` locks PostgreSQL's own
    checks take. Raises `BadFileError` naming the key's columns and one
    missing value.
    """
    for fk in found.keys:
        values = found.values(fk)
        if values.num_rows:
            _check_one(cur, plan, fk, values)


def _check_one(cur: Cursor, plan: LoadPlan, fk: ForeignKey, values: pa.Table) -> None:
    arrays = [values.column(c).to_pylist() for c in fk.columns]
    wanted = sql.SQL("SELECT * FROM unnest({arrays}) AS w({names})").format(
        arrays=sql.SQL(", ").join(
            sql.SQL("{}::{}[]").format(sql.Placeholder(), sql.SQL(_type_of(plan, c)))
            for c in fk.columns
        ),
        names=_idents([f"k{i}" for i in range(len(fk.columns))]),
    )
    match = sql.SQL(" AND ").join(
        sql.SQL("r.{} = w.{}").format(sql.Identifier(rc), sql.Identifier(f"k{i}"))
        for i, rc in enumerate(fk.ref_columns)
    )
    cur.execute(
        sql.SQL(
            "SELECT count(*) FROM (SELECT FROM {ref} AS r JOIN ({wanted}) AS w ON {match} "
            "FOR KEY SHARE OF r) AS locked"
        ).format(ref=ref_identifier(fk), wanted=wanted, match=match),
        arrays,
    )
    row = cur.fetchone()
    if row is not None and int(str(row[0])) >= values.num_rows:
        return
    cur.execute(
        sql.SQL(
            "SELECT count(*) OVER (), w.* FROM ({wanted}) AS w "
            "WHERE NOT EXISTS (SELECT FROM {ref} AS r WHERE {match}) LIMIT 1"
        ).format(wanted=wanted, ref=ref_identifier(fk), match=match),
        arrays,
    )
    missing, *example = cur.fetchone() or ("some",)
    shown = ", ".join(f"{c}={v!r}" for c, v in zip(fk.columns, example, strict=False))
    raise BadFileError(
        f"foreign key {fk.name}: {missing} value(s) are not present "
        f"in {fk.ref_schema}.{fk.ref_table} ({', '.join(fk.ref_columns)}), e.g. {shown}",
        table=plan.table.qualified_name,
        column=", ".join(fk.columns),
    )


def _type_of(plan: LoadPlan, name: str) -> str:
    column = plan.table.column(name)
    assert column is not None
    # PostgreSQL's own format_type() text, which quotes what needs quoting:
    # "integer", "numeric(10,2)", "public.my_domain".
    return column.declared


def _idents(names: list[str] | tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)
