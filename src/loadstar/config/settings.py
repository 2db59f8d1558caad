"""Settings and the table catalogue.

Precedence, field by field: explicit argument, then environment variable, then
the TOML file named by ``LOADSTAR_CONFIG``, then the built-in default. Settings
are read afresh for every run, so one warm Lambda process can be re-pointed by
changing its environment.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from loadstar.errors import ConfigError

TableKind = Literal["dimension", "fact"]

DEFAULT_LEDGER_SCHEMA = "loadstar"
DEFAULT_TIME_RESERVE_SECONDS = 10.0
DEFAULT_METRICS_NAMESPACE = "Loadstar"
DEFAULT_SERVICE = "loadstar"

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

_TABLE_FIELDS = {"kind", "prefix", "rename", "version_key"}
_TOP_LEVEL = {"warehouse", "metrics", "tables", "source", "ledger", "run"}


@dataclass(frozen=True)
class TableSpec:
    """One warehouse table and where its files live in the bucket."""

    name: str
    kind: TableKind
    prefix: str
    rename: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    version_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """Everything one run needs to know; immutable once read."""

    bucket: str | None
    database_url: str | None = field(repr=False)
    db_secret: str | None
    schema: str | None
    ledger_schema: str
    tables: tuple[TableSpec, ...]
    time_reserve_seconds: float = DEFAULT_TIME_RESERVE_SECONDS
    config_path: str | None = None
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    service: str = DEFAULT_SERVICE
    """The ``Service`` dimension of every metric: one function among several."""

    def __repr__(self) -> str:
        return (
            f"Settings(bucket={self.bucket!r}, database_url={mask_url(self.database_url)!r}, "
            f"db_secret={self.db_secret!r}, schema={self.schema!r}, "
            f"ledger_schema={self.ledger_schema!r}, tables={[t.name for t in self.tables]!r})"
        )

    def table(self, name: str) -> TableSpec:
        """The catalogue entry for ``name``, or one derived from the name alone."""
        for spec in self.tables:
            if spec.name == name:
                return spec
        return table_from_entry(name, {})

    def require_bucket(self) -> str:
        if not self.bucket:
            raise ConfigError(
                "no bucket configured: set LOADSTAR_BUCKET, pass a bucket, "
                "or name one in the event as {'bucket': ...}"
            )
        return self.bucket


_URL_PASSWORD = re.compile(r"(?P<head>://[^:/@]*:)(?P<password>[^@]*)(?P<tail>@)")
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<password>'(?:[^'\\]|\\.)*'|\S+)")


def mask_url(conninfo: str | None) -> str | None:
    """A connection string safe to log: any password replaced by ``***``."""
    if conninfo is None:
        return None
    masked = _URL_PASSWORD.sub(r"\g<head>***\g<tail>", conninfo)
    masked = re.sub(r"([?&]password=)[^&]*", r"\1***", masked)
    return _KV_PASSWORD.sub(r"\g<head>***", masked)


def load_settings(
    *,
    bucket: str | None = None,
    database_url: str | None = None,
    db_secret: str | None = None,
    config_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read settings: explicit arguments > environment > TOML file > defaults."""
    env = os.environ if environ is None else environ
    path = config_path if config_path is not None else env.get("LOADSTAR_CONFIG") or None
    document = _read_toml(Path(path)) if path else {}

    source = _section(document, "source")
    warehouse = _section(document, "warehouse")
    ledger = _section(document, "ledger")
    run = _section(document, "run")
    metrics = _section(document, "metrics")

    tables_doc = document.get("tables")
    if tables_doc is None:
        tables = default_catalogue()
    else:
        if not isinstance(tables_doc, dict) or not tables_doc:
            raise ConfigError(f"{path}: [tables] must define at least one table")
        tables = tuple(table_from_entry(name, entry) for name, entry in tables_doc.items())
    _check_catalogue(tables)

    reserve = run.get("time_reserve_seconds", DEFAULT_TIME_RESERVE_SECONDS)
    if not isinstance(reserve, int | float) or reserve < 0:
        raise ConfigError(f"{path}: [run] time_reserve_seconds must be a number >= 0")

    return Settings(
        bucket=_first(bucket, env.get("LOADSTAR_BUCKET"), _opt_str(source, "bucket", path)),
        # An explicit secret is a choice of warehouse: the environment's URL,
        # which would otherwise win over any secret, must not override it.
        database_url=_first(database_url, None if db_secret else env.get("LOADSTAR_DATABASE_URL")),
        db_secret=_first(
            db_secret, env.get("LOADSTAR_DB_SECRET"), _opt_str(warehouse, "secret", path)
        ),
        schema=_opt_str(warehouse, "schema", path),
        ledger_schema=_opt_str(ledger, "schema", path) or DEFAULT_LEDGER_SCHEMA,
        tables=tables,
        time_reserve_seconds=float(reserve),
        config_path=str(path) if path else None,
        metrics_namespace=_first(
            env.get("LOADSTAR_METRICS_NAMESPACE"), _opt_str(metrics, "namespace", path)
        )
        or DEFAULT_METRICS_NAMESPACE,
        service=_first(env.get("LOADSTAR_SERVICE"), _opt_str(metrics, "service", path))
        or DEFAULT_SERVICE,
    )


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
    unknown = set(entry) - _TABLE_FIELDS
    if unknown:
        raise ConfigError(
            f"[tables.{name}] has unknown setting(s) {sorted(unknown)}; "
            f"expected some of {sorted(_TABLE_FIELDS)}"
        )
    defaults = _NAME_DEFAULTS.get(name, {})

    kind = entry.get("kind") or _kind_from_name(name)
    if kind not in ("dimension", "fact"):
        raise ConfigError(f"[tables.{name}] kind must be 'dimension' or 'fact', got {kind!r}")

    prefix = entry.get("prefix")
    if prefix is None:
        stem = name.removeprefix("dim_") if kind == "dimension" else name.removeprefix("fact_")
        prefix = f"{kind}/{stem}"
    if not isinstance(prefix, str) or not prefix:
        raise ConfigError(f"[tables.{name}] prefix must be a non-empty string")

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

    return TableSpec(
        name=name,
        kind=kind,
        prefix=prefix,
        rename=MappingProxyType(dict(rename)),
        version_key=tuple(version_key),
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


def _check_catalogue(tables: tuple[TableSpec, ...]) -> None:
    names = [t.name for t in tables]
    if len(set(names)) != len(names):
        raise ConfigError(f"table catalogue names a table twice: {names}")
    prefixes = [t.prefix for t in tables]
    if len(set(prefixes)) != len(prefixes):
        raise ConfigError(f"two tables share a prefix: {prefixes}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"LOADSTAR_CONFIG names {str(path)!r}, which does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    unknown = set(document) - _TOP_LEVEL
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) {sorted(unknown)}; expected some of {sorted(_TOP_LEVEL)}"
        )
    return document


def _section(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = document.get(name, {})
    if not isinstance(section, Mapping):
        raise ConfigError(f"[{name}] must be a table of settings")
    return section


def _opt_str(section: Mapping[str, Any], key: str, path: object) -> str | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: {key} must be a non-empty string, got {value!r}")
    return value


def _first(*values: str | None) -> str | None:
    for value in values:
        if value:
            return value
    return None
