"""What the warehouse says a table is: its columns, types, keys and defaults.

loadstar never hard-codes a table's shape; it reads it from ``pg_catalog`` in
the configured schema (or the first schema of the search path that has it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import psycopg
from psycopg import sql

from loadstar.errors import ConfigError


@dataclass(frozen=True)
class Column:
    """One column of a warehouse table."""

    name: str
    base_type: str
    """The type's internal name (``int4``, ``numeric``, ``varchar``); a domain's base type."""
    declared: str
    """The type as PostgreSQL prints it, e.g. ``numeric(10,2)``."""
    not_null: bool
    has_default: bool
    generated: bool
    """Filled by the warehouse: identity, serial (a nextval default) or a generated column."""
    typmod: int = -1

    @property
    def precision(self) -> int | None:
        if self.base_type == "numeric" and self.typmod >= 4:
            return ((self.typmod - 4) >> 16) & 0xFFFF
        return None

    @property
    def scale(self) -> int | None:
        if self.base_type == "numeric" and self.typmod >= 4:
            scale = (self.typmod - 4) & 0xFFFF
            # numeric scales are stored as an 11-bit two's complement number.
            return scale - 0x800 if scale & 0x400 else scale
        return None

    @property
    def max_length(self) -> int | None:
        if self.base_type in ("varchar", "bpchar") and self.typmod >= 4:
            return self.typmod - 4
        return None


@dataclass(frozen=True)
class TableInfo:
    """A warehouse table as the catalogue describes it."""

    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None


_FIND_TABLE = sql.SQL("""
    SELECT n.nspname, c.oid
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname = %(table)s
      AND c.relkind IN ('r', 'p')
      AND (n.nspname = %(schema)s
           OR (%(schema)s IS NULL AND n.nspname = ANY (current_schemas(false))))
    ORDER BY array_position(current_schemas(false), n.nspname::text)
    LIMIT 1
""")

_COLUMNS = sql.SQL("""
    SELECT a.attname,
           COALESCE(bt.typname, t.typname),
           format_type(a.atttypid, a.atttypmod),
           a.attnotnull OR (t.typtype = 'd' AND t.typnotnull),
           a.atthasdef,
           a.attidentity <> ''
             OR a.attgenerated <> ''
             OR COALESCE(starts_with(pg_get_expr(d.adbin, d.adrelid), 'nextval('), false),
           CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END
    FROM pg_attribute a
    JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = %(oid)s AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum
""")

_PRIMARY_KEY = sql.SQL("""
    SELECT a.attname
    FROM pg_index i
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, pos)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = %(oid)s AND i.indisprimary
    ORDER BY k.pos
""")

_FOREIGN_KEYS = sql.SQL("""
    SELECT con.conname, array_agg(a.attname ORDER BY k.pos)
    FROM pg_constraint con
    CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, pos)
    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
    WHERE con.conrelid = %(oid)s AND con.contype = 'f'
    GROUP BY con.conname
""")


def describe_table(
    conn: psycopg.Connection[tuple[object, ...]], name: str, schema: str | None
) -> TableInfo:
    """Introspect ``name`` in ``schema`` (or the search path); `ConfigError` if absent."""
    with conn.cursor() as cur:
        cur.execute(_FIND_TABLE, {"table": name, "schema": schema})
        found = cur.fetchone()
        if found is None:
            where = f"schema {schema!r}" if schema else "any schema of the search path"
            raise ConfigError(
                f"table {name!r} does not exist in {where}; create it "
                "(`loadstar init-db` creates the Terrific Totes warehouse) "
                "or fix the table catalogue"
            )
        table_schema, oid = str(found[0]), found[1]
        cur.execute(_COLUMNS, {"oid": oid})
        columns = tuple(
            Column(
                name=str(r[0]),
                base_type=str(r[1]),
                declared=str(r[2]),
                not_null=bool(r[3]),
                has_default=bool(r[4]),
                generated=bool(r[5]),
                typmod=int(str(r[6])),
            )
            for r in cur.fetchall()
        )
        cur.execute(_PRIMARY_KEY, {"oid": oid})
        primary_key = tuple(str(r[0]) for r in cur.fetchall())
        cur.execute(_FOREIGN_KEYS, {"oid": oid})
        foreign_keys = {str(r[0]): tuple(str(c) for c in r[1]) for r in cur.fetchall()}  # type: ignore[attr-defined]
    return TableInfo(
        schema=table_schema,
        name=name,
        columns=columns,
        primary_key=primary_key,
        foreign_keys=MappingProxyType(foreign_keys),
    )
