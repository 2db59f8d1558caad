"""Settings: every setting a run reads, from arguments, the environment and the TOML file.

Precedence, field by field: explicit argument, then environment variable, then
the TOML file named by ``LOADSTAR_CONFIG``, then the built-in default. Settings
are read afresh for every run, so one warm Lambda process can be re-pointed by
changing its environment.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadstar.config.catalogue import (
    TableSpec,
    check_catalogue,
    default_catalogue,
    table_from_entry,
)
from loadstar.errors import ConfigError

DEFAULT_LEDGER_SCHEMA = "loadstar"
DEFAULT_TIME_RESERVE_SECONDS = 10.0
DEFAULT_METRICS_NAMESPACE = "Loadstar"
DEFAULT_SERVICE = "loadstar"

_TOP_LEVEL = {"warehouse", "metrics", "tables", "source", "ledger", "run"}


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
    check_catalogue(tables)

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
