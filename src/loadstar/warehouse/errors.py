"""The one place where PostgreSQL errors become loadstar errors.

Decided by SQLSTATE, never by message text: connection loss, server restarts
and serialization failures are transient (worth trying again); data and
constraint errors are terminal for the file that caused them.
"""

from __future__ import annotations

import re

import psycopg

from loadstar.errors import BadFileError, ConfigError, LoadstarError, TransientError
from loadstar.warehouse.catalog import TableInfo

TRANSIENT_CLASSES = ("08",)  # connection exception
TRANSIENT_STATES = frozenset(
    {
        "57P01",  # admin_shutdown (pg_terminate_backend, a restart)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, recovering)
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "53300",  # too_many_connections
        "55P03",  # lock_not_available
        "57014",  # query_canceled (statement_timeout, a cancel)
    }
)
DATA_CLASSES = ("22", "23", "P0", "21")  # data, integrity, PL/pgSQL raise, cardinality
CONFIG_CLASSES = ("42", "28", "3D", "3F", "0A")

# COPY reports where a value failed in its context line; only the column name
# is taken from it, to name the column in the error.
_COPY_COLUMN = re.compile(r"COPY [^,]+, line \d+, column (?P<column>[^:]+):")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientError):
        return True
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:
        # No SQLSTATE: the connection itself failed or was lost.
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return state.startswith(TRANSIENT_CLASSES) or state in TRANSIENT_STATES


def classify(exc: psycopg.Error, *, table: TableInfo | None = None) -> LoadstarError:
    """The loadstar error for a driver error raised while loading into ``table``."""
    if is_transient(exc):
        return TransientError(f"warehouse connection problem: {_describe(exc)}")
    state = exc.sqlstate or ""
    if state.startswith(DATA_CLASSES):
        return BadFileError(
            f"the warehouse rejected the rows: {_describe(exc)}",
            table=table.qualified_name if table else None,
            column=_column(exc, table),
        )
    if state.startswith(CONFIG_CLASSES):
        return ConfigError(f"the warehouse refused the load ({state}): {_describe(exc)}")
    return BadFileError(
        f"the warehouse failed the load ({state or 'no SQLSTATE'}): {_describe(exc)}",
        table=table.qualified_name if table else None,
    )


def _describe(exc: psycopg.Error) -> str:
    diag = exc.diag
    text = diag.message_primary or str(exc).strip().splitlines()[0]
    if diag.message_detail:
        text += f" ({diag.message_detail})"
    if diag.context and diag.context.startswith("COPY"):
        text += f" [{diag.context.strip().splitlines()[0]}]"
    return text


def _column(exc: psycopg.Error, table: TableInfo | None) -> str | None:
    diag = exc.diag
    if diag.column_name:
        return diag.column_name
    constraint = diag.constraint_name
    if table is not None and constraint is not None and constraint in table.foreign_keys:
        return ", ".join(table.foreign_keys[constraint].columns)
    if diag.context:
        found = _COPY_COLUMN.search(diag.context)
        if found:
            return found["column"]
    return None
