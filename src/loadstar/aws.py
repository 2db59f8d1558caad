"""boto3 clients, built once per process for as long as their settings hold.

Any S3 API works through boto3's own ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3``
(moto's server, MinIO, LocalStack). A warm Lambda reuses its clients
(building one costs ~70 ms) until one of the settings they read changes.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

# Standard mode retries throttling (503 SlowDown), 500s and dropped connections
# with exponential backoff and jitter; four attempts in all keeps a scheduled
# run from stalling on an outage it cannot outlast; a run that still fails stops
# and leaves the rest to the next one.
MAX_ATTEMPTS = 4
RETRY_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=5,
    read_timeout=60,
)

# boto3's own settings a client is built from.
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
