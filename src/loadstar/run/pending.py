"""Which of a table's files a run must load, given what the ledger already holds.

A run's own cost must not grow with history: the ledger is asked only about
the keys a listing returned, and a key it holds as loaded with the same ETag
costs one dictionary lookup here. Files load in any order: dimension rows
converge per key to the newest file (`loadstar.warehouse.versions`), so no
file waits behind another.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from loadstar.source.claims import KeyRule
from loadstar.source.discovery import SourceFile, source_file
from loadstar.source.s3 import normalise_etag
from loadstar.warehouse import Known, Status

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectTypeDef

# A file an older loadstar held back as out of order loads now: its rows
# converge per key, so it can no longer put older values over newer ones.
_SETTLED = (Status.SKIPPED,)


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
    listed: set[str] = field(default_factory=set)
    """Every key the listing held, the table's or not."""
    not_claimed: list[str] = field(default_factory=list)
    """Keys of the listing the table's rule does not claim (another table's, or nobody's)."""
    settled: set[str] = field(default_factory=set)
    """Claimed keys the ledger holds as done with (loaded, skipped)."""

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
        return [
            (file, changed_reason(file, etag), f"loadstar replay {shlex.quote(file.key)}")
            for file, etag in self.changed
        ]


def pending_files(rule: KeyRule, listing: Iterable[ObjectTypeDef], known: Known) -> Pending:
    """Sort a listing into what to load, what changed, and what is not the table's."""
    result = Pending()
    for listed in listing:
        key = listed["Key"]
        result.listed.add(key)
        seen = known.files.get(key)
        if seen is not None:
            etag, status = seen
            if status == Status.LOADED:
                result.settled.add(key)
                if etag != normalise_etag(listed["ETag"]) and (file := source_file(rule, listed)):
                    result.changed.append((file, etag))
                continue
            if status in _SETTLED:
                result.settled.add(key)
                continue
        file = source_file(rule, listed)
        if file is None:
            result.not_claimed.append(key)
            continue
        result.to_load.append(file)
    result.to_load.sort(key=lambda f: f.order)
    result.changed.sort(key=lambda c: c[0].order)
    return result
