"""What a target table is: its columns, their types, its keys and indexes.

Plain data, filled in by whichever target describes the table (the
warehouse reads it from ``pg_catalog``); the mapping and the casts decide
everything from it, and never ask the target themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Column:
    """One column of a target table."""

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
    always_generated: bool = False
    """An identity ``GENERATED ALWAYS`` column: a value for it needs ``OVERRIDING SYSTEM VALUE``."""
    computed: bool = False
    """A generated column (``GENERATED ALWAYS AS (…) STORED``): the warehouse computes it."""

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
class ForeignKey:
    """A foreign key of the table: its columns and the key they reference."""

    name: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]
    match_simple: bool
    """MATCH SIMPLE, the default: a row with any NULL in the key is not checked."""


@dataclass(frozen=True)
class Reference:
    """A foreign key of another table (or of this one) that points at this table."""

    name: str
    from_table: str
    """The referencing table, schema-qualified."""
    key: tuple[str, ...]
    """This table's columns it references."""


@dataclass(frozen=True)
class TableInfo:
    """A target table as its catalogue describes it."""

    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: Mapping[str, ForeignKey] = field(default_factory=lambda: MappingProxyType({}))
    indexes: tuple[tuple[str, ...], ...] = ()
    """Key columns of each valid btree index, in index order."""
    unique_keys: tuple[frozenset[str], ...] = ()
    """Column sets that a unique index (no predicate, not deferred) keeps unique."""
    has_triggers: bool = False
    """User triggers or rules: rows must go through them one by one."""
    referenced_by: tuple[Reference, ...] = ()
    """Foreign keys of other tables (or of this one) that point at this table."""

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def has_index_for(self, columns: tuple[str, ...]) -> bool:
        """Whether one index finds rows by equality on all of ``columns``.

        Its leading columns must be exactly those columns, in any order: an
        index on only some of them would be probed once per row and then
        filtered, slower than letting the planner choose a join.
        """
        wanted = frozenset(columns)
        return bool(wanted) and any(
            frozenset(index[: len(wanted)]) == wanted for index in self.indexes
        )

    def column(self, name: str) -> Column | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None
