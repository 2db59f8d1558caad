"""Where each table stands: the ledger's totals beside what waits in the bucket.

Read-only: nothing here takes the run lock or writes to the ledger, the
warehouse or the bucket, so it is safe to run beside a load.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg

from loadstar.config import Settings, TableSpec
from loadstar.errors import LoadstarError
from loadstar.run.pending import Pending, pending_files
from loadstar.source.discovery import SourceFile
from loadstar.source.s3 import list_objects
from loadstar.warehouse import ledger
from loadstar.warehouse.connection import Connection, open_connection

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_NOTHING = ledger.Known(files={}, applied=None)


@dataclass
class TableStatus:
    table: str
    kind: str
    files_loaded: int = 0
    rows_written: int = 0
    newest_key: str | None = None
    newest_instant: datetime | None = None
    pending: list[SourceFile] = field(default_factory=list)
    """Files the next run would try, oldest first; failed ones included."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0
    reported: list[tuple[str, str]] = field(default_factory=list)
    """(key, reason) of files the next run would report rather than load."""
    error: str | None = None

    def oldest_pending_age(self, now: datetime) -> float | None:
        if not self.pending:
            return None
        return max(0.0, (now - self.pending[0].instant).total_seconds())

    def to_dict(self, now: datetime) -> dict[str, Any]:
        age = self.oldest_pending_age(now)
        return {
            "table": self.table,
            "kind": self.kind,
            "files_loaded": self.files_loaded,
            "rows": self.rows_written,
            "newest_loaded_key": self.newest_key,
            "newest_loaded_at": (
                self.newest_instant.astimezone(UTC).isoformat() if self.newest_instant else None
            ),
            "pending": len(self.pending),
            "oldest_pending_age_seconds": None if age is None else round(age),
            "failed": [{"key": k, "reason": r} for k, r in self.failed],
            "skipped": self.skipped,
            "reported": [{"key": k, "reason": r} for k, r in self.reported],
            **({"error": self.error} if self.error else {}),
        }


@contextmanager
def read_only(settings: Settings) -> Iterator[Connection]:
    """A warehouse connection that cannot write, even by mistake."""
    with closing(open_connection(settings)) as conn:
        # The connection is in autocommit, where psycopg's read_only does not
        # apply; the server-side default covers every statement.
        conn.execute("SET default_transaction_read_only = on")
        yield conn


def known(conn: Connection, settings: Settings, bucket: str, spec: TableSpec) -> ledger.Known:
    if not ledger.exists(conn, settings.ledger_schema):
        return _NOTHING
    return ledger.known_files(conn, settings.ledger_schema, bucket, spec.name)


def pending(
    conn: Connection, s3: S3Client, settings: Settings, bucket: str, spec: TableSpec
) -> Pending:
    """What the next run would find for the table."""
    listing = list_objects(s3, bucket, spec.prefix)
    return pending_files(spec.kind, spec.prefix, listing, known(conn, settings, bucket, spec))


def table_status(
    conn: Connection, s3: S3Client, settings: Settings, bucket: str, spec: TableSpec
) -> TableStatus:
    """Where one table stands; a table that cannot be read says why in ``error``."""
    status = TableStatus(table=spec.name, kind=spec.kind)
    try:
        known_files = _NOTHING
        if ledger.exists(conn, settings.ledger_schema):
            totals = ledger.totals(conn, settings.ledger_schema, bucket, spec.name)
            status.files_loaded, status.rows_written = totals.files_loaded, totals.rows_written
            status.newest_key, status.newest_instant = totals.newest_key, totals.newest_instant
            status.failed, status.skipped = totals.failed, totals.skipped
            known_files = ledger.known_files(conn, settings.ledger_schema, bucket, spec.name)
        listing = list_objects(s3, bucket, spec.prefix)
        todo = pending_files(spec.kind, spec.prefix, listing, known_files)
    except (LoadstarError, psycopg.Error) as exc:
        status.error = str(exc)
        return status
    status.pending = todo.to_load
    status.reported = [(file.key, reason) for file, reason in todo.reported]
    return status
