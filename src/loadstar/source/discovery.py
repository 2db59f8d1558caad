"""A table's files in the bucket, in the order they must load."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from loadstar.source.keys import instant_from_key, remainder
from loadstar.source.s3 import list_objects, normalise_etag

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectTypeDef


@dataclass(frozen=True)
class SourceFile:
    """One Parquet file of a table, as listed, with the instant it was written."""

    key: str
    etag: str
    size: int
    instant: datetime
    stamped: bool
    """True when the instant came from the key; False when from LastModified."""

    @property
    def order(self) -> tuple[datetime, str]:
        """Sort key: the instant, then the key for files of the same instant."""
        return (self.instant, self.key)


def source_file(prefix: str, listed: ObjectTypeDef) -> SourceFile | None:
    """The listed object as a file of the table with ``prefix``; None if it is not one."""
    key = listed["Key"]
    rest = remainder(prefix, key)
    if rest is None:
        return None
    instant = instant_from_key(rest)
    stamped = instant is not None
    if instant is None:
        modified = listed["LastModified"]
        instant = (modified if modified.tzinfo else modified.replace(tzinfo=UTC)).astimezone(UTC)
    return SourceFile(
        key=key,
        etag=normalise_etag(listed["ETag"]),
        size=listed["Size"],
        instant=instant,
        stamped=stamped,
    )


def is_stamped(prefix: str, key: str) -> bool:
    """Whether ``key`` is a file of the table at ``prefix`` whose key carries its instant."""
    rest = remainder(prefix, key)
    return rest is not None and instant_from_key(rest) is not None


def table_files(s3: S3Client, bucket: str, prefix: str) -> list[SourceFile]:
    """Every Parquet file of the table under ``prefix``, oldest first."""
    files = [f for obj in list_objects(s3, bucket, prefix) if (f := source_file(prefix, obj))]
    files.sort(key=lambda f: f.order)
    return files


def latest_file(s3: S3Client, bucket: str, prefix: str) -> SourceFile:
    """The newest file under ``prefix``; `FileNotFoundError` naming both when there is none."""
    files = table_files(s3, bucket, prefix)
    if not files:
        raise FileNotFoundError(f"no Parquet file under prefix {prefix!r} in bucket {bucket!r}")
    return files[-1]


def current_file(s3: S3Client, bucket: str, prefix: str, key: str) -> SourceFile | None:
    """The object at ``key`` as it is now, as a file of the table; None if it is not there.

    Found by listing the key itself, which gives what a run's listing gives
    (LastModified included) and stays within a role limited to the prefixes.
    """
    for listed in list_objects(s3, bucket, key):
        if listed["Key"] == key:
            return source_file(prefix, listed)
    return None
