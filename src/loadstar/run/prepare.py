"""Getting a table ready to load: the one way every command finds what a run would do.

Known files from the ledger, the table's listing, the pending selection, and
(when anything is to load) the table as the warehouse describes it, checked
against the catalogue. Runs, ``plan``, ``status`` and ``replay`` all start
here, so what ``plan`` shows is what ``run`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from loadstar.config import TableSpec
from loadstar.errors import ClaimConflictError, TableError
from loadstar.run.pending import Pending, pending_files
from loadstar.shape.mapping import check_table
from loadstar.shape.table import TableInfo
from loadstar.source.claims import KeyRule, looks_like_data
from loadstar.source.discovery import is_stamped
from loadstar.source.s3 import list_objects
from loadstar.warehouse import Known, Warehouse

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def held_back_reason(failed_key: str) -> str:
    """Why a dimension file waits: an earlier one failed, and must load (or be skipped) first."""
    return f"held back: earlier file {failed_key!r} failed"


@dataclass(frozen=True)
class PreparedTable:
    spec: TableSpec
    known: Known
    pending: Pending
    table: TableInfo | None = None
    """The warehouse's description, checked; None when nothing is to load, or on ``problem``."""
    problem: TableError | None = None
    """Why none of the table's files can load now (the table missing, a catalogue mismatch)."""
    unclaimed: tuple[tuple[str, str], ...] = ()
    """Keys under the table's listing that look like data but no table claims, and why."""

    @property
    def claimed(self) -> int:
        """How many of the listed keys are the table's files, loaded or not."""
        return len(self.pending.listed) - len(self.pending.not_claimed)


def describe_for_loading(warehouse: Warehouse, spec: TableSpec) -> TableInfo:
    """The table as the warehouse has it, checked against the catalogue; `TableError` if unfit."""
    table = warehouse.describe(spec.name)
    check_table(spec, table)
    return table


def prepare_table(
    warehouse: Warehouse,
    s3: S3Client,
    bucket: str,
    spec: TableSpec,
    catalogue: Sequence[TableSpec] = (),
) -> PreparedTable:
    """What a run would do with the table now.

    A problem of the table itself is returned, not raised, so that callers
    can still show the files waiting behind it; any other error is raised.
    The other tables of the ``catalogue`` decide which unclaimed keys are
    nobody's, and a key two tables claim is a problem of both.
    """
    rule = KeyRule.of(spec)
    others = [(t.name, KeyRule.of(t)) for t in catalogue if t.name != spec.name]
    known = warehouse.known_files(bucket, spec.name, partial(is_stamped, rule))
    listing = list_objects(s3, bucket, rule.listing_prefix)
    pending = pending_files(spec.kind, rule, listing, known)
    nobodys = tuple(
        (key, rule.why_not(key))
        for key in pending.not_claimed
        if looks_like_data(key) and not any(other.claim(key) for _, other in others)
    )
    conflict = _conflict(spec, rule, pending, others)
    if conflict is not None:
        return PreparedTable(spec, known, pending, problem=conflict, unclaimed=nobodys)
    if not pending.to_load:
        return PreparedTable(spec, known, pending, unclaimed=nobodys)
    try:
        table = describe_for_loading(warehouse, spec)
    except TableError as exc:
        return PreparedTable(spec, known, pending, problem=exc, unclaimed=nobodys)
    return PreparedTable(spec, known, pending, table=table, unclaimed=nobodys)


def _conflict(
    spec: TableSpec, rule: KeyRule, pending: Pending, others: Sequence[tuple[str, KeyRule]]
) -> ClaimConflictError | None:
    """A file this table would load that another table's rule claims too."""
    for file in pending.to_load:
        for name, other in others:
            if other.claim(file.key):
                return ClaimConflictError(
                    f"key {file.key!r} is claimed by both {spec.name} ({rule.describe}) "
                    f"and {name} ({other.describe})",
                    table=spec.name,
                    hint="a key may belong to one table: give each table its own prefix "
                    "(a folder ends in '/') or pattern",
                )
    return None
