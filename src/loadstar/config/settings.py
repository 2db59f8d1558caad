"""Settings: every setting a run reads, from arguments, the environment and the TOML file.

Precedence, field by field: explicit argument, then environment variable, then
the TOML file named by ``LOADSTAR_CONFIG``, then the built-in default. Settings
are read afresh for every run, so one warm Lambda process can be re-pointed by
changing its environment.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

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
DEFAULT_CONNECT_ATTEMPTS = 4
DEFAULT_LOCK_TIMEOUT_SECONDS = 5.0
DEFAULT_FULL_LISTING_INTERVAL_SECONDS = 86_400.0
DEFAULT_TABLE_LOCK_WAIT_SECONDS = 5.0


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
    connect_attempts: int = DEFAULT_CONNECT_ATTEMPTS
    """Tries to connect in all, with backoff between them, before the run stops."""
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS
    """How long a statement waits for a table another session has locked."""
    full_listing_interval_seconds: float = DEFAULT_FULL_LISTING_INTERVAL_SECONDS
    """A table is listed in full at least this often; otherwise from its watermark."""
    table_lock_wait_seconds: float = DEFAULT_TABLE_LOCK_WAIT_SECONDS
    """How long a run waits for a table another load is loading before calling it busy."""

    def __repr__(self) -> str:
        return (
            f"Settings(bucket={self.bucket!r}, database_url={mask_url(self.database_url)!r}, "
            f"db_secret={self.db_secret!r}, schema={self.schema!r}, "
            f"ledger_schema={self.ledger_schema!r}, tables={[t.name for t in self.tables]!r})"
        )

    def table(self, name: str) -> TableSpec:
        """The catalogue entry for ``name``, or one derived from the name alone."""
        return self.catalogued(name) or table_from_entry(name, {})

    def catalogued(self, name: str) -> TableSpec | None:
        """The catalogue entry for ``name``, if the catalogue has one."""
        return next((spec for spec in self.tables if spec.name == name), None)

    def require_bucket(self) -> str:
        if not self.bucket:
            raise ConfigError(
                "no bucket configured: set LOADSTAR_BUCKET, pass a bucket, "
                "or name one in the event as {'bucket': ...}"
            )
        return self.bucket


# scheme://user:password@host… — the password runs to the last "@" before the host,
# since people do paste unescaped "@" into passwords.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<password>\S*)(?P<tail>@[^@\s/?#]*)"
)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&\s]*)", re.IGNORECASE)
_KV_PASSWORD = re.compile(
    r"(?P<head>(?:^|(?<=[\s\"']))password\s*=\s*)(?P<password>'(?:[^'\\]|\\.)*'|[^\s\"']+)",
    re.IGNORECASE,
)
_PASSWORD_FORMS = (_URL_PASSWORD, _QUERY_PASSWORD, _KV_PASSWORD)


def mask_url(conninfo: str | None) -> str | None:
    """A connection string (or a message quoting one) safe to log: any password as ``***``."""
    if conninfo is None:
        return None
    masked = conninfo
    for form in _PASSWORD_FORMS:
        masked = form.sub(lambda m: f"{m['head']}***{m.groupdict().get('tail') or ''}", masked)
    return masked


def passwords_in(conninfo: str | None) -> set[str]:
    """Every password a connection string holds, as written and URL-decoded."""
    found: set[str] = set()
    for form in _PASSWORD_FORMS:
        for match in form.finditer(conninfo or ""):
            password = match["password"].strip("'")
            if password:
                found |= {password, unquote(password)}
    return found


def load_settings(
    *,
    bucket: str | None = None,
    database_url: str | None = None,
    db_secret: str | None = None,
    config_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read settings: explicit arguments > environment > TOML file > defaults.

    Every key of the TOML file must be a known one of its section, of the
    right type: a typo is refused, naming the setting, never ignored.
    """
    env = os.environ if environ is None else environ
    path = config_path if config_path is not None else env.get("LOADSTAR_CONFIG") or None
    document = _read_toml(Path(path)) if path else {}
    file = _File(document, str(path) if path else "")

    tables_doc = document.get("tables")
    if tables_doc is None:
        tables = default_catalogue()
    else:
        if not isinstance(tables_doc, dict) or not tables_doc:
            raise ConfigError(f"{path}: [tables] must define at least one table")
        tables = tuple(table_from_entry(name, entry) for name, entry in tables_doc.items())
    check_catalogue(tables)

    return Settings(
        bucket=_first(bucket, env.get("LOADSTAR_BUCKET"), file.text("source", "bucket")),
        # An explicit secret is a choice of warehouse: the environment's URL,
        # which would otherwise win over any secret, must not override it.
        database_url=_first(database_url, None if db_secret else env.get("LOADSTAR_DATABASE_URL")),
        db_secret=_first(
            db_secret, env.get("LOADSTAR_DB_SECRET"), file.text("warehouse", "secret")
        ),
        schema=file.text("warehouse", "schema"),
        ledger_schema=file.text("ledger", "schema") or DEFAULT_LEDGER_SCHEMA,
        tables=tables,
        time_reserve_seconds=_number(
            env, "LOADSTAR_TIME_RESERVE_SECONDS", file, "run", "time_reserve_seconds"
        ),
        config_path=str(path) if path else None,
        metrics_namespace=_first(
            env.get("LOADSTAR_METRICS_NAMESPACE"), file.text("metrics", "namespace")
        )
        or DEFAULT_METRICS_NAMESPACE,
        service=_first(env.get("LOADSTAR_SERVICE"), file.text("metrics", "service"))
        or DEFAULT_SERVICE,
        connect_attempts=int(
            _number(env, "LOADSTAR_CONNECT_ATTEMPTS", file, "warehouse", "connect_attempts")
        ),
        lock_timeout_seconds=_number(
            env, "LOADSTAR_LOCK_TIMEOUT_SECONDS", file, "warehouse", "lock_timeout_seconds"
        ),
        full_listing_interval_seconds=_number(
            env,
            "LOADSTAR_FULL_LISTING_INTERVAL_SECONDS",
            file,
            "run",
            "full_listing_interval_seconds",
        ),
        table_lock_wait_seconds=_number(
            env, "LOADSTAR_TABLE_LOCK_WAIT_SECONDS", file, "run", "table_lock_wait_seconds"
        ),
    )


