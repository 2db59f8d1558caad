"""The one place where PostgreSQL errors become loadstar errors, with their scope.

Decided by SQLSTATE, never by message text:

- transient (connection loss, restarts, serialization failures, deadlocks):
  worth trying the same file again;
- the file's own data (classes 21, 22, 23, 44, and P0 for a trigger's
  ``RAISE``): the file is bad, terminal for it;
- everything else (a privilege, a missing column or function, a read-only
  server, a full disk, a statement timeout, an internal error): the table's
  problem. No file is blamed for what no file can fix.
"""

from __future__ import annotations

import re

import psycopg

from loadstar.errors import (
    BadFileError,
    LedgerError,
    LoadstarError,
    TableBusyError,
    TableError,
    TransientError,
)
from loadstar.shape.table import TableInfo

TRANSIENT_CLASSES = ("08",)  # connection exception
TRANSIENT_STATES = frozenset(
    {
        "57P01",  # admin_shutdown (pg_terminate_backend, a restart)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, recovering)
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "53300",  # too_many_connections
    }
)
LOCK_NOT_AVAILABLE = "55P03"
STATEMENT_TIMEOUT = "57014"
DATA_CLASSES = ("22", "23", "21", "44", "P0")  # data, integrity, cardinality, check option, raise

# What to do about a table-scoped error, by SQLSTATE (then by class).
_HINTS = {
    "42501": "grant the loader role the privileges in docs/deploying/iam.md",
    "25006": "the warehouse is read-only (a standby, or default_transaction_read_only): "
    "point loadstar at the primary",
    "57014": "a statement ran past statement_timeout: raise the role's statement_timeout, "
    "or load smaller files",
    "53100": "the warehouse's disk is full: free space on the server",
    "53200": "the warehouse ran out of memory: check the server",
    "42P01": "the table is missing: create it, or fix the catalogue",
    "42703": "a column is missing: add it to the table, or fix the catalogue",
    "42883": "a function the table uses (a trigger, a default) is missing: check the table",
}
_CLASS_HINTS = {
    "42": "the table differs from what loading it needs: check the table and the catalogue",
    "53": "the warehouse is out of a resource: check the server",
    "58": "the warehouse's server failed (I/O): check its log",
    "XX": "the warehouse reported an internal error: check its log",
}
_DEFAULT_HINT = "check the warehouse's log for this SQLSTATE"

# COPY reports where a value failed in its context line: the row (COPY's line,
# one COPY per file), the column, and in text formats the value.
_COPY_CONTEXT = re.compile(
    r"COPY [^,]+, line (?P<row>\d+), column (?P<column>[^:\n]+?)(?:: (?P<value>.*))?$",
    re.MULTILINE,
)
STAGE_NAME = "loadstar_stage"
"""The staging table's name, which no message may show: it means nothing to anyone."""


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


def hint_for(sqlstate: str | None) -> str:
    """What an operator can do about a table-scoped error with this SQLSTATE."""
    state = sqlstate or ""
    return _HINTS.get(state) or _CLASS_HINTS.get(state[:2], _DEFAULT_HINT)


def classify(exc: psycopg.Error, *, table: TableInfo | None = None) -> LoadstarError:
    """The loadstar error for a driver error raised while loading into ``table``."""
    state = exc.sqlstate
    if is_transient(exc):
        return TransientError(f"warehouse connection problem: {_describe(exc)}", sqlstate=state)
    name = table.qualified_name if table else None
    if state == LOCK_NOT_AVAILABLE:
        return TableBusyError(
            f"table {name or 'of the load'} is locked by another session past the lock timeout",
            table=name,
            hint="the next run tries again; `SELECT * FROM pg_locks` shows who holds it",
            sqlstate=state,
        )
    if (state or "").startswith(DATA_CLASSES):
        return BadFileError(
            f"the warehouse rejected the rows: {_describe(exc, table)}",
            table=name,
            column=_column(exc, table),
            sqlstate=state,
        )
    where = f"table {name}: " if name else ""
    return TableError(
        f"{where}the warehouse refused the load ({state or 'no SQLSTATE'}): "
        f"{_describe(exc, table)}",
        table=name,
        hint=hint_for(state),
        sqlstate=state,
    )


def classify_ledger(exc: psycopg.Error, schema: str) -> LoadstarError:
    """The loadstar error for a driver error in the ledger: every table needs it."""
    if is_transient(exc):
        return TransientError(
            f"warehouse connection problem: {_describe(exc)}", sqlstate=exc.sqlstate
        )
    state = exc.sqlstate or "no SQLSTATE"
    return LedgerError(
        f"the ledger in schema {schema!r} refused a statement ({state}): {_describe(exc)}",
        hint=hint_for(exc.sqlstate),
        sqlstate=exc.sqlstate,
    )


def _describe(exc: psycopg.Error, table: TableInfo | None = None) -> str:
    diag = exc.diag
    text = diag.message_primary or str(exc).strip().splitlines()[0]
    if diag.message_detail:
        text += f" ({diag.message_detail})"
    found = _COPY_CONTEXT.search(diag.context or "")
    if found:
        text += f" at row {found['row']}"
        if found["value"]:
            text += f" (value {found['value']})"
    return text.replace(STAGE_NAME, table.qualified_name if table else "the table")


def _column(exc: psycopg.Error, table: TableInfo | None) -> str | None:
    diag = exc.diag
    if diag.column_name:
        return diag.column_name
    constraint = diag.constraint_name
    if table is not None and constraint is not None and constraint in table.foreign_keys:
        return ", ".join(table.foreign_keys[constraint].columns)
    found = _COPY_CONTEXT.search(diag.context or "")
    return found["column"] if found else None
