"""loadstar's exceptions: one root, and a scope for every failure.

A failure is handled at the level of what can fix it:

- ``file``: only this file is wrong (corrupt, a value that does not fit, a
  foreign key that misses). It is recorded as failed, the other files go on,
  and a later run tries it again.
- ``table``: no file of this table can load until someone changes the
  warehouse or the catalogue (a privilege, a missing column, a full disk). The
  table stops, no file is blamed, the other tables go on.
- ``run``: nothing more can be done now (the warehouse unreachable, S3
  credentials refused, the lock lost). The run stops and reports itself.

Every error keeps the cause it came from as data: ``sqlstate`` for the
warehouse's errors, ``s3_code`` for S3's, so log lines and metrics can carry
them. Driver exceptions become these in one place per adapter
(`loadstar.warehouse.errors`, `loadstar.source.s3`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

Scope = Literal["file", "table", "run"]


class LoadstarError(Exception):
    """Root of every error loadstar raises on purpose."""

    scope: ClassVar[Scope] = "run"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        sqlstate: str | None = None,
        s3_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.hint = hint
        """What to do about it, when loadstar knows."""
        self.sqlstate = sqlstate
        self.s3_code = s3_code

    @property
    def cause_fields(self) -> dict[str, str]:
        """The cause as log-line fields: ``sqlstate`` or ``s3_code`` when known."""
        found = {"sqlstate": self.sqlstate, "s3_code": self.s3_code}
        return {name: value for name, value in found.items() if value}


# -- run scope ------------------------------------------------------------------------------


class ConfigError(LoadstarError):
    """The settings or the table catalogue are wrong; nothing can load until fixed."""


class ConnectionFailedError(LoadstarError):
    """The warehouse could not be reached or refused the credentials."""


class StopRun(LoadstarError):
    """The run cannot usefully go on; what is left waits for the next run."""

    failed: ClassVar[bool] = True
    """Whether stopping is a failure (alarms) or only a hand-over to another run."""


class LockLostError(StopRun):
    """The connection was lost, and another run took the table's lock meanwhile.

    Not a failure: the other run carries on with what this one leaves.
    """

    failed: ClassVar[bool] = False


class LedgerError(StopRun):
    """The ledger refused a statement (a privilege, a read-only server): every table needs it."""


class AccessDeniedError(StopRun):
    """S3 refused the credentials or the role (expired token, access denied)."""


class OutOfTimeError(StopRun):
    """The time budget ran out in the middle of a file; it waits for the next run.

    Not a failure: the file is rolled back whole and loads next time.
    """

    failed: ClassVar[bool] = False


class ServiceUnavailableError(StopRun):
    """S3 kept failing (throttling, 5xx) through boto3's own retries: not worth more now."""


class NothingClaimedError(StopRun):
    """The bucket holds Parquet files and no table of the catalogue claims one of them."""


class RefusedError(LoadstarError):
    """An operator's request that would break a guarantee (replay, skip); nothing was done."""


# -- table scope ----------------------------------------------------------------------------


class TableError(LoadstarError):
    """No file of this table can load until the warehouse or the catalogue changes.

    Permission denied, the table or a column missing, a disk full: the files
    are innocent, so none is marked failed; the table waits for an operator.
    """

    scope: ClassVar[Scope] = "table"

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        hint: str | None = None,
        sqlstate: str | None = None,
        s3_code: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, sqlstate=sqlstate, s3_code=s3_code)
        self.table = table


class MissingTableError(TableError):
    """A catalogued table the warehouse does not have: its set-up, not its files."""


class ClaimConflictError(TableError):
    """Two tables' rules claim one key: the catalogue must say which table it is."""


class TableBusyError(TableError):
    """Another session holds a lock on the table past the lock timeout.

    Not a failure: nothing is wrong with the table or its files; the next run
    tries again.
    """


# -- file scope -----------------------------------------------------------------------------


class TransientError(LoadstarError):
    """A failure that may pass if the same work is tried again (network, restarts)."""

    scope: ClassVar[Scope] = "file"


class FileChangedError(TransientError):
    """The object's bytes changed between listing and reading (its ETag moved)."""


class BadFileError(LoadstarError):
    """A file cannot be loaded as it is: corrupt, wrong columns, values that do not fit.

    Terminal for the file: nothing of it is loaded, and retrying within the run
    would fail the same way.
    """

    scope: ClassVar[Scope] = "file"

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        table: str | None = None,
        column: str | None = None,
        sqlstate: str | None = None,
        s3_code: str | None = None,
    ) -> None:
        self.key = key
        self.table = table
        self.column = column
        self.detail = message
        where = []
        if key is not None:
            where.append(f"file {key!r}")
        if table is not None:
            where.append(f"table {table}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(
            f"{', '.join(where)}: {message}" if where else message,
            sqlstate=sqlstate,
            s3_code=s3_code,
        )

    def located(self, *, key: str | None = None, table: str | None = None) -> BadFileError:
        """The same error with the file and table filled in where they were unknown."""
        return BadFileError(
            self.detail,
            key=self.key if self.key is not None else key,
            table=self.table if self.table is not None else table,
            column=self.column,
            sqlstate=self.sqlstate,
            s3_code=self.s3_code,
        )


# -- what a caller sees ---------------------------------------------------------------------


class LoadFailedError(LoadstarError):
    """A run finished with at least one failure; carries the run's summary.

    Raised by `lambda_handler` after the summary is logged, so Lambda counts the
    invocation as an error and alarms fire.
    """

    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary
        tables = summary.get("tables", {})
        failures = [
            f"{f['key']}: {f['reason']}"
            for table in tables.values()
            for f in table.get("failed", [])
        ]
        failures += [
            f"{name}: {table['error']}" for name, table in tables.items() if table.get("error")
        ]
        if summary.get("error"):
            failures.insert(0, f"run: {summary['error']['message']}")
        shown = "; ".join(failures[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} load failure(s): {shown}{more}")


def scope_of(exc: BaseException) -> Scope:
    """The scope of any exception: loadstar's own say; anything unforeseen is the table's.

    An exception nobody foresaw is a defect or an input nobody imagined;
    blaming the file would mark an innocent file failed, so it stops the
    table and names the file in its message.
    """
    return exc.scope if isinstance(exc, LoadstarError) else "table"
