"""Where each table stands: the ledger's totals beside what waits in the bucket.

Read-only: nothing here takes a table lock or writes to the ledger, the
warehouse or the bucket, so it is safe to run beside a load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loadstar.config import TableSpec
from loadstar.errors import LoadstarError
from loadstar.run.prepare import prepare_table
from loadstar.source.discovery import SourceFile
from loadstar.warehouse import Warehouse

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


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
    gone: list[str] = field(default_factory=list)
    """Failed files no longer in the bucket: nothing is left to load, nothing fails."""
    skipped: int = 0
    newest_skipped: tuple[str, str, datetime] | None = None
    reported: list[tuple[str, str]] = field(default_factory=list)
    """(key, reason) of files the next run would report rather than load."""
    error: str | None = None
    error_type: str | None = None
    """The error's class: a MissingTableError is the set-up's, not the files'."""
    watermark: str | None = None
    """The key runs list the table from; None when they list it in full."""
    last_full_listing: datetime | None = None

    def oldest_pending_age(self, now: datetime) -> float | None:
        if not self.pending:
            return None
        return max(0.0, (now - self.pending[0].instant).total_seconds())

    def to_dict(self, now: datetime) -> dict[str, Any]:
        age = self.oldest_pending_age(now)
        return {
            "name": self.table,
            "kind": self.kind,
            "files_loaded": self.files_loaded,
            "rows": self.rows_written,
            "newest_loaded_key": self.newest_key,
            "newest_loaded_at": self.newest_instant,
            "pending": len(self.pending),
            "oldest_pending_age_seconds": None if age is None else round(age),
            "failed": [{"key": k, "reason": r} for k, r in self.failed],
            "gone": list(self.gone),
            "skipped": self.skipped,
            "newest_skipped": (
                dict(zip(("key", "reason", "skipped_at"), self.newest_skipped, strict=True))
                if self.newest_skipped
                else None
            ),
            "reported": [{"key": k, "reason": r} for k, r in self.reported],
            "watermark": self.watermark,
            "last_full_listing": self.last_full_listing,
            **({"error": self.error, "error_type": self.error_type} if self.error else {}),
        }


def table_status(
    warehouse: Warehouse,
    s3: S3Client,
    bucket: str,
    spec: TableSpec,
    catalogue: tuple[TableSpec, ...] = (),
) -> TableStatus:
    """Where one table stands; a table that cannot be read says why in ``error``."""
    status = TableStatus(table=spec.name, kind=spec.kind)
    try:
        totals = warehouse.totals(bucket, spec.name)
        if totals is not None:
            status.files_loaded, status.rows_written = totals.files_loaded, totals.rows_written
            status.newest_key, status.newest_instant = totals.newest_key, totals.newest_instant
            status.failed, status.skipped = totals.failed, totals.skipped
            status.newest_skipped = totals.newest_skipped
        state = warehouse.listing_state(bucket, spec.name)
        status.watermark = state.watermark if state.time_ordered else None
        status.last_full_listing = state.last_full_listing
        # In full, whatever the watermark: a failed file deleted since shows as gone.
        prepared = prepare_table(warehouse, s3, bucket, spec, catalogue, full_listing=True)
    except LoadstarError as exc:
        if exc.scope == "run":
            raise
        status.error, status.error_type = str(exc), type(exc).__name__
        return status
    # A failed file deleted since is no failure any more: there is nothing to load.
    listed = prepared.pending.listed
    status.gone = [key for key, _ in status.failed if key not in listed]
    status.failed = [(key, reason) for key, reason in status.failed if key in listed]
    status.pending = prepared.pending.to_load
    status.reported = [(file.key, reason) for file, reason in prepared.pending.reported]
    if prepared.problem is not None:
        status.error = str(prepared.problem)
        status.error_type = type(prepared.problem).__name__
    return status
