"""The table catalogue: which warehouse tables loadstar loads, and where their files are.

The catalogue is configuration, not code: the TOML file's ``[tables]`` replace
the default Terrific Totes star schema, and every field an entry leaves out
is derived from the table's name. These are the only places the default
tables, their prefixes and their version keys are written down; samples and
tests read them from here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from loadstar.errors import ConfigError

TableKind = Literal["dimension", "fact"]

_DEFAULT_TABLES = (
    "dim_date",
    "dim_staff",
    "dim_location",
    "dim_currency",
    "dim_design",
    "dim_counterparty",
    "fact_sales_order",
)

# Known per-table defaults for the Terrific Totes schema: real processed files
# name the counterparty phone column without the ``_number`` suffix, and sales
# orders are re-emitted by upstream steps, so their versions de-duplicate.
_NAME_DEFAULTS: dict[str, dict[str, Any]] = {
    "dim_counterparty": {
        "rename": {"counterparty_legal_phone": "counterparty_legal_phone_number"},
    },
    "fact_sales_order": {
        "version_key": ["sales_order_id", "last_updated_date", "last_updated_time"],
    },
}

_TABLE_FIELDS = {"kind", "prefix", "pattern", "suffix", "rename", "version_key", "ignore"}
DEFAULT_SUFFIX = ".parquet"


@dataclass(frozen=True)
class TableSpec:
    """One warehouse table and where its files live in the bucket."""

    name: str
    kind: TableKind
    prefix: str | None
    """Where the table's files are: a folder when it ends in ``/``; None with a pattern."""
    rename: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    version_key: tuple[str, ...] = ()
    pattern: str | None = None
    """A template from the bucket root (``{timestamp}``, ``*``), instead of a prefix."""
    suffix: str = DEFAULT_SUFFIX
    """How the table's file names end; ``""`` accepts keys with no extension."""
    ignore: frozenset[str] = frozenset()
    """File columns dropped before loading (the warehouse has no place for them)."""


def load_order(tables: Iterable[TableSpec]) -> list[TableSpec]:
    """Dimensions before facts (facts reference them), catalogue order within each."""
    return sorted(tables, key=lambda t: t.kind != "dimension")


def default_catalogue() -> tuple[TableSpec, ...]:
    """The Terrific Totes star schema, with prefixes derived from the names."""
    return tuple(table_from_entry(name, {}) for name in _DEFAULT_TABLES)


def table_from_entry(name: str, entry: Mapping[str, Any]) -> TableSpec:
    """A catalogue entry, with every field it leaves out derived from the name."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"[tables.{name}] must be a table of settings")
    for key in entry:
        if key not in _TABLE_FIELDS:
            close = difflib.get_close_matches(key, sorted(_TABLE_FIELDS), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"[tables.{name}] has no setting {key!r}{hint}; "
                f"a table has {', '.join(sorted(_TABLE_FIELDS))}"
            )
    defaults = _NAME_DEFAULTS.get(name, {})

    kind = entry.get("kind") or _kind_from_name(name)
    if kind not in ("dimension", "fact"):
        raise ConfigError(f"[tables.{name}] kind must be 'dimension' or 'fact', got {kind!r}")

    prefix, pattern = entry.get("prefix"), entry.get("pattern")
    if pattern is not None:
        if prefix is not None:
            raise ConfigError(
                f"[tables.{name}] has both a prefix and a pattern: give one or the other"
            )
        _check_pattern(name, pattern)
    elif prefix is None:
        stem = name.removeprefix("dim_") if kind == "dimension" else name.removeprefix("fact_")
        prefix = f"{kind}/{stem}"
    if pattern is None and (not isinstance(prefix, str) or not prefix):
        raise ConfigError(f"[tables.{name}] prefix must be a non-empty string")
    suffix = entry.get("suffix", DEFAULT_SUFFIX)
    if not isinstance(suffix, str) or "/" in suffix:
        raise ConfigError(
            f"[tables.{name}] suffix must be a file name's ending such as '.parquet', "
            f"or '' for none; got {suffix!r}"
        )

    rename = entry.get("rename", defaults.get("rename", {}))
    if not isinstance(rename, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in rename.items()
    ):
        raise ConfigError(f"[tables.{name}] rename must map file column names to table columns")

    version_key = entry.get("version_key", defaults.get("version_key", []))
    if not isinstance(version_key, list | tuple) or not all(
        isinstance(c, str) for c in version_key
    ):
        raise ConfigError(f"[tables.{name}] version_key must be a list of column names")
    if version_key and kind != "fact":
        raise ConfigError(f"[tables.{name}] version_key applies to fact tables only")

    ignore = entry.get("ignore", [])
    if not isinstance(ignore, list | tuple) or not all(isinstance(c, str) and c for c in ignore):
        raise ConfigError(f"[tables.{name}] ignore must be a list of file column names")
    both = sorted(set(ignore) & {*rename, *version_key})
    if both:
        raise ConfigError(
            f"[tables.{name}] ignores {', '.join(map(repr, both))}, which it also "
            "renames or keys on: a column is loaded or ignored, not both"
        )

    return TableSpec(
        name=name,
        kind=kind,
        prefix=prefix,
        rename=MappingProxyType(dict(rename)),
        version_key=tuple(version_key),
        pattern=pattern,
        suffix=suffix,
        ignore=frozenset(ignore),
    )


def _check_pattern(name: str, pattern: object) -> None:
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"[tables.{name}] pattern must be a non-empty string")
    if pattern.count("{timestamp}") > 1:
        raise ConfigError(f"[tables.{name}] pattern may hold {{timestamp}} once: {pattern!r}")
    if "**" in pattern or "*{timestamp}" in pattern or "{timestamp}*" in pattern:
        raise ConfigError(
            f"[tables.{name}] pattern {pattern!r} is ambiguous: a '*' may not touch "
            "another '*' or {timestamp}"
        )
    leftover = pattern.replace("{timestamp}", "")
    if "{" in leftover or "}" in leftover:
        raise ConfigError(
            f"[tables.{name}] pattern {pattern!r}: the only placeholder is {{timestamp}}"
        )


def _kind_from_name(name: str) -> TableKind:
    if name.startswith("dim_"):
        return "dimension"
    if name.startswith("fact_"):
        return "fact"
    raise ConfigError(
        f"[tables.{name}] needs kind = 'dimension' or 'fact' "
        "(only names starting dim_ or fact_ imply one)"
    )


def check_catalogue(tables: tuple[TableSpec, ...]) -> None:
    names = [t.name for t in tables]
    if len(set(names)) != len(names):
        raise ConfigError(f"table catalogue names a table twice: {names}")
    rules = [(t.prefix, t.pattern, t.suffix) for t in tables]
    if len(set(rules)) != len(rules):
        shared = [t.name for t, r in zip(tables, rules, strict=True) if rules.count(r) > 1]
        raise ConfigError(f"tables {shared} share a prefix: each table needs its own files")
