"""The data-looking keys anywhere in the bucket that no table of the catalogue claims.

``plan`` and ``status`` list the whole bucket for this (an operator's
command may take its time; a run looks only at what it must).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loadstar.config import TableSpec
from loadstar.source.claims import KeyRule
from loadstar.source.discovery import unclaimed
from loadstar.source.s3 import list_objects

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SHOWN = 10


@dataclass(frozen=True)
class Unclaimed:
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "examples": list(self.examples)}


def bucket_unclaimed(s3: S3Client, bucket: str, tables: tuple[TableSpec, ...]) -> Unclaimed:
    """How many data-looking keys of the bucket no table claims, and the first few."""
    found = unclaimed(
        (o["Key"] for o in list_objects(s3, bucket, "")), [KeyRule.of(t) for t in tables]
    )
    return Unclaimed(count=len(found), examples=found[:SHOWN])
