"""Connecting to the warehouse from whichever credentials are configured.

Order: ``LOADSTAR_DATABASE_URL``, then the Secrets Manager secret named by
``LOADSTAR_DB_SECRET``, then libpq's own ``PG*`` variables. Passwords never
reach a log line or an exception message.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from loadstar import retry
from loadstar.config import Settings, mask_url, passwords_in
from loadstar.errors import ConfigError, ConnectionFailedError, TransientError
from loadstar.retry import Backoff
from loadstar.telemetry import logs

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


Connection = psycopg.Connection[tuple[Any, ...]]

CONNECT_TIMEOUT_SECONDS = 10
APPLICATION_NAME = "loadstar"


def resolve_conninfo(
    settings: Settings,
    secrets: Callable[[], SecretsManagerClient] | None = None,
) -> str:
    """The libpq connection string the settings describe ('' means: libpq's PG* variables).

    A URL is checked here, before any connection, and refused with a
    `ConfigError` that never shows its password.
    """
    if settings.database_url:
        return checked_url(settings.database_url)
    if settings.db_secret:
        if secrets is None:
            from loadstar.aws import secrets_client

            secrets = secrets_client
        return _conninfo_from_secret(secrets(), settings.db_secret)
    return ""


# SQLAlchemy's URL form, which people copy from their other tools:
# postgresql+psycopg://…, postgres+asyncpg://… — the driver is loadstar's business.
_DRIVER_URL = re.compile(r"^(?P<scheme>postgres(?:ql)?)\+[A-Za-z0-9_]+://")


def checked_url(url: str) -> str:
    """The connection string libpq will take, or `ConfigError` (masked) saying what is wrong."""
    url = _DRIVER_URL.sub(r"\g<scheme>://", url.strip())
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.\-]*)://", url)
    if scheme and scheme[1].lower() not in ("postgresql", "postgres"):
        raise ConfigError(
            f"the warehouse URL {scrub(url, url)!r} is not a PostgreSQL URL: it must start "
            "with postgresql:// (or be libpq's key=value form)"
        )
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(
            f"the warehouse URL {scrub(url, url)!r} is not valid: {scrub(str(exc), url)}"
        ) from None
    return url


def describe_target(conninfo: str) -> str:
    """``user@host:port/dbname`` for log lines; never the password."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return scrub(conninfo, conninfo)
    host = params.get("host") or params.get("hostaddr") or "(PGHOST)"
    port = params.get("port") or ""
    dbname = params.get("dbname") or "(PGDATABASE)"
    user = params.get("user") or "(PGUSER)"
    return f"{user}@{host}{':' if port else ''}{port}/{dbname}"


def open_connection(
    settings: Settings,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Connection:
    """A new connection to the warehouse, outside any transaction.

    A refused or unreachable server is tried again with backoff: a warehouse
    restarting or failing over is back within seconds. libpq reports neither
    that nor a wrong password with a SQLSTATE, so a wrong password is tried
    again too, a few seconds in all, before the logged error.
    """
    conninfo = resolve_conninfo(settings)
    target = describe_target(conninfo)
    backoff = backoff or dataclasses.replace(retry.CONNECT, attempts=settings.connect_attempts)
    delays = backoff.delays()
    while True:
        try:
            conn: Connection = psycopg.connect(
                conninfo,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name=APPLICATION_NAME,
                # Every unit of work is an explicit `conn.transaction()` block,
                # so a block always commits for real rather than as a savepoint.
                autocommit=True,
            )
        except psycopg.ProgrammingError as exc:
            # libpq refused the string itself (an unknown option): no retry helps.
            raise ConfigError(
                f"the warehouse connection string for {target} is not valid: "
                f"{scrub(str(exc).strip(), conninfo)}"
            ) from None
        except psycopg.OperationalError as exc:
            reason = scrub(str(exc).strip(), conninfo)
            delay = next(delays, None)
            if delay is None:
                logs.event("db_connect_failed", logging.ERROR, target=target, error=reason)
                raise ConnectionFailedError(
                    f"could not connect to the warehouse at {target}: {reason}"
                ) from None
            logs.event(
                "db_connect_retry",
                logging.WARNING,
                target=target,
                error=reason,
                retry_in_seconds=round(delay, 2),
            )
            sleep(delay)
        else:
            # The text form of dates and times the driver reads back is ISO
            # whatever the role's or database's DateStyle says.
            conn.execute("SET DateStyle TO ISO, YMD")
            return conn


def _conninfo_from_secret(client: SecretsManagerClient, secret_id: str) -> str:
    try:
        response = client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in (
            "ResourceNotFoundException",
            "AccessDeniedException",
            "InvalidRequestException",
        ):
            raise ConfigError(f"secret {secret_id!r}: {code}") from None
        raise TransientError(f"secret {secret_id!r}: {code or 'request failed'}") from None
    except BotoCoreError as exc:
        raise TransientError(f"secret {secret_id!r}: {type(exc).__name__}") from None
    try:
        fields: dict[str, Any] = json.loads(response.get("SecretString") or "")
    except ValueError:
        raise ConfigError(f"secret {secret_id!r} is not a JSON object") from None
    if not isinstance(fields, dict):
        raise ConfigError(f"secret {secret_id!r} is not a JSON object")
    user = fields.get("username", fields.get("user"))
    missing = [] if fields.get("host") else ["host"]
    if not user:
        missing.append("username")
    if missing:
        raise ConfigError(f"secret {secret_id!r} lacks {', '.join(sorted(missing))}")
    params: dict[str, Any] = {
        "host": fields["host"],
        "user": user,
        "dbname": fields.get("dbname") or fields.get("database") or "postgres",
    }
    # An empty or absent password is valid (trust, IAM or certificate
    # authentication): libpq gets what is there and the server decides.
    if fields.get("password"):
        params["password"] = str(fields["password"])
    if fields.get("port"):
        params["port"] = str(fields["port"])
    for optional in ("sslmode", "sslrootcert"):
        if fields.get(optional):
            params[optional] = fields[optional]
    return make_conninfo(**params)


def scrub(message: str, conninfo: str) -> str:
    """A message safe to show: every password the connection string holds, masked."""
    secrets = passwords_in(conninfo)
    try:
        password = conninfo_to_dict(conninfo).get("password")
    except psycopg.ProgrammingError:
        password = None
    if password:
        secrets.add(str(password))
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return str(mask_url(message))
