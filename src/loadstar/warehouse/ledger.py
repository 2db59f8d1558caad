"""The load ledger: one row per file, committed with the file's rows.

The ledger row that says a file is loaded commits in the same transaction as
the file's rows, so the two can never disagree: a crash before commit leaves
neither, a crash after leaves both. The ledger, not any S3 tag, is the truth.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import psycopg
from psycopg import sql

from loadstar.errors import ConfigError, LedgerError
from loadstar.source.discovery import SourceFile
from loadstar.telemetry import logs
from loadstar.warehouse.connection import Connection

LEDGER_TABLE = "load_ledger"
VERSIONS_TABLE = "key_versions"
STATE_TABLE = "table_state"
# The advisory locks' first key says "loadstar"; the second names what is
# locked: the ledger schema (while its tables are created) or one table.
LOCK_CLASS = 0x4C53


class Status(StrEnum):
    LOADED = "loaded"
    FAILED = "failed"
    SKIPPED = "skipped"
    """An operator decided the file must not load."""
    OUT_OF_ORDER = "out_of_order"
    """Written by loadstar before dimensions converged per key; kept for older ledgers."""


@dataclass(frozen=True)
class Known:
    """What the ledger holds of some of one table's files in a bucket."""

    files: Mapping[str, tuple[str, str]]
    """Each key's (ETag, status)."""


@dataclass(frozen=True)
class Recorded:
    """A file the ledger holds as failed: enough to try it again without listing it."""

    key: str
    etag: str
    size: int
    instant: datetime


def ledger_table(schema: str) -> sql.Identifier:
    return sql.Identifier(schema, LEDGER_TABLE)


def exists(conn: Connection, schema: str) -> bool:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT to_regclass(%s)", (sql.Identifier(schema, LEDGER_TABLE).as_string(conn),)
        )
        row = cur.fetchone()
    return row is not None and row[0] is not None


def ensure_ledger(conn: Connection, schema: str) -> None:
    """Create the ledger's schema and tables when they are missing (idempotent).

    Invocations that start together serialise here, so that two of them
    never race to create the same table. A ledger made by an older loadstar
    gains what was added since when the role may alter it; a least-privilege
    role that may not is told to have `loadstar init-db` run by the owner.
    """
    if exists(conn, schema) and _has_column(conn, schema, "replays") and has_versions(conn, schema):
        return
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_CLASS, schema))
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            cur.execute(ledger_ddl(schema))
            cur.execute(_ADD_REPLAY_COLUMNS.format(table=ledger_table(schema)))
    except psycopg.errors.InsufficientPrivilege:
        if not exists(conn, schema):
            raise
        if not has_versions(conn, schema):
            # Without them a dimension could take an older file's values.
            raise LedgerError(
                f"the ledger in schema {schema!r} predates per-key versions and listing "
                f"watermarks ({VERSIONS_TABLE}, {STATE_TABLE}), and this role may not add them",
                hint="run `loadstar init-db` as the ledger's owner, then grant the loader role "
                "the privileges in docs/deploying/iam.md",
                sqlstate="42501",
            ) from None
        logs.event(
            "ledger_outdated",
            logging.WARNING,
            advice="run `loadstar init-db` as the ledger's owner to add what this loadstar needs",
        )


def has_versions(conn: Connection, schema: str) -> bool:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT to_regclass(%s), to_regclass(%s)",
            (
                sql.Identifier(schema, VERSIONS_TABLE).as_string(conn),
                sql.Identifier(schema, STATE_TABLE).as_string(conn),
            ),
        )
        row = cur.fetchone()
    return row is not None and None not in row


_ADD_REPLAY_COLUMNS = sql.SQL("""
    ALTER TABLE {table}
        ADD COLUMN IF NOT EXISTS replays     integer NOT NULL DEFAULT 0,
        ADD COLUMN IF NOT EXISTS replayed_at timestamptz
""")


def has_replay_columns(conn: Connection, schema: str) -> bool:
    return _has_column(conn, schema, "replays")


def require_replay_columns(conn: Connection, schema: str) -> None:
    """For the commands that read or write replays: a clear error on an older ledger."""
    if not has_replay_columns(conn, schema):
        raise ConfigError(
            f"the ledger {schema}.{LEDGER_TABLE} predates replays; run `loadstar init-db` "
            "as its owner to add the columns"
        )


