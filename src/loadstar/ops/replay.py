"""Loading one file again, on purpose, under the run lock.

A dimension file re-applies its values (an upsert changes only what
differs); only the newest loaded file of its table may be replayed without
``--force``, since an older one would put older values over newer ones. A
fact file appends its rows again, so it is replayed only when the table has
a version key that turns the rows already there into no-ops, or when the
operator insists. The ledger keeps what the first load recorded and counts
the replay.
"""

from __future__ import annotations

import uuid
from contextlib import closing
from typing import TYPE_CHECKING

from loadstar.config import Settings, TableSpec
from loadstar.errors import RefusedError
from loadstar.run.loader import Progress, RunContext, load_file
from loadstar.run.summary import FileOutcome
from loadstar.shape.mapping import check_table
from loadstar.source.discovery import current_file
from loadstar.telemetry import logs, report
from loadstar.warehouse import ledger
from loadstar.warehouse.catalog import describe_table
from loadstar.warehouse.connection import Connection
from loadstar.warehouse.session import Session

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
    """Load ``key`` again; None when another run holds the lock.

    Raises `RefusedError` when the file is not a loaded one, or replaying it
    would break a guarantee and ``force`` is not given.
    """
    bucket = settings.require_bucket()
    run_id = uuid.uuid4().hex[:12]
    with logs.bound(run_id=run_id, replay=True), closing(Session(settings)) as session:
        if not session.open():
            return None
        conn, schema = session.conn, settings.ledger_schema
        ledger.require_replay_columns(conn, schema)
        found = ledger.entry(conn, schema, bucket, key)
        if found is None or found.status != ledger.Status.LOADED:
            state = "not in the ledger" if found is None else f"{found.status}, not loaded"
            raise RefusedError(
                f"cannot replay {key!r}: it is {state}; `loadstar run` loads pending files"
            )
        spec = settings.table(found.table)
        if not force:
            _check_safe(conn, schema, bucket, spec, key)
        file = current_file(s3, bucket, spec.prefix, key)
        if file is None:
            raise RefusedError(f"cannot replay {key!r}: s3://{bucket}/{key} no longer exists")
        table = describe_table(conn, spec.name, settings.schema)
        check_table(spec, table)
        ctx = RunContext(session, s3, bucket, schema, run_id, progress)
        outcome = load_file(ctx, spec, table, file, replay=True)
        report.file_outcome(outcome)
        return outcome


def _check_safe(conn: Connection, schema: str, bucket: str, spec: TableSpec, key: str) -> None:
    if spec.kind == "fact" and not spec.version_key:
        raise RefusedError(
            f"cannot replay {key!r}: table {spec.name} has no version_key, so its rows "
            "would be appended a second time; set one in the catalogue, or pass --force "
            "to append them anyway"
        )
    if spec.kind == "dimension":
        newest = ledger.newest_loaded(conn, schema, bucket, spec.name)
        if newest is not None and newest[1] != key:
            raise RefusedError(
                f"cannot replay {key!r}: {newest[1]!r} was applied to {spec.name} after it, "
                "and replaying the older file would put older values over newer ones; "
                "replay the newest file, or pass --force"
            )
