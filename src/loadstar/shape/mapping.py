"""Which file column feeds which warehouse column.

Columns are matched by name against the warehouse's own description of the
table. A file may leave out nullable columns (they load as NULL or their
default); a column the table does not have is an error, never dropped
silently; a warehouse-generated surrogate key of a fact table is always left
to the warehouse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pyarrow as pa

from loadstar.config import TableSpec
from loadstar.errors import BadFileError, TableError
from loadstar.shape.table import Column, TableInfo

# pandas writes a non-default index as extra columns with these names; they
# carry no data the warehouse asked for.
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")


@dataclass(frozen=True)
class ColumnMap:
    source: str
    column: Column


@dataclass(frozen=True)
class LoadPlan:
    """How one file's columns land in one table."""

    spec: TableSpec
    table: TableInfo
    columns: tuple[ColumnMap, ...]
    ignored: tuple[str, ...] = ()

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(m.column.name for m in self.columns)

    @property
    def target_columns(self) -> tuple[Column, ...]:
        return tuple(m.column for m in self.columns)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The columns that identify a row: the PK of a dimension, the version key of a fact."""
        return self.table.primary_key if self.spec.kind == "dimension" else self.spec.version_key


def check_table(spec: TableSpec, table: TableInfo) -> None:
    """Catalogue and warehouse agree on what loading this table needs."""
    if spec.kind == "dimension" and not table.primary_key:
        raise TableError(
            f"dimension table {table.qualified_name} has no primary key",
            table=table.qualified_name,
            hint="loadstar upserts dimensions on their primary key: add one",
        )
    for name in spec.version_key:
        if table.column(name) is None:
            raise TableError(
                f"version_key of {spec.name} names column {name!r}, "
                f"which {table.qualified_name} does not have",
                table=table.qualified_name,
                hint="fix the version_key in the catalogue, or add the column",
            )
    # A file column matches a table column whatever its case, so ignore must not either.
    names = {c.name.lower() for c in table.columns}
    kept = sorted(name for name in spec.ignore if name.lower() in names)
    if kept:
        raise TableError(
            f"ignore of {spec.name} names {', '.join(map(repr, kept))}, which "
            f"{table.qualified_name} has: loading would drop the files' values for "
            f"{'it' if len(kept) == 1 else 'them'}",
            table=table.qualified_name,
            hint="ignore is for file columns the table has no place for; remove these from it",
        )
    for source, target in spec.rename.items():
        if table.column(target) is None:
            raise TableError(
                f"rename of {spec.name} maps {source!r} to {target!r}, "
                f"which {table.qualified_name} does not have",
                table=table.qualified_name,
                hint="fix the rename in the catalogue, or add the column",
            )


def index_advice(spec: TableSpec, table: TableInfo) -> str | None:
    """What to create when a fact's version key has no index to probe (None if it has one)."""
    if not spec.version_key or table.has_index_for(spec.version_key):
        return None
    columns = ", ".join(f'"{c}"' for c in spec.version_key)
    return (
        f"no index on the version key of {table.qualified_name}: every file's "
        "de-duplication reads the whole table; create one with "
        f'CREATE UNIQUE INDEX ON "{table.schema}"."{table.name}" ({columns})'
    )


def plan_columns(schema: pa.Schema, spec: TableSpec, table: TableInfo) -> LoadPlan:
    """Match the file's columns to the table's; `BadFileError` naming any that do not fit."""
    where = table.qualified_name
    by_lower: dict[str, list[Column]] = {}
    for col in table.columns:
        by_lower.setdefault(col.name.lower(), []).append(col)

    maps: list[ColumnMap] = []
    ignored: list[str] = []
    unknown: list[str] = []
    seen: dict[str, str] = {}
    for source in schema.names:
        if _PANDAS_INDEX.fullmatch(source) or source in spec.ignore:
            ignored.append(source)
            continue
        target_name = spec.rename.get(source, source)
        column = table.column(target_name)
        if column is None:
            candidates = by_lower.get(target_name.lower(), [])
            column = candidates[0] if len(candidates) == 1 else None
        if column is None:
            unknown.append(source)
            continue
        if column.computed or (
            spec.kind == "fact" and column.generated and column.name in table.primary_key
        ):
            # The warehouse computes it, or assigns a fact's surrogate key itself.
            ignored.append(source)
            continue
        if column.name in seen:
            raise BadFileError(
                f"columns {seen[column.name]!r} and {source!r} both map to {column.name!r}",
                table=where,
                column=column.name,
            )
        seen[column.name] = source
        maps.append(ColumnMap(source=source, column=column))

    if unknown:
        raise BadFileError(_unknown_columns(unknown, spec, table), table=where, column=unknown[0])

    if not maps and ignored:
        raise BadFileError(
            f"none of the file's columns ({', '.join(repr(i) for i in ignored)}) is one "
            "loadstar loads: there is nothing to load",
            table=where,
        )
    loaded = {m.column.name for m in maps}
    missing = [
        c.name
        for c in table.columns
        if c.not_null and not c.has_default and not c.generated and c.name not in loaded
    ]
    needed = [c for c in (*spec.version_key, *_dimension_key(spec, table)) if c not in loaded]
    for name in (*missing, *needed):
        raise BadFileError(
            f"the file has no column {name!r}, which the table needs "
            f"({'NOT NULL' if name in missing else 'key column'})",
            table=where,
            column=name,
        )
    return LoadPlan(spec=spec, table=table, columns=tuple(maps), ignored=tuple(ignored))


def _dimension_key(spec: TableSpec, table: TableInfo) -> tuple[str, ...]:
    return table.primary_key if spec.kind == "dimension" else ()


def _unknown_columns(unknown: list[str], spec: TableSpec, table: TableInfo) -> str:
    """Why the file cannot load, and each way out: rename, ignore, add the column, skip."""
    names = ", ".join(repr(u) for u in unknown)
    # TOML basic strings take JSON's escapes; SQL identifiers double their quotes.
    listed = ", ".join(json.dumps(u) for u in unknown)
    known = ", ".join(c.name for c in table.columns)
    add = "; ".join(
        f"ALTER TABLE {_ident(table.schema)}.{_ident(table.name)} ADD COLUMN {_ident(u)} <type>"
        for u in unknown
    )
    return (
        f"unknown column{'s' if len(unknown) > 1 else ''} {names}: the table has no such "
        f"column (it has {known}). Either map each to a column (rename = {{ "
        f'{json.dumps(unknown[0])} = "<column>" }} in [tables.{spec.name}]), drop them '
        f"(ignore = [{listed}] in [tables.{spec.name}]), add them to the table ({add}), or "
        "set this file aside (loadstar skip KEY --reason ...)"
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
