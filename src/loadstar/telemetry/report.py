"""The canonical line per file: ``file_loaded``, ``file_failed`` or ``file_skipped``.

Every file a run looks at ends in exactly one of these lines, with the same
fields whichever it is, so one Logs Insights query over ``event`` and
``table`` answers "what happened to this file".
"""

from __future__ import annotations

import logging
from typing import Any

from loadstar.run.summary import FileOutcome
from loadstar.source.discovery import SourceFile
from loadstar.telemetry import logs

_SKIPPED_REASON = {
    "already_loaded": "already loaded by another run",
    "vanished": "deleted after it was listed",
}


def file_outcome(outcome: FileOutcome) -> None:
    """The line for a file the run tried to load."""
    fields: dict[str, Any] = {
        "table": outcome.table,
        "key": outcome.key,
        "etag": outcome.etag,
        "rows": outcome.rows_in,
        "rows_written": outcome.rows_written,
        "bytes": outcome.size_bytes,
        "duration_ms": round(outcome.seconds * 1000),
        "reason": None,
    }
    if outcome.status == "loaded":
        fields["copy_format"] = outcome.encoding
        fields["foreign_keys"] = outcome.foreign_keys
        if outcome.seconds > 0:
            fields["rows_per_second"] = round(outcome.rows_in / outcome.seconds)
        logs.event("file_loaded", **fields)
    elif outcome.status == "failed":
        fields["reason"] = outcome.reason
        fields["transient"] = outcome.transient
        logs.event("file_failed", logging.ERROR, **fields)
    else:
        fields["reason"] = outcome.reason or _SKIPPED_REASON[outcome.status]
        logs.event("file_skipped", logging.WARNING, **fields)


def file_skipped(table: str, file: SourceFile, reason: str) -> None:
    """The line for a file the run reports but does not try to load."""
    logs.event(
        "file_skipped",
        logging.WARNING,
        table=table,
        key=file.key,
        etag=file.etag,
        rows=0,
        rows_written=0,
        bytes=file.size,
        duration_ms=0,
        reason=reason,
    )
