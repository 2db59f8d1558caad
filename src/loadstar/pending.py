"""Which of a table's files a run must load, given what the ledger already holds.

A run's own cost must not grow with history: a table may have tens of
thousands of loaded files. A key the ledger holds as loaded, with the same
ETag, costs one dictionary lookup here; only the others are parsed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loadstar.config import TableKind
from loadstar.discovery import SourceFile, source_file
from loadstar.ledger import Known, Status
from loadstar.s3 import normalise_etag

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectTypeDef

_SETTLED = (Status.SKIPPED, Status.OUT_OF_ORDER)


@dataclass
class Pending:
    to_load: list[SourceFile] = field(default_factory=list)
    """Not yet loaded (new, or failed before), oldest first."""
    changed: list[tuple[SourceFile, str]] = field(default_factory=list)
    """Loaded before, but the object's ETag is no longer the one loaded (given)."""
    out_of_order: list[SourceFile] = field(default_factory=list)
    """Dimension files older than one already applied; never applied over newer values."""


def pending_files(
    kind: TableKind, prefix: str, listing: Iterable[ObjectTypeDef], known: Known
) -> Pending:
    result = Pending()
    for listed in listing:
        seen = known.files.get(listed["Key"])
        if seen is not None:
            etag, status = seen
            if status == Status.LOADED:
                if etag != normalise_etag(listed["ETag"]) and (file := source_file(prefix, listed)):
                    result.changed.append((file, etag))
                continue
            if status in _SETTLED:
                continue
        file = source_file(prefix, listed)
        if file is None:
            continue
        if kind == "dimension" and known.applied is not None and file.order < known.applied:
            result.out_of_order.append(file)
        else:
            result.to_load.append(file)
    result.to_load.sort(key=lambda f: f.order)
    result.out_of_order.sort(key=lambda f: f.order)
    result.changed.sort(key=lambda c: c[0].order)
    return result
