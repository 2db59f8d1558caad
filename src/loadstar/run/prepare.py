"""Getting a table ready to load: the one way every command finds what a run would do.

Known files from the ledger, the table's listing, the pending selection, and
(when anything is to load) the table as the warehouse describes it, checked
against the catalogue. Runs, ``plan``, ``status`` and ``replay`` all start
here, so what ``plan`` shows is what ``run`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from loadstar.config import TableSpec
from loadstar.errors import TableError
from loadstar.run.pending import Pending, pending_files
from loadstar.shape.mapping import check_table
from loadstar.shape.table import TableInfo
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


def describe_for_loading(warehouse: Warehouse, spec: TableSpec) -> TableInfo:
    """The table as the warehouse has it, checked against the catalogue; `TableError` if unfit."""
    table = warehouse.describe(spec.name)
    check_table(spec, table)
    return table


def prepare_table(
    warehouse: Warehouse, s3: S3Client, bucket: str, spec: TableSpec
) -> PreparedTable:
    """What a run would do with the table now.

    A problem of the table itself is returned, not raised, so that callers
    can still show the files waiting behind it; any other error is raised.
    """
    known = warehouse.known_files(bucket, spec.name, partial(is_stamped, spec.prefix))
    listing = list_objects(s3, bucket, spec.prefix)
    pending = pending_files(spec.kind, spec.prefix, listing, known)
    if not pending.to_load:
        return PreparedTable(spec, known, pending)
    try:
        table = describe_for_loading(warehouse, spec)
    except TableError as exc:
        return PreparedTable(spec, known, pending, problem=exc)
    return PreparedTable(spec, known, pending, table=table)
