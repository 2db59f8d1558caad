"""The S3 adapter: listing, reading, tagging, and S3's errors as loadstar's.

Each S3 error becomes a loadstar error of the scope that can fix it: refused
credentials or a missing bucket stop the run (no request of it can succeed),
S3 still failing after boto3's retries stops the run too, an object changed
or deleted since it was listed is the file's, and an object S3 will not hand
over (archived, say) is a bad file. The error keeps S3's code as ``s3_code``.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from loadstar.aws import MAX_ATTEMPTS
from loadstar.errors import (
    AccessDeniedError,
    BadFileError,
    ConfigError,
    FileChangedError,
    LoadstarError,
    ServiceUnavailableError,
    TableError,
    TransientError,
)
from loadstar.telemetry import logs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectTypeDef


LOADED_TAG = "loadstar-loaded"
MAX_TAGS = 10
"""S3 keeps at most ten tags on an object."""

# Objects up to this size stay in memory while they are read; larger ones
# spill to a temporary file (Lambda's /tmp), so memory stays flat.
SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
_CHUNK = 1024 * 1024

DELETED_AFTER_LISTING = "the object was deleted after it was listed"
"""How every part of loadstar words a file that vanished between listing and reading."""

# Codes that mean the caller's credentials or role are refused: no request of
# this run can succeed, whichever table it is for.
_CREDENTIALS = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidToken",
        "TokenRefreshRequired",
        "AccountProblem",
    }
)
_UNAVAILABLE = frozenset(
    {"SlowDown", "Throttling", "RequestTimeout", "InternalError", "ServiceUnavailable"}
)


def list_objects(
    s3: S3Client, bucket: str, prefix: str, *, start_after: str | None = None
) -> Iterator[ObjectTypeDef]:
    """Every object under ``prefix``, as the listing describes it, over every page.

    Plain listing entries, not objects of loadstar's own: a prefix may hold
    tens of thousands of files already loaded, and those cost only a lookup.
    """
    paginator = s3.get_paginator("list_objects_v2")
    extra: dict[str, Any] = {"StartAfter": start_after} if start_after else {}
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, **extra):
            yield from page.get("Contents", [])
    except ClientError as exc:
        raise classify(exc, bucket=bucket, what=f"listing prefix {prefix!r}", listing=True) from exc
    except BotoCoreError as exc:
        raise TransientError(f"s3://{bucket}: listing prefix {prefix!r} failed: {exc}") from exc


def open_object(s3: S3Client, bucket: str, key: str, *, etag: str | None = None) -> IO[bytes]:
    """The object's bytes in a seekable spooled file; with ``etag``, exactly those bytes.

    Reading with ``IfMatch`` guarantees the bytes loaded are the ones whose ETag
    the ledger records: if the object was overwritten since it was listed, the
    read fails with `FileChangedError` instead of loading other bytes.
    """
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115 - returned to the caller, who closes it
    try:
        if etag is None:
            response = s3.get_object(Bucket=bucket, Key=key)
        else:
            response = s3.get_object(Bucket=bucket, Key=key, IfMatch=f'"{etag}"')
        body = response["Body"]
        try:
            shutil.copyfileobj(body, spool, _CHUNK)
        finally:
            body.close()
    except (ClientError, BotoCoreError, OSError) as exc:
        spool.close()
        raise read_error(s3, bucket, key, exc, etag=etag) from exc
    spool.seek(0)
    return spool


def read_error(
    s3: S3Client, bucket: str, key: str, exc: Exception, *, etag: str | None
) -> Exception:
    """What a failed read of the object means: gone, changed, refused, or passing."""
    if isinstance(exc, ClientError):
        if etag is None and _code(exc) in ("NoSuchKey", "404"):
            return FileNotFoundError(f"s3://{bucket}/{key} does not exist")
        if _denied_because_gone(s3, bucket, key, exc):
            return FileChangedError(
                f"s3://{bucket}: reading {key!r}: {DELETED_AFTER_LISTING}", s3_code=_code(exc)
            )
        return classify(exc, bucket=bucket, what=f"reading {key!r}")
    return TransientError(f"s3://{bucket}/{key}: read failed: {exc}")


class RangedObject(io.RawIOBase):
    """An object read in ranged GETs, for reading a Parquet footer without the rest.

    ``loadstar plan`` needs each pending file's schema and row count, which
    live in the last kilobytes; downloading whole files for them would cost a
    run's worth of transfer. Every range is read with ``IfMatch``.
    """

    def __init__(self, s3: S3Client, bucket: str, key: str, *, etag: str, size: int) -> None:
        super().__init__()
        self._s3, self._bucket, self._key, self._etag = s3, bucket, key, etag
        self._size, self._position = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        end = min(self._size, self._position + len(view))
        if end <= self._position:
            return 0
        try:
            response = self._s3.get_object(
                Bucket=self._bucket,
                Key=self._key,
                IfMatch=f'"{self._etag}"',
                Range=f"bytes={self._position}-{end - 1}",
            )
            data = response["Body"].read()
        except ClientError as exc:
            raise classify(exc, bucket=self._bucket, what=f"reading {self._key!r}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"s3://{self._bucket}/{self._key}: read failed: {exc}") from exc
        view[: len(data)] = data
        self._position += len(data)
        return len(data)


def head_object(s3: S3Client, bucket: str, key: str) -> tuple[str, int] | None:
    """The object's current (ETag, size), or None when it no longer exists."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _code(exc) in ("NoSuchKey", "404", "NotFound") or _denied_because_gone(
            s3, bucket, key, exc
        ):
            return None
        raise classify(exc, bucket=bucket, what=f"reading {key!r}") from exc
    except BotoCoreError as exc:
        raise TransientError(f"s3://{bucket}/{key}: head failed: {exc}") from exc
    return normalise_etag(head["ETag"]), head["ContentLength"]


