"""What the warehouse says a table is: its columns, types, keys and defaults.

loadstar never hard-codes a table's shape; it reads it from ``pg_catalog`` in
the configured schema (or the first schema of the search path that has it).
"""

from __future__ import annotations

from types import MappingProxyType

from psycopg import sql

from loadstar.errors import MissingTableError
from loadstar.shape.table import Column, ForeignKey, Reference, TableInfo
from loadstar.warehouse.connection import Connection


def table_identifier(table: TableInfo) -> sql.Identifier:
    return sql.Identifier(table.schema, table.name)


def ref_identifier(fk: ForeignKey) -> sql.Identifier:
    return sql.Identifier(fk.ref_schema, fk.ref_table)


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
           CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
           a.attidentity = 'a',
           a.attgenerated <> ''
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
    SELECT con.conname,
           array_agg(a.attname ORDER BY k.pos),
           rn.nspname,
           rc.relname,
           array_agg(ra.attname ORDER BY k.pos),
           con.confmatchtype = 's' AND con.confrelid <> con.conrelid
    FROM pg_constraint con
    CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, refnum, pos)
    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
    JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.refnum
    JOIN pg_class rc ON rc.oid = con.confrelid
    JOIN pg_namespace rn ON rn.oid = rc.relnamespace
    WHERE con.conrelid = %(oid)s AND con.contype = 'f'
    GROUP BY con.conname, rn.nspname, rc.relname, con.confmatchtype, con.confrelid, con.conrelid
""")

_INDEXES = sql.SQL("""
    SELECT array_agg(a.attname ORDER BY k.pos), i.indisunique AND i.indimmediate
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, pos)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = %(oid)s AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
    GROUP BY i.indexrelid, i.indisunique, i.indimmediate
""")

# Foreign keys of any table (this one included) that point at this table: in
# replica mode their triggers on this side (NO ACTION, RESTRICT, CASCADE …)
# would not run either.
_REFERENCED_BY = sql.SQL("""
    SELECT con.conname,
           n.nspname || '.' || c.relname,
           array_agg(ra.attname ORDER BY k.pos)
    FROM pg_constraint con
    CROSS JOIN LATERAL unnest(con.confkey) WITH ORDINALITY AS k(refnum, pos)
    JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.refnum
    JOIN pg_class c ON c.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE con.confrelid = %(oid)s AND con.contype = 'f'
    GROUP BY con.oid, con.conname, n.nspname, c.relname
""")

_HAS_TRIGGERS = sql.SQL("""
    SELECT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = %(oid)s AND NOT tgisinternal)
        OR EXISTS (SELECT FROM pg_rewrite WHERE ev_class = %(oid)s)
""")


def describe_table(conn: Connection, name: str, schema: str | None) -> TableInfo:
    """Introspect ``name`` in ``schema`` (or the search path); `ConfigError` if absent."""
    with conn.cursor() as cur:
        cur.execute(_FIND_TABLE, {"table": name, "schema": schema})
        found = cur.fetchone()
        if found is None:
            where = f"schema {schema!r}" if schema else "any schema of the search path"
            raise MissingTableError(
                f"table {name!r} does not exist in {where}",
                table=name,
                hint="`loadstar init-db` creates the Terrific Totes warehouse's tables; "
                "create other tables yourself, or fix the table catalogue",
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
                typmod=int(r[6]),
                always_generated=bool(r[7]),
                computed=bool(r[8]),
            )
            for r in cur.fetchall()
        )
        cur.execute(_PRIMARY_KEY, {"oid": oid})
        primary_key = tuple(str(r[0]) for r in cur.fetchall())
        cur.execute(_FOREIGN_KEYS, {"oid": oid})
        foreign_keys = {
            str(r[0]): ForeignKey(
                name=str(r[0]),
                columns=tuple(r[1]),
                ref_schema=str(r[2]),
                ref_table=str(r[3]),
                ref_columns=tuple(r[4]),
                match_simple=bool(r[5]),
            )
            for r in cur.fetchall()
        }
        cur.execute(_REFERENCED_BY, {"oid": oid})
        referenced_by = tuple(
            Reference(name=str(r[0]), from_table=str(r[1]), key=tuple(r[2])) for r in cur.fetchall()
        )
        cur.execute(_INDEXES, {"oid": oid})
        found_indexes = cur.fetchall()
        indexes = tuple(tuple(str(c) for c in r[0]) for r in found_indexes)
        unique_keys = tuple(frozenset(str(c) for c in r[0]) for r in found_indexes if r[1])
        cur.execute(_HAS_TRIGGERS, {"oid": oid})
        triggers = cur.fetchone()
    return TableInfo(
        schema=table_schema,
        name=name,
        columns=columns,
        primary_key=primary_key,
        foreign_keys=MappingProxyType(foreign_keys),
        indexes=indexes,
        unique_keys=unique_keys,
        has_triggers=bool(triggers and triggers[0]),
        referenced_by=referenced_by,
    )
