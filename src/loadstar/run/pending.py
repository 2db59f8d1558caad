"""Which of a table's files a run must load, given what the ledger already holds.

A run's own cost must not grow with history: a table may have tens of
thousands of loaded files. A key the ledger holds as loaded, with the same
ETag, costs one dictionary lookup here; only the others are parsed.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from loadstar.config import TableKind
from loadstar.source.claims import KeyRule
from loadstar.source.discovery import SourceFile, source_file
from loadstar.source.s3 import normalise_etag
from loadstar.warehouse import Known, Status

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectTypeDef

_SETTLED = (Status.SKIPPED, Status.OUT_OF_ORDER)

OUT_OF_ORDER = (
    "out of order: older than a file of this table already applied, so its rows were "
    "not applied (keys only it carries are missing)"
)


def changed_reason(file: SourceFile, loaded_etag: str) -> str:
    return (
        f"changed after it was loaded: ETag {loaded_etag} is now {file.etag}; "
        "the warehouse holds the first version's rows"
    )


@dataclass
class Pending:
    to_load: list[SourceFile] = field(default_factory=list)
    """Not yet loaded (new, or failed before), oldest first."""
    changed: list[tuple[SourceFile, str]] = field(default_factory=list)
    """Loaded before, but the object's ETag is no longer the one loaded (given)."""
    out_of_order: list[SourceFile] = field(default_factory=list)
    """Dimension files older than one already applied; never applied over newer values."""
    listed: set[str] = field(default_factory=set)
    """Every key the listing held, the table's or not."""
    not_claimed: list[str] = field(default_factory=list)
    """Keys of the listing the table's rule does not claim (another table's, or nobody's)."""

    @property
    def waiting(self) -> dict[str, datetime]:
        """Each file to load and its instant."""
        return {f.key: f.instant for f in self.to_load}

    @property
    def reported(self) -> list[tuple[SourceFile, str]]:
        """The files a run reports instead of loading, and why."""
        return [(file, reason) for file, reason, _ in self.attention]

    @property
    def attention(self) -> list[tuple[SourceFile, str, str]]:
        """The files an operator must decide about: why, and the command that resolves it."""
        found = [
            (file, changed_reason(file, etag), f"loadstar replay {shlex.quote(file.key)}")
            for file, etag in self.changed
        ]
        return found + [
            (file, OUT_OF_ORDER, f"loadstar replay --force {shlex.quote(file.key)}")
            for file in self.out_of_order
        ]


def pending_files(
    kind: TableKind, rule: KeyRule, listing: Iterable[ObjectTypeDef], known: Known
) -> Pending:
    result = Pending()
    for listed in listing:
        result.listed.add(listed["Key"])
        seen = known.files.get(listed["Key"])
        if seen is not None:
            etag, status = seen
            if status == Status.LOADED:
                if etag != normalise_etag(listed["ETag"]) and (file := source_file(rule, listed)):
                    result.changed.append((file, etag))
                continue
            if status in _SETTLED:
                continue
        file = source_file(rule, listed)
        if file is None:
            result.not_claimed.append(listed["Key"])
            continue
        # Only a stamped file can be older than another: one ordered by its
        # LastModified is loaded when it is found.
        if (
            kind == "dimension"
            and file.stamped
            and known.applied is not None
            and file.order < known.applied
        ):
            result.out_of_order.append(file)
        else:
            result.to_load.append(file)
    result.to_load.sort(key=lambda f: f.order)
    result.out_of_order.sort(key=lambda f: f.order)
    result.changed.sort(key=lambda c: c[0].order)
    return result
