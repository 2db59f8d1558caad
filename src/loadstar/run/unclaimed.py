"""Never silent about files nobody reads: data-looking keys no table claims.

Within a table's listing, a key that looks like data (Parquet, or a name with
no extension) but that no table claims gets one warning per run, with why.
A run in which no table has ever claimed a key, in a bucket that is not
empty, looks at the bucket's first page and names what it found: a bucket of
Parquet files that no table reads fails the run, since a configuration that
reads nothing must never report success.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from loadstar.config import TableSpec
from loadstar.errors import NothingClaimedError
from loadstar.run.prepare import PreparedTable
from loadstar.run.summary import RunSummary, TableSummary
from loadstar.source.claims import DATA_SUFFIX, KeyRule
from loadstar.source.discovery import unclaimed
from loadstar.telemetry import logs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SHOWN_PER_TABLE = 5
FIRST_PAGE = 1000


def note_table(spec: TableSpec, prepared: PreparedTable, out: TableSummary) -> None:
    """The table's claimed count, and one warning for the keys under it nobody claims."""
    out.claimed = prepared.claimed
    out.reads_files = bool(
        prepared.claimed or prepared.newest_loaded is not None or not prepared.listing.full
    )
    if not prepared.unclaimed:
        return
    shown = [{"key": key, "why": why} for key, why in prepared.unclaimed[:SHOWN_PER_TABLE]]
    out.unclaimed = shown
    logs.event(
        "unclaimed_files",
        logging.WARNING,
        table=spec.name,
        rule=KeyRule.of(spec).describe,
        count=len(prepared.unclaimed),
        examples=shown,
    )


def check_bucket(
    s3: S3Client, bucket: str, specs: Sequence[TableSpec], summary: RunSummary
) -> None:
    """When no table claimed a key, say what the bucket holds instead; fail on Parquet."""
    if summary.stopped_early or any(t.reads_files for t in summary.tables.values()):
        return
    try:
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=FIRST_PAGE).get("Contents", [])
    except (ClientError, BotoCoreError) as exc:
        # A role allowed to list only the tables' prefixes cannot look further.
        logs.event("unclaimed_check_skipped", logging.INFO, bucket=bucket, error=str(exc))
        return
    rules = [KeyRule.of(t) for t in specs]
    found = unclaimed((o["Key"] for o in page), rules)
    if not found:
        return
    tried = [f"{t.name}: {rule.describe}" for t, rule in zip(specs, rules, strict=True)]
    summary.unclaimed = {"count": len(found), "examples": found[:SHOWN_PER_TABLE], "tried": tried}
    logs.event(
        "unclaimed_files",
        logging.WARNING,
        bucket=bucket,
        count=len(found),
        examples=found[:SHOWN_PER_TABLE],
        tables_tried=tried,
    )
    parquet = [k for k in found if k.lower().endswith(DATA_SUFFIX)]
    if parquet:
        summary.stop(
            NothingClaimedError(
                f"no table claims any of the Parquet files in s3://{bucket} "
                f"(e.g. {parquet[0]!r}); the tables' rules are: {'; '.join(tried)}",
                hint="fix the prefixes in the catalogue: a prefix ending in '/' is a "
                "folder; `loadstar plan` lists the keys no table claims",
            )
        )
