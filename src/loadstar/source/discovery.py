"""A table's files in the bucket, in the order they must load, and what no table claims."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from loadstar.source.claims import KeyRule, looks_like_data
from loadstar.source.s3 import list_objects, normalise_etag

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectTypeDef


@dataclass(frozen=True)
class SourceFile:
    """One data file of a table, as listed, with the instant it was written."""

    key: str
    etag: str
    size: int
    instant: datetime
    stamped: bool
    """True when the instant came from the key; False when from LastModified."""
    last_modified: datetime | None = None

    @property
    def order(self) -> tuple[datetime, str]:
        """Sort key: the instant, then the key for files of the same instant."""
        return (self.instant, self.key)


def source_file(rule: KeyRule, listed: ObjectTypeDef) -> SourceFile | None:
    """The listed object as a file of the table ``rule`` describes; None if it is not one."""
    claim = rule.claim(listed["Key"])
    if claim is None:
        return None
    modified = listed["LastModified"]
    modified = (modified if modified.tzinfo else modified.replace(tzinfo=UTC)).astimezone(UTC)
    return SourceFile(
        key=claim.key,
        etag=normalise_etag(listed["ETag"]),
        size=listed["Size"],
        instant=claim.instant or modified,
        stamped=claim.instant is not None,
        last_modified=modified,
    )


def is_stamped(rule: KeyRule, key: str) -> bool:
    """Whether ``key`` is a file of the table whose key carries its instant."""
    claim = rule.claim(key)
    return claim is not None and claim.instant is not None


def table_files(s3: S3Client, bucket: str, rule: KeyRule) -> list[SourceFile]:
    """Every file of the table ``rule`` describes, oldest first."""
    listing = list_objects(s3, bucket, rule.listing_prefix)
    files = [f for obj in listing if (f := source_file(rule, obj))]
    files.sort(key=lambda f: f.order)
    return files


def latest_file(s3: S3Client, bucket: str, prefix: str) -> SourceFile:
    """The newest file under ``prefix``; `FileNotFoundError` naming both when there is none.

    The error says how many keys the prefix holds and why the first of them
    were not taken, so a prefix that reads nothing is never a mystery.
    """
    rule = KeyRule(prefix=prefix)
    listing = list(list_objects(s3, bucket, prefix))
    files = sorted((f for obj in listing if (f := source_file(rule, obj))), key=lambda f: f.order)
    if files:
        return files[-1]
    raise FileNotFoundError(
        f"no timestamped Parquet file under prefix {prefix!r} in bucket {bucket!r}"
        + _explain([o["Key"] for o in listing], rule)
    )


def unclaimed(keys: Iterable[str], rules: Sequence[KeyRule]) -> list[str]:
    """The keys that look like data and that none of ``rules`` claims."""
    return [k for k in keys if looks_like_data(k) and not any(r.claim(k) for r in rules)]


def current_file(s3: S3Client, bucket: str, rule: KeyRule, key: str) -> SourceFile | None:
    """The object at ``key`` as it is now, as a file of the table; None if it is not there.

    Found by listing the key itself, which gives what a run's listing gives
    (LastModified included) and stays within a role limited to the prefixes.
    """
    for listed in list_objects(s3, bucket, key):
        if listed["Key"] == key:
            return source_file(rule, listed)
    return None


def _explain(keys: list[str], rule: KeyRule) -> str:
    if not keys:
        return ": it holds no object"
    examples = [k for k in keys if looks_like_data(k)][:2] or keys[:2]
    reasons = "; ".join(f"{k!r}: {rule.why_not(k)}" for k in examples)
    text = f": it holds {len(keys)} object(s), none a file of it ({reasons})"
    prefix = rule.prefix or ""
    if prefix.endswith("/"):
        tables = sorted({_table_stem(k[len(prefix) :]) for k in examples} - {""})
        if tables:
            text += f"; did you mean {prefix + tables[0]!r}?"
    return text


def _table_stem(rest: str) -> str:
    """``staff`` of ``staff-2024-05-24 14:35:22.parquet``: the name before its timestamp."""
    found = re.match(r"([A-Za-z][A-Za-z0-9_]*?)[-_./]?\d", rest)
    return found[1] if found else ""
