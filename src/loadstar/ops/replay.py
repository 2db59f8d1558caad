"""Loading one file again, on purpose, under its table's lock.

A dimension file re-applies its values where it still holds a row's newest
version; rows a later file has changed since keep the later values, so any
file may be replayed, oldest included. A fact file appends its rows again,
so it is replayed only when the table has a version key that turns the rows
already there into no-ops, or when the operator insists. The ledger keeps
what the first load recorded and counts the replay.
"""

from __future__ import annotations

from contextlib import closing
from typing import TYPE_CHECKING

from loadstar.config import Settings, TableSpec
from loadstar.errors import RefusedError
from loadstar.run import report
from loadstar.run.loader import Progress, RunContext, load_file
from loadstar.run.prepare import describe_for_loading
from loadstar.run.summary import FileOutcome, new_run_id
from loadstar.source.claims import KeyRule
from loadstar.source.discovery import current_file
from loadstar.telemetry import logs
from loadstar.warehouse import Status, Warehouse

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def replay(
    settings: Settings,
    s3: S3Client,
    key: str,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> FileOutcome | None:
    """Load ``key`` again; None when another load holds its table's lock.

    Raises `RefusedError` when the file is not a loaded one, or replaying it
    would break a guarantee and ``force`` is not given.
    """
    bucket = settings.require_bucket()
    run_id = new_run_id()
    with logs.bound(run_id=run_id, replay=True), closing(Warehouse(settings)) as warehouse:
        warehouse.open()
        warehouse.require_replay_columns()
        found = warehouse.entry(bucket, key)
        if found is None or found.status != Status.LOADED:
            state = "not in the ledger" if found is None else f"{found.status}, not loaded"
            raise RefusedError(
                f"cannot replay {key!r}: it is {state}; `loadstar run` loads pending files"
            )
        spec = settings.table(found.table)
        if not force:
            _check_safe(spec, key)
        if not warehouse.lock_table(spec.name, settings.table_lock_wait_seconds):
            return None
        file = current_file(s3, bucket, KeyRule.of(spec), key)
        if file is None:
            raise RefusedError(f"cannot replay {key!r}: s3://{bucket}/{key} no longer exists")
        table = describe_for_loading(warehouse, spec)
        ctx = RunContext(warehouse, s3, bucket, run_id, progress)
        outcome = load_file(ctx, spec, table, file, replay=True)
        report.file_outcome(outcome)
        return outcome


def _check_safe(spec: TableSpec, key: str) -> None:
    if spec.kind == "fact" and not spec.version_key:
        raise RefusedError(
            f"cannot replay {key!r}: table {spec.name} has no version_key, so its rows "
            "would be appended a second time; set one in the catalogue, or pass --force "
            "to append them anyway"
        )
