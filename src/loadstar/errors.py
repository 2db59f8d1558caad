"""loadstar's exceptions: one root, and a class per way a load can fail.

What a failure *is* decides what happens next: a `BadFileError` is terminal for
that file (recorded as failed, retried only on a later run), a
`TransientError` may succeed if simply tried again, a `ConfigError` needs an
operator. Driver exceptions are mapped to these in one place,
`loadstar.warehouse.errors`.
"""

from __future__ import annotations

from typing import Any


class LoadstarError(Exception):
    """Root of every error loadstar raises on purpose."""


class ConfigError(LoadstarError):
    """The settings or the table catalogue are wrong; nothing can load until fixed."""


class RefusedError(LoadstarError):
    """An operator's request that would break a guarantee (replay, skip); nothing was done."""


class ConnectionFailedError(LoadstarError):
    """The warehouse could not be reached or refused the credentials."""


class TransientError(LoadstarError):
    """A failure that may pass if the same work is tried again (network, restarts)."""


class BadFileError(LoadstarError):
    """A file cannot be loaded as it is: corrupt, wrong columns, values that do not fit.

    Terminal for the file: nothing of it is loaded, and retrying within the run
    would fail the same way.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        table: str | None = None,
        column: str | None = None,
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
        super().__init__(f"{', '.join(where)}: {message}" if where else message)

    def located(self, *, key: str | None = None, table: str | None = None) -> BadFileError:
        """The same error with the file and table filled in where they were unknown."""
        return BadFileError(
            self.detail,
            key=self.key if self.key is not None else key,
            table=self.table if self.table is not None else table,
            column=self.column,
        )


class ServiceUnavailableError(TransientError):
    """S3 kept failing (throttling, 5xx) through boto3's own retries: not worth more now."""


class FileChangedError(TransientError):
    """The object's bytes changed between listing and reading (its ETag moved)."""


class StopRun(LoadstarError):
    """The run cannot usefully go on; what is left waits for the next run."""


class LockLostError(StopRun):
    """The connection was lost, and another run took the run lock meanwhile."""


class LoadFailedError(LoadstarError):
    """A run finished with at least one failed file; carries the run's summary.

    Raised by `lambda_handler` after the summary is logged, so Lambda counts the
    invocation as an error and alarms fire.
    """

    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary
        failures = [
            f"{f['key']}: {f['reason']}"
            for table in summary.get("tables", {}).values()
            for f in table.get("failed", [])
        ]
        failures += [
            f"{name}: {table['error']}"
            for name, table in summary.get("tables", {}).items()
            if table.get("error")
        ]
        shown = "; ".join(failures[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} load failure(s): {shown}{more}")