def _has_column(conn: Connection, schema: str, column: str) -> bool:
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT 1 FROM pg_attribute
            WHERE attrelid = to_regclass(%s) AND attname = %s AND NOT attisdropped
            """,
            (sql.Identifier(schema, LEDGER_TABLE).as_string(conn), column),
        )
        return cur.fetchone() is not None


def ledger_ddl(schema: str) -> sql.Composed:
    return sql.SQL("""
        CREATE TABLE IF NOT EXISTS {table} (
            bucket        text        NOT NULL,
            key           text        NOT NULL,
            table_name    text        NOT NULL,
            etag          text        NOT NULL,
            size_bytes    bigint      NOT NULL,
            file_instant  timestamptz NOT NULL,
            status        text        NOT NULL
                CHECK (status IN ('loaded', 'failed', 'skipped', 'out_of_order')),
            rows_in_file  bigint,
            rows_written  bigint,
            attempts      integer     NOT NULL DEFAULT 0,
            reason        text,
            run_id        text,
            first_seen_at timestamptz NOT NULL DEFAULT now(),
            updated_at    timestamptz NOT NULL DEFAULT now(),
            loaded_at     timestamptz,
            replays       integer     NOT NULL DEFAULT 0,
            replayed_at   timestamptz,
            PRIMARY KEY (bucket, key)
        );
        CREATE INDEX IF NOT EXISTS {index} ON {table} (bucket, table_name, file_instant);

        -- For each dimension row, the file that last set it: a row takes a
        -- file's values only when that file is not older, whatever the order
        -- files arrive in. Written in the same transaction as the row.
        CREATE TABLE IF NOT EXISTS {versions} (
            table_name    text        NOT NULL,
            row_key       text        NOT NULL,
            file_instant  timestamptz NOT NULL,
            file_key      text        NOT NULL,
            PRIMARY KEY (table_name, row_key)
        );

        -- Per table and bucket: where the last listing ended and when the
        -- last full one ran, so a run lists only what is new.
        CREATE TABLE IF NOT EXISTS {state} (
            bucket            text        NOT NULL,
            table_name        text        NOT NULL,
            watermark         text,
            time_ordered      boolean     NOT NULL DEFAULT false,
            last_full_listing timestamptz,
            PRIMARY KEY (bucket, table_name)
        )
    """).format(
        table=ledger_table(schema),
        index=sql.Identifier(f"{LEDGER_TABLE}_table_idx"),
        versions=sql.Identifier(schema, VERSIONS_TABLE),
        state=sql.Identifier(schema, STATE_TABLE),
    )


def known_files(
    conn: Connection, schema: str, bucket: str, table: str, keys: Sequence[str]
) -> Known:
    """What the ledger knows of these keys of the table: one lookup, as many rows as keys."""
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                SELECT key, etag, status FROM {}
                WHERE bucket = %s AND table_name = %s AND key = ANY(%s)
            """).format(ledger_table(schema)),
            (bucket, table, list(keys)),
        )
        files = {key: (etag, status) for key, etag, status in cur.fetchall()}
    return Known(files=files)


def failed_files(conn: Connection, schema: str, bucket: str, table: str) -> list[Recorded]:
    """The table's files whose last attempt failed, to be tried again, oldest first.

    Ledgers from before convergent upserts also hold ``out_of_order`` files:
    they load now like any other.
    """
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                SELECT key, etag, size_bytes, file_instant FROM {}
                WHERE bucket = %s AND table_name = %s AND status IN ('failed', 'out_of_order')
                ORDER BY file_instant, key
            """).format(ledger_table(schema)),
            (bucket, table),
        )
        return [Recorded(*row) for row in cur.fetchall()]


def newest_loaded(
    conn: Connection, schema: str, bucket: str, table: str
) -> tuple[datetime, str] | None:
    """(instant, key) of the table's newest loaded file, if any."""
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                SELECT file_instant, key FROM {}
                WHERE bucket = %s AND table_name = %s AND status = 'loaded'
                ORDER BY file_instant DESC, key COLLATE "C" DESC LIMIT 1
            """).format(ledger_table(schema)),
            (bucket, table),
        )
        newest = cur.fetchone()
    return (newest[0], newest[1]) if newest else None


def claim(
    conn: Connection, schema: str, bucket: str, table: str, file: SourceFile, run_id: str
) -> bool:
    """Inside the file's transaction: lock its ledger row for loading.

    False when another run has loaded it meanwhile. The row lock this takes
    also serialises two loaders that somehow both hold no table lock.
    """
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                INSERT INTO {table} AS l
                    (bucket, key, table_name, etag, size_bytes, file_instant, status,
                     attempts, run_id)
                VALUES (%s, %s, %s, %s, %s, %s, 'loaded', 1, %s)
                ON CONFLICT (bucket, key) DO UPDATE
                SET etag = EXCLUDED.etag, size_bytes = EXCLUDED.size_bytes,
                    file_instant = EXCLUDED.file_instant, table_name = EXCLUDED.table_name,
                    status = 'loaded', attempts = l.attempts + 1, run_id = EXCLUDED.run_id
                WHERE l.status NOT IN ('loaded', 'skipped')
                RETURNING 1
            """).format(table=ledger_table(schema)),
            (bucket, file.key, table, file.etag, file.size, file.instant, run_id),
        )
        return cur.fetchone() is not None


