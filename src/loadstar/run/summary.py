"""What a run did, table by table, as plain JSON-able data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from loadstar.source.discovery import SourceFile

RunStatus = Literal["loaded", "partial", "failed", "skipped"]


@dataclass
class FileOutcome:
    table: str
    key: str
    status: Literal["loaded", "failed", "already_loaded", "vanished"]
    etag: str | None = None
    instant: datetime | None = None
    """The instant the file's key carries (or its LastModified)."""
    rows_in: int = 0
    rows_written: int = 0
    size_bytes: int = 0
    seconds: float = 0.0
    reason: str | None = None
    encoding: str | None = None
    foreign_keys: str | None = None
    unavailable: bool = False
    """S3 kept failing through every retry: the rest of the run would fail alike."""
    transient: bool = False
    """Failed for a reason that may pass (a lost connection, S3 failing): worth another try."""
    refreshed: SourceFile | None = None
    """The file as the bucket holds it now, when it changed while being read."""


@dataclass
class TableSummary:
    files_loaded: int = 0
    rows_in: int = 0
    rows_written: int = 0
    loaded: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    error: str | None = None
    newest_loaded: datetime | None = None
    """Instant of the newest file of the table ever loaded; None when none is, or not known."""
    waiting: dict[str, datetime] | None = None
    """Each file still to load (failed ones too) and its instant; None when not listed."""

    def listed(self, newest_loaded: datetime | None, to_load: dict[str, datetime]) -> None:
        """What the listing found: the freshness metrics start from here."""
        self.newest_loaded, self.waiting = newest_loaded, dict(to_load)

    def add(self, outcome: FileOutcome) -> None:
        if outcome.status != "failed" and self.waiting is not None:
            self.waiting.pop(outcome.key, None)
        if (
            outcome.status in ("loaded", "already_loaded")
            and outcome.instant is not None
            and (self.newest_loaded is None or outcome.instant > self.newest_loaded)
        ):
            self.newest_loaded = outcome.instant
        if outcome.status == "loaded":
            self.files_loaded += 1
            self.rows_in += outcome.rows_in
            self.rows_written += outcome.rows_written
            self.loaded.append(outcome.key)
        elif outcome.status == "failed":
            self.failed.append({"key": outcome.key, "reason": outcome.reason or "unknown"})
        elif outcome.status == "vanished":
            self.skip(outcome.key, outcome.reason or "deleted after it was listed")

    def skip(self, key: str, reason: str) -> None:
        self.skipped.append({"key": key, "reason": reason})


@dataclass
class RunSummary:
    run_id: str
    bucket: str
    tables: dict[str, TableSummary] = field(default_factory=dict)
    skipped_reason: str | None = None
    stopped_early: bool = False
    stopped_reason: str | None = None
    not_reached: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def table(self, name: str) -> TableSummary:
        return self.tables.setdefault(name, TableSummary())

    @property
    def failed(self) -> bool:
        return any(t.failed or t.error for t in self.tables.values())

    @property
    def status(self) -> RunStatus:
        if self.skipped_reason:
            return "skipped"
        if self.failed:
            return "failed"
        if self.stopped_early:
            return "partial"
        return "loaded"

    def to_dict(self) -> dict[str, Any]:
        tables = {
            name: {
                "files_loaded": t.files_loaded,
                "rows_in": t.rows_in,
                "rows_written": t.rows_written,
                "loaded": list(t.loaded),
                "failed": list(t.failed),
                "skipped": list(t.skipped),
                "pending": list(t.pending),
                **({"error": t.error} if t.error else {}),
            }
            for name, t in self.tables.items()
        }
        result: dict[str, Any] = {
            "run_id": self.run_id,
            "status": self.status,
            "bucket": self.bucket,
            "files_loaded": sum(t.files_loaded for t in self.tables.values()),
            "rows_written": sum(t.rows_written for t in self.tables.values()),
            "files_failed": sum(len(t.failed) for t in self.tables.values()),
            "files_pending": sum(len(t.pending) for t in self.tables.values()),
            "seconds": round(self.seconds, 3),
            "tables": tables,
        }
        if self.skipped_reason:
            result["reason"] = self.skipped_reason
        if self.stopped_early:
            result["stopped_early"] = (
                self.stopped_reason or "time budget: the rest is pending for the next run"
            )
            result["tables_not_reached"] = list(self.not_reached)
        return result