# Every setting the TOML file may hold, by section: its type, and for numbers
# the default and the least value allowed.
_TEXT = "text"
_SCHEMA: dict[str, dict[str, tuple[str, float | None, float]]] = {
    "source": {"bucket": (_TEXT, None, 0)},
    "warehouse": {
        "schema": (_TEXT, None, 0),
        "secret": (_TEXT, None, 0),
        "connect_attempts": ("integer", DEFAULT_CONNECT_ATTEMPTS, 1),
        "lock_timeout_seconds": ("number", DEFAULT_LOCK_TIMEOUT_SECONDS, 0),
    },
    "ledger": {"schema": (_TEXT, None, 0)},
    "run": {
        "time_reserve_seconds": ("number", DEFAULT_TIME_RESERVE_SECONDS, 0),
        "full_listing_interval_seconds": ("number", DEFAULT_FULL_LISTING_INTERVAL_SECONDS, 0),
        "table_lock_wait_seconds": ("number", DEFAULT_TABLE_LOCK_WAIT_SECONDS, 0),
    },
    "metrics": {"namespace": (_TEXT, None, 0), "service": (_TEXT, None, 0)},
}
_TOP_LEVEL = {*_SCHEMA, "tables"}


@dataclass(frozen=True)
class SettingHelp:
    """One setting as a person sets it: flag, environment variable, TOML key."""

    group: str
    flag: str | None
    env: str | None
    toml: str | None
    default: str
    meaning: str