def mark_loaded(
    conn: Connection, schema: str, bucket: str, key: str, rows_in_file: int, rows_written: int
) -> None:
    """Inside the file's transaction, after its rows: complete the ledger row."""
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                UPDATE {table}
                SET rows_in_file = %s, rows_written = %s, reason = NULL,
                    loaded_at = now(), updated_at = now()
                WHERE bucket = %s AND key = %s
            """).format(table=ledger_table(schema)),
            (rows_in_file, rows_written, bucket, key),
        )


def record(
    conn: Connection,
    schema: str,
    bucket: str,
    table: str,
    file: SourceFile,
    status: Status,
    reason: str,
    run_id: str,
) -> bool:
    """In a transaction of its own: a file that did not load, and why.

    False when the file is loaded meanwhile: a loaded row is never overwritten.
    """
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                INSERT INTO {table} AS l
                    (bucket, key, table_name, etag, size_bytes, file_instant, status,
                     attempts, reason, run_id)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (bucket, key) DO UPDATE
                SET etag = EXCLUDED.etag, size_bytes = EXCLUDED.size_bytes,
                    status = EXCLUDED.status, reason = EXCLUDED.reason,
                    attempts = l.attempts + EXCLUDED.attempts,
                    run_id = EXCLUDED.run_id, updated_at = now()
                -- Loaded stays loaded; an operator's skip, which may land while
                -- a run is still failing the file, stays skipped.
                WHERE l.status <> 'loaded'
                  AND (l.status <> 'skipped' OR EXCLUDED.status = 'skipped')
            """).format(table=ledger_table(schema)),
            (
                bucket,
                file.key,
                table,
                file.etag,
                file.size,
                file.instant,
                status.value,
                1 if status is Status.FAILED else 0,
                reason,
                run_id,
            ),
        )
        return cur.rowcount == 1


def skip(conn: Connection, schema: str, bucket: str, key: str, reason: str) -> str | None:
    """Operator action: never load this key (it must already be known to the ledger).

    ``reason`` is added below what the row's reason said (why it failed, an
    earlier skip), so the row keeps the whole trail; the reason as it now
    stands, or None when the key is loaded.
    """
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                UPDATE {table}
                SET status = 'skipped', updated_at = now(),
                    reason = CASE
                        WHEN coalesce(reason, '') = '' THEN %(reason)s
                        WHEN status = 'failed' THEN 'failed: ' || reason || E'\n' || %(reason)s
                        ELSE reason || E'\n' || %(reason)s
                    END
                WHERE bucket = %(bucket)s AND key = %(key)s AND status <> 'loaded'
                RETURNING reason
            """).format(table=ledger_table(schema)),
            {"reason": reason, "bucket": bucket, "key": key},
        )
        row = cur.fetchone()
        return None if row is None else str(row[0])


def claim_replay(conn: Connection, schema: str, bucket: str, file: SourceFile) -> bool:
    """Inside a replay's transaction: take a loaded file's ledger row to load it again.

    The row keeps its status and what its first load recorded (rows, time,
    run) and counts the replay; False when the file is not a loaded one.
    """
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                UPDATE {table}
                SET etag = %s, size_bytes = %s, replays = replays + 1, replayed_at = now(),
                    updated_at = now()
                WHERE bucket = %s AND key = %s AND status = 'loaded'
                RETURNING 1
            """).format(table=ledger_table(schema)),
            (file.etag, file.size, bucket, file.key),
        )
        return cur.fetchone() is not None
