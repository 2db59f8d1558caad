"""What a run did, table by table, as plain JSON-able data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from loadstar.errors import LoadstarError, StopRun, TableBusyError
from loadstar.source.discovery import SourceFile

RunStatus = Literal["loaded", "partial", "failed"]


def new_run_id() -> str:
    """The id every line, ledger row and metric of one run or operator action carries."""
    return uuid.uuid4().hex[:12]


def error_fields(exc: BaseException) -> dict[str, Any]:
    """An exception as data: its type, message and cause (SQLSTATE or S3 code)."""
    fields: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, LoadstarError):
        fields["scope"] = exc.scope
        fields.update(exc.cause_fields)
    if isinstance(exc, LoadstarError) and exc.hint:
        fields["hint"] = exc.hint
    return fields


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
    cause: dict[str, str] = field(default_factory=dict)
    """The failure's ``sqlstate`` or ``s3_code``, when it has one."""
    encoding: str | None = None
    foreign_keys: str | None = None
    transient: bool = False
    """Failed for a reason that may pass (a lost connection, a deadlock): worth another try."""
    refreshed: SourceFile | None = None
    """The file as the bucket holds it now, when it changed while being read."""
    lag_seconds: float | None = None
    """From the file landing in the bucket (its LastModified) to its rows committed."""


@dataclass
class TableSummary:
    files_loaded: int = 0
    rows_in: int = 0
    rows_written: int = 0
    loaded: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    attention: list[dict[str, str]] = field(default_factory=list)
    """Files an operator must decide about (changed after loading)."""
    error: dict[str, Any] | None = None
    """Why the table stopped (its type, message, hint and cause), when it did."""
    busy: str | None = None
    """Why the table waits for the next run (another session's lock), when it does."""
    lags: list[float] = field(default_factory=list)
    """Each loaded file's ingest lag: landing to committed, in seconds."""
    claimed: int = 0
    """How many keys of its listing are the table's files, loaded or not."""
    reads_files: bool = False
    """Whether the table's rule has ever found a file: claimed keys now, files loaded
    before, or a watermark to list from (a listing of only what is new claims none)."""
    settled: set[str] = field(default_factory=set)
    """Keys this run is done with: loaded, already loaded, skipped or gone."""
    unclaimed: list[dict[str, str]] = field(default_factory=list)
    """Keys under its listing that look like data and no table claims (a few), and why."""
    newest_loaded: datetime | None = None
    """Instant of the newest file of the table ever loaded; None when none is, or not known."""
    waiting: dict[str, datetime] | None = None
    """Each file still to load (failed ones too) and its instant; None when not listed."""

    def listed(self, newest_loaded: datetime | None, to_load: dict[str, datetime]) -> None:
        """What the listing found: the freshness metrics start from here."""
        self.newest_loaded, self.waiting = newest_loaded, dict(to_load)

    def add(self, outcome: FileOutcome) -> None:
        if outcome.status != "failed":
            self.settled.add(outcome.key)
            if self.waiting is not None:
                self.waiting.pop(outcome.key, None)
        if (
            outcome.status in ("loaded", "already_loaded")
            and outcome.instant is not None
            and (self.newest_loaded is None or outcome.instant > self.newest_loaded)
        ):
            self.newest_loaded = outcome.instant
        if outcome.status == "loaded":
            if outcome.lag_seconds is not None:
                self.lags.append(outcome.lag_seconds)
            self.files_loaded += 1
            self.rows_in += outcome.rows_in
            self.rows_written += outcome.rows_written
            self.loaded.append(outcome.key)
        elif outcome.status == "failed":
            self.failed.append({"key": outcome.key, "reason": outcome.reason or "unknown"})
        elif outcome.status == "vanished":
            self.skip(outcome.key, outcome.reason or "")

    def skip(self, key: str, reason: str) -> None:
        self.skipped.append({"key": key, "reason": reason})
        self.settled.add(key)

    def stop(self, exc: BaseException) -> None:
        """The table cannot load now: say why; its files wait, none blamed."""
        if isinstance(exc, TableBusyError):
            self.busy = str(exc)
        else:
            self.error = error_fields(exc)


@dataclass
class RunSummary:
    run_id: str
    bucket: str
    tables: dict[str, TableSummary] = field(default_factory=dict)
    stopped_early: bool = False
    stopped_reason: str | None = None
    error: dict[str, Any] | None = None
    """What stopped the run as a failure (a run-scoped error), when something did."""
    exception: BaseException | None = field(default=None, repr=False)
    """The exception behind ``error``, for a caller that raises it on."""
    unclaimed: dict[str, Any] | None = None
    """When no table claimed a key: what the bucket holds instead (count, examples)."""
    unowned: list[str] = field(default_factory=list)
    """Files events named that no table claims: nothing to load, and said so."""

    not_reached: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def settled(self, key: str) -> bool:
        """Whether this run is done with ``key``: loaded, skipped, gone or nobody's."""
        return key in self.unowned or any(key in t.settled for t in self.tables.values())

    def table(self, name: str) -> TableSummary:
        return self.tables.setdefault(name, TableSummary())

    def stop(self, exc: BaseException) -> None:
        """Nothing more can be done in this run; the tables left wait for the next."""
        self.stopped_early = True
        self.stopped_reason = str(exc)
        if not isinstance(exc, StopRun) or exc.failed:
            self.error = error_fields(exc)
            self.exception = exc

    @property
    def failed(self) -> bool:
        return self.error is not None or any(t.failed or t.error for t in self.tables.values())

    @property
    def status(self) -> RunStatus:
        if self.failed:
            return "failed"
        if self.stopped_early or self.busy:
            return "partial"
        return "loaded"

    @property
    def attention(self) -> list[dict[str, str]]:
        """Every file an operator must decide about, with its table and the command."""
        return [{"table": name, **item} for name, t in self.tables.items() for item in t.attention]

    @property
    def busy(self) -> list[str]:
        """The tables another session's lock kept from loading."""
        return [name for name, t in self.tables.items() if t.busy]

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
                **({"error": t.error["message"], "error_detail": dict(t.error)} if t.error else {}),
                **({"busy": t.busy} if t.busy else {}),
                **({"attention": list(t.attention)} if t.attention else {}),
                **({"unclaimed": list(t.unclaimed)} if t.unclaimed else {}),
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
            "needs_attention": self.attention,
            "seconds": round(self.seconds, 3),
            "tables": tables,
        }
        if self.error:
            result["error"] = dict(self.error)
        if self.unclaimed:
            result["unclaimed"] = dict(self.unclaimed)
        if self.unowned:
            result["unowned"] = list(self.unowned)
        if self.stopped_early:
            result["stopped_early"] = (
                self.stopped_reason or "time budget: the rest is pending for the next run"
            )
            result["tables_not_reached"] = list(self.not_reached)
        return result