def tag_loaded(s3: S3Client, bucket: str, key: str, value: str) -> bool:
    """Mark an object loaded, keeping every tag of its own. Best effort: the ledger is the truth.

    An object that already carries S3's ten tags keeps them all and goes
    unmarked; a user's tag is worth more than loadstar's mark.
    """
    try:
        existing = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        tags = [t for t in existing if t["Key"] != LOADED_TAG]
        if len(tags) >= MAX_TAGS:
            logs.event(
                "tag_skipped",
                logging.INFO,
                bucket=bucket,
                key=key,
                reason=f"the object already has {len(tags)} tags, S3's limit; "
                "its own tags are kept and the ledger records the load",
            )
            return False
        tags.append({"Key": LOADED_TAG, "Value": value})
        s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tags})
    except (ClientError, BotoCoreError) as exc:
        logs.event("tag_failed", logging.WARNING, bucket=bucket, key=key, error=str(exc))
        return False
    return True


def normalise_etag(etag: str) -> str:
    return etag.strip('"')


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _denied_because_gone(s3: S3Client, bucket: str, key: str, exc: ClientError) -> bool:
    """Whether an access-denied answer for ``key`` only means the object is gone.

    S3 answers 403 rather than 404 for a missing object unless the caller may
    list the bucket unconditionally; a role whose ListBucket is limited to
    loadstar's prefixes gets 403. A listing of the key itself tells the two
    apart, and that listing is within the role's prefixes.
    """
    if _code(exc) not in ("AccessDenied", "403") and (
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 403
    ):
        return False
    try:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    except (ClientError, BotoCoreError):
        return False
    return not any(item["Key"] == key for item in listed)


def classify(exc: ClientError, *, bucket: str, what: str, listing: bool = False) -> LoadstarError:
    """The loadstar error for an S3 error met while ``what`` (listing or reading)."""
    error: dict[str, Any] = dict(exc.response.get("Error", {}))
    code = _code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    where = f"s3://{bucket}: {what}"
    shown = code or str(status)
    if code == "NoSuchBucket":
        return ConfigError(
            f"{where}: bucket {bucket!r} does not exist; check LOADSTAR_BUCKET or --bucket",
            s3_code=code,
        )
    if code in _CREDENTIALS or (status == 403 and not code):
        return AccessDeniedError(
            f"{where}: S3 refused the request ({shown}); check the role's S3 permissions "
            "and that its credentials have not expired",
            s3_code=shown,
        )
    if code in ("PreconditionFailed", "412") or status == 412:
        return FileChangedError(f"{where}: the object changed after it was listed", s3_code=shown)
    if code in ("NoSuchKey", "404") or status == 404:
        return FileChangedError(f"{where}: {DELETED_AFTER_LISTING}", s3_code=shown)
    if status >= 500 or code in _UNAVAILABLE:
        return ServiceUnavailableError(
            f"{where}: {shown}, still after {MAX_ATTEMPTS} attempts", s3_code=shown
        )
    message = f"{where}: {shown}: {error.get('Message', '')}".rstrip(": ")
    if listing:
        return TableError(message, hint="check the table's prefix and the bucket", s3_code=shown)
    return BadFileError(message, s3_code=shown)
