"""Loading one file again, on purpose, under the run lock.

A dimension file re-applies its values (an upsert changes only what
differs). A fact file appends its rows again, so it is replayed only when the
table has a version key that turns the rows already there into no-ops, or
when the operator insists. The ledger keeps the file as loaded and counts the
replay.
"""

from __future__ import annotations

import uuid
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from loadstar import ledger, logs, report
from loadstar.config import Settings
from loadstar.discovery import SourceFile, source_file
from loadstar.errors import ConfigError
from loadstar.loader import Progress, RunContext, load_file
from loadstar.mapping import check_table
from loadstar.s3 import head_object
from loadstar.session import Session
from loadstar.summary import FileOutcome
from loadstar.warehouse.catalog import describe_table

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

    Raises `ConfigError` when the file is not a loaded one, or is a fact file
    of a table without a version key and ``force`` is not given.
    """
    bucket = settings.require_bucket()
    run_id = uuid.uuid4().hex[:12]
    with logs.bound(run_id=run_id), closing(Session(settings)) as session:
        if not session.open():
            return None
        found = ledger.entry(session.conn, settings.ledger_schema, bucket, key)
        if found is None or found.status != ledger.Status.LOADED:
            state = "not in the ledger" if found is None else f"{found.status}, not loaded"
            raise ConfigError(
                f"cannot replay {key!r}: it is {state}; `loadstar run` loads pending files"
            )
        spec = settings.table(found.table)
        if spec.kind == "fact" and not spec.version_key and not force:
            raise ConfigError(
                f"cannot replay {key!r}: table {spec.name} has no version_key, so its rows "
                "would be appended a second time; set one in the catalogue, or pass --force "
                "to append them anyway"
            )
        file = _as_listed(s3, bucket, spec.prefix, key)
        table = describe_table(session.conn, spec.name, settings.schema)
        check_table(spec, table)
        ctx = RunContext(session, s3, bucket, settings.ledger_schema, run_id, progress)
        outcome = load_file(ctx, spec, table, file, claim=_claim_replay)
        report.file_outcome(outcome)
        return outcome


def _claim_replay(ctx: RunContext, spec: object, file: SourceFile) -> bool:
    return ledger.claim_replay(ctx.conn, ctx.ledger_schema, ctx.bucket, file, ctx.run_id)


def _as_listed(s3: S3Client, bucket: str, prefix: str, key: str) -> SourceFile:
    """The object as it is now, the way a listing would describe it."""
    found = head_object(s3, bucket, key)
    file = None
    if found is not None:
        etag, size = found
        listed = {"Key": key, "ETag": etag, "Size": size, "LastModified": datetime.now(UTC)}
        file = source_file(prefix, listed)  # type: ignore[arg-type]
    if file is None:
        raise ConfigError(f"cannot replay {key!r}: s3://{bucket}/{key} no longer exists")
    return file