# Every setting, for `loadstar --help` and the docs; a test checks it against
# the variables and TOML keys load_settings reads.
SETTINGS_HELP: tuple[SettingHelp, ...] = (
    SettingHelp(
        "where", "--bucket", "LOADSTAR_BUCKET", "source.bucket", "-", "the processed bucket"
    ),
    SettingHelp(
        "where",
        "--config",
        "LOADSTAR_CONFIG",
        None,
        "-",
        "the TOML file (table catalogue and the settings below)",
    ),
    SettingHelp(
        "where",
        "--database-url",
        "LOADSTAR_DATABASE_URL",
        None,
        "-",
        "libpq URI of the warehouse (password in PGPASSWORD or ~/.pgpass)",
    ),
    SettingHelp(
        "where",
        "--db-secret",
        "LOADSTAR_DB_SECRET",
        "warehouse.secret",
        "-",
        "Secrets Manager secret holding the warehouse's connection",
    ),
    SettingHelp(
        "where", None, None, "warehouse.schema", "search_path", "schema of the warehouse tables"
    ),
    SettingHelp(
        "where", None, None, "ledger.schema", DEFAULT_LEDGER_SCHEMA, "schema of the ledger"
    ),
    SettingHelp(
        "run",
        None,
        "LOADSTAR_TIME_RESERVE_SECONDS",
        "run.time_reserve_seconds",
        f"{DEFAULT_TIME_RESERVE_SECONDS:g}",
        "seconds of Lambda time kept for the end",
    ),
    SettingHelp(
        "run",
        None,
        "LOADSTAR_FULL_LISTING_INTERVAL_SECONDS",
        "run.full_listing_interval_seconds",
        f"{DEFAULT_FULL_LISTING_INTERVAL_SECONDS:g}",
        "seconds between full listings of a table's prefix",
    ),
    SettingHelp(
        "run",
        None,
        "LOADSTAR_TABLE_LOCK_WAIT_SECONDS",
        "run.table_lock_wait_seconds",
        f"{DEFAULT_TABLE_LOCK_WAIT_SECONDS:g}",
        "seconds to wait for a table's lock",
    ),
    SettingHelp(
        "warehouse",
        None,
        "LOADSTAR_CONNECT_ATTEMPTS",
        "warehouse.connect_attempts",
        f"{DEFAULT_CONNECT_ATTEMPTS}",
        "tries to connect before the run fails",
    ),
    SettingHelp(
        "warehouse",
        None,
        "LOADSTAR_LOCK_TIMEOUT_SECONDS",
        "warehouse.lock_timeout_seconds",
        f"{DEFAULT_LOCK_TIMEOUT_SECONDS:g}",
        "PostgreSQL lock_timeout of a load",
    ),
    SettingHelp(
        "output",
        None,
        "LOADSTAR_METRICS_NAMESPACE",
        "metrics.namespace",
        DEFAULT_METRICS_NAMESPACE,
        "CloudWatch namespace of the metrics",
    ),
    SettingHelp(
        "output",
        None,
        "LOADSTAR_SERVICE",
        "metrics.service",
        DEFAULT_SERVICE,
        "service dimension of the metrics",
    ),
    SettingHelp(
        "output", "--log-level", "LOADSTAR_LOG_LEVEL", None, "INFO", "DEBUG, INFO, WARNING, ERROR"
    ),
    SettingHelp(
        "output",
        "--log-format",
        "LOADSTAR_LOG_FORMAT",
        None,
        "json",
        "json or console (the command line: none on a terminal unless asked)",
    ),
    SettingHelp(
        "output",
        "--dir (local)",
        "LOADSTAR_LOCAL_DIR",
        None,
        "./loadstar-local",
        "where `loadstar local` keeps its stack",
    ),
)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``word``; else nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _File:
    """The TOML document, read section by section, refusing what it does not know."""

    def __init__(self, document: Mapping[str, Any], path: str) -> None:
        self.path = path
        self.sections: dict[str, Mapping[str, Any]] = {}
        for name, fields in _SCHEMA.items():
            section = document.get(name, {})
            if not isinstance(section, Mapping):
                raise ConfigError(f"{path}: [{name}] must be a table of settings")
            for key in section:
                if key not in fields:
                    raise ConfigError(
                        f"{path}: [{name}] has no setting {key!r}{did_you_mean(key, fields)}; "
                        f"it has {', '.join(sorted(fields))}"
                    )
            self.sections[name] = section

    def text(self, section: str, key: str) -> str | None:
        value = self.sections[section].get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"{self.path}: [{section}] {key} must be a non-empty string, got {value!r}"
            )
        return value

    def number(self, section: str, key: str) -> float | None:
        value = self.sections[section].get(key)
        if value is None:
            return None
        kind, _, least = _SCHEMA[section][key]
        # TOML's true is a bool, and Python's bool is an int: refuse it by name.
        wanted = int if kind == "integer" else int | float
        if isinstance(value, bool) or not isinstance(value, wanted) or value < least:
            raise ConfigError(
                f"{self.path}: [{section}] {key} must be {'an' if kind == 'integer' else 'a'} "
                f"{kind} of at least {least:g}, got {value!r}"
            )
        return float(value)


def _number(env: Mapping[str, str], variable: str, file: _File, section: str, key: str) -> float:
    """A numeric setting: the environment variable, else the file, else the default."""
    kind, default, least = _SCHEMA[section][key]
    text = env.get(variable)
    if text:
        try:
            value = int(text) if kind == "integer" else float(text)
        except ValueError:
            raise ConfigError(f"{variable} must be {kind}, got {text!r}") from None
        if value < least:
            raise ConfigError(f"{variable} must be at least {least:g}, got {text!r}")
        return float(value)
    found = file.number(section, key)
    assert default is not None
    return found if found is not None else float(default)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"LOADSTAR_CONFIG names {str(path)!r}, which does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    for name in document:
        if name not in _TOP_LEVEL:
            raise ConfigError(
                f"{path}: unknown section [{name}]{did_you_mean(name, _TOP_LEVEL)}; "
                f"sections are {', '.join(sorted(_TOP_LEVEL))}"
            )
    return document


def _first(*values: str | None) -> str | None:
    for value in values:
        if value:
            return value
    return None
