"""Which of a table's files a run must load, given what the ledger already holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from loadstar.config import TableKind
from loadstar.discovery import SourceFile
from loadstar.ledger import LedgerRow, Status


@dataclass
class Pending:
    to_load: list[SourceFile] = field(default_factory=list)
    """Not yet loaded (new, or failed before), oldest first."""
    changed: list[tuple[SourceFile, LedgerRow]] = field(default_factory=list)
    """Loaded before, but the object's ETag is no longer the one loaded."""
    out_of_order: list[SourceFile] = field(default_factory=list)
    """Dimension files older than one already applied; never applied over newer values."""


def pending_files(
    kind: TableKind, files: Sequence[SourceFile], known: Mapping[str, LedgerRow]
) -> Pending:
    result = Pending()
    applied: tuple[datetime, str] | None = None
    for row in known.values():
        if row.status is Status.LOADED and (
            applied is None or (row.file_instant, row.key) > applied
        ):
            applied = (row.file_instant, row.key)

    for file in files:
        found = known.get(file.key)
        if found is not None and found.status is Status.LOADED:
            if found.etag != file.etag:
                result.changed.append((file, found))
            continue
        if found is not None and found.status in (Status.SKIPPED, Status.OUT_OF_ORDER):
            continue
        if kind == "dimension" and applied is not None and file.order < applied:
            result.out_of_order.append(file)
            continue
        result.to_load.append(file)
    return result
