"""The S3 adapter: a client with deliberate retries, listing, reading, tagging.

Any S3 API works through boto3's own ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3``
(moto's server, MinIO, LocalStack).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from loadstar.errors import (
    BadFileError,
    ConfigError,
    FileChangedError,
    ServiceUnavailableError,
    TransientError,
)
from loadstar.telemetry import logs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectTypeDef
    from mypy_boto3_secretsmanager import SecretsManagerClient


LOADED_TAG = "loadstar-loaded"

# Standard mode retries throttling (503 SlowDown), 500s and dropped connections
# with exponential backoff and jitter; four attempts in all keeps a scheduled
# run from stalling on an outage it cannot outlast; a run that still fails stops
# and leaves the rest to the next one.
S3_MAX_ATTEMPTS = 4
RETRY_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": S3_MAX_ATTEMPTS},
    connect_timeout=5,
    read_timeout=60,
)

# Objects up to this size stay in memory while they are read; larger ones
# spill to a temporary file (Lambda's /tmp), so memory stays flat.
SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
_CHUNK = 1024 * 1024


# boto3's own settings a client is built from; a warm Lambda reuses its
# clients (building one costs ~70 ms) until any of these changes.
_CLIENT_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SESSION_TOKEN",
)


def s3_client() -> S3Client:
    """A client for S3 or whatever ``AWS_ENDPOINT_URL[_S3]`` points boto3 at."""
    client: S3Client = _client("s3", _client_env())
    return client


def secrets_client() -> SecretsManagerClient:
    client: SecretsManagerClient = _client("secretsmanager", _client_env())
    return client


def _client_env() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in _CLIENT_ENV)


@functools.lru_cache(maxsize=8)
def _client(service: str, env: tuple[str | None, ...]) -> Any:
    return boto3.client(service, config=RETRY_CONFIG)  # type: ignore[call-overload]


def list_objects(s3: S3Client, bucket: str, prefix: str) -> Iterator[ObjectTypeDef]:
    """Every object under ``prefix``, as the listing describes it, over every page.

    Plain listing entries, not objects of loadstar's own: a prefix may hold
    tens of thousands of files already loaded, and those cost only a lookup.
    """
    paginator = s3.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            yield from page.get("Contents", [])
    except ClientError as exc:
        raise _classify(exc, bucket=bucket, what=f"listing prefix {prefix!r}") from exc
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
    except ClientError as exc:
        spool.close()
        if etag is None and _code(exc) in ("NoSuchKey", "404"):
            raise FileNotFoundError(f"s3://{bucket}/{key} does not exist") from exc
        if _denied_because_gone(s3, bucket, key, exc):
            raise FileChangedError(
                f"s3://{bucket}: reading {key!r}: the object was deleted after it was listed"
            ) from exc
        raise _classify(exc, bucket=bucket, what=f"reading {key!r}") from exc
    except (BotoCoreError, OSError) as exc:
        spool.close()
        raise TransientError(f"s3://{bucket}/{key}: read failed: {exc}") from exc
    spool.seek(0)
    return spool


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
            raise _classify(exc, bucket=self._bucket, what=f"reading {self._key!r}") from exc
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
        raise _classify(exc, bucket=bucket, what=f"reading {key!r}") from exc
    except BotoCoreError as exc:
        raise TransientError(f"s3://{bucket}/{key}: head failed: {exc}") from exc
    return normalise_etag(head["ETag"]), head["ContentLength"]


def tag_loaded(s3: S3Client, bucket: str, key: str, value: str) -> bool:
    """Mark an object loaded, keeping its other tags. Best effort: the ledger is the truth."""
    try:
        existing = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        tags = [t for t in existing if t["Key"] != LOADED_TAG]
        tags.append({"Key": LOADED_TAG, "Value": value})
        s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tags[-10:]})
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


def _classify(exc: ClientError, *, bucket: str, what: str) -> Exception:
    error: dict[str, Any] = dict(exc.response.get("Error", {}))
    code = _code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    where = f"s3://{bucket}: {what}"
    if code == "NoSuchBucket":
        return ConfigError(f"{where}: bucket {bucket!r} does not exist")
    if code in ("AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return ConfigError(f"{where}: access denied ({code}); check the role's S3 permissions")
    if code in ("PreconditionFailed", "412") or status == 412:
        return FileChangedError(f"{where}: the object changed after it was listed")
    if code in ("NoSuchKey", "404") or status == 404:
        return FileChangedError(f"{where}: the object was deleted after it was listed")
    if status >= 500 or code in ("SlowDown", "Throttling", "RequestTimeout", "InternalError"):
        return ServiceUnavailableError(
            f"{where}: {code or status}, still after {S3_MAX_ATTEMPTS} attempts"
        )
    return BadFileError(f"{where}: {code or status}: {error.get('Message', '')}")
