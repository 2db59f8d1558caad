"""An operator's decision that a file must never load.

A skipped file stops failing every run and stops holding back the
dimension files after it. A file can be skipped before any run has tried
it, once it is in the bucket; a loaded file cannot be (its rows are in).
"""

from __future__ import annotations

from contextlib import closing
from typing import TYPE_CHECKING

from loadstar.config import Settings, TableSpec
from loadstar.errors import RefusedError
from loadstar.source.claims import KeyRule
from loadstar.source.discovery import current_file
from loadstar.warehouse import Status, Warehouse

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

OPERATOR = "operator"
"""The run id the ledger records for an operator's action."""


def skip(settings: Settings, s3: S3Client, key: str, reason: str) -> str:
    """Mark ``key`` skipped; the name of its table. `RefusedError` when it cannot be."""
    bucket = settings.require_bucket()
    with closing(Warehouse(settings)) as warehouse:
        warehouse.connect()
        warehouse.ensure_ledger()
        warehouse.require_replay_columns()
        found = warehouse.entry(bucket, key)
        if found is None:
            spec = _owner(settings, key)
            file = current_file(s3, bucket, KeyRule.of(spec), key)
            if file is None:
                raise RefusedError(f"cannot skip {key!r}: s3://{bucket}/{key} does not exist")
            if not warehouse.record(bucket, spec.name, file, Status.SKIPPED, reason, OPERATOR):
                raise RefusedError(f"cannot skip {key!r}: a run loaded it meanwhile")
            return spec.name
        if found.status == Status.LOADED or not warehouse.skip(bucket, key, reason):
            raise RefusedError(
                f"cannot skip {key!r}: it is loaded, its rows are in table {found.table}"
            )
        return found.table


def _owner(settings: Settings, key: str) -> TableSpec:
    """The catalogue's table whose rule claims the key."""
    owners = [t for t in settings.tables if KeyRule.of(t).claim(key) is not None]
    if not owners:
        raise RefusedError(f"cannot skip {key!r}: no table of the catalogue claims it")
    if len(owners) > 1:
        names = " and ".join(t.name for t in owners)
        raise RefusedError(
            f"cannot skip {key!r}: {names} both claim it; give each table its own prefix"
        )
    return owners[0]
