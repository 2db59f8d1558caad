"""An operator's decision that a file must never load.

A skipped file stops failing every run and stops holding back the
dimension files after it. A file can be skipped before any run has tried
it, once it is in the bucket; a loaded file cannot be (its rows are in).
"""

from __future__ import annotations

import getpass
from contextlib import closing
from datetime import UTC, datetime
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


def skip(settings: Settings, s3: S3Client, key: str, reason: str) -> tuple[str, str]:
    """Mark ``key`` skipped; its table, and the ledger's reasons for it, oldest first.

    Each skip is recorded with when and by whom, below any earlier reason (why
    the file failed, an earlier skip): an audit trail, never overwritten.
    `RefusedError` when the file cannot be skipped.
    """
    if not reason.strip() or any(c in reason for c in "\r\n"):
        raise RefusedError(
            f"cannot skip {key!r}: give a reason, on one line (the trail is one per line)"
        )
    bucket = settings.require_bucket()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    reason = f"skipped {stamp} by {_who()}: {reason}"
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
            return spec.name, reason
        trail = None if found.status == Status.LOADED else warehouse.skip(bucket, key, reason)
        if trail is None:
            raise RefusedError(
                f"cannot skip {key!r}: it is loaded, its rows are in table {found.table}"
            )
        return found.table, trail


def _who() -> str:
    """Who is skipping: the login name, as the operator's shell knows it."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "an unknown user"


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
