"""The ledger read for the freshness report: per table, per hour, per problem file, per run.

Four grouped statements over the bucket's ledger rows, whatever its size: the
page shows sums, never the files themselves, but for the few that did not load.
The ledger keeps each file's latest state only, so a run is known by the files
whose last change it made: a file that failed in one run and loaded in the next
counts for the second alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from loadstar.warehouse import ledger
from loadstar.warehouse.connection import Connection
from loadstar.warehouse.errors import classify_ledger
from loadstar.warehouse.ledger import Status, ledger_table

if TYPE_CHECKING:
    from loadstar.warehouse.session import Warehouse

PROBLEMS = (Status.FAILED, Status.SKIPPED, Status.OUT_OF_ORDER)
"""The states of a file that is in the bucket and not in the warehouse."""


@dataclass(frozen=True)
class TableActivity:
    """One table's files in the ledger, and the file it loaded last."""

    table: str
    files_loaded: int = 0
    rows_written: int = 0
    failed: int = 0
    skipped: int = 0
    out_of_order: int = 0
    last_key: str | None = None
    """The file loaded most recently, which need not be the newest by its timestamp."""
    last_instant: datetime | None = None
    last_loaded_at: datetime | None = None


@dataclass(frozen=True)
class HourActivity:
    table: str
    hour: datetime
    """The start of the hour, in UTC."""
    files: int
    rows: int


@dataclass(frozen=True)
class ProblemFile:
    table: str
    key: str
    status: str
    reason: str
    attempts: int
    file_instant: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RunActivity:
    run_id: str
    first_at: datetime
    last_at: datetime
    files_loaded: int
    files_failed: int
    rows_written: int


@dataclass(frozen=True)
class Freshness:
    """What the ledger says of the bucket's tables, for the report."""

    tables: list[TableActivity]
    """One per table asked for, in the order asked, those with no file included."""
    hours: list[HourActivity]
    """Hours in which a table loaded a file, oldest first."""
    problems: list[ProblemFile]
    """The files that did not load, most recently changed first."""
    runs: list[RunActivity]
    """Runs, most recent first."""

    @classmethod
    def nothing(cls, tables: Sequence[str]) -> Freshness:
        """The report of a bucket no run has touched (or of a warehouse with no ledger yet)."""
        return cls(
            tables=[TableActivity(table) for table in tables], hours=[], problems=[], runs=[]
        )


def read_freshness(
    warehouse: Warehouse,
    bucket: str,
    tables: Sequence[str],
    *,
    since: datetime,
    until: datetime,
    problems: int,
    runs: int,
    not_runs: Sequence[str] = (),
) -> Freshness:
    """The ledger's account of ``tables``: loads per hour in [since, until), at most
    ``problems`` problem files and ``runs`` runs (leaving out the ids in ``not_runs``);
    nothing yet when there is no ledger."""
    conn, schema, names = warehouse.conn, warehouse.schema, list(tables)
    try:
        if not ledger.exists(conn, schema):
            return Freshness.nothing(names)
        totals = _totals(conn, schema, bucket, names)
        return Freshness(
            tables=[totals.get(name, TableActivity(name)) for name in names],
            hours=_hours(conn, schema, bucket, names, since, until),
            problems=_problems(conn, schema, bucket, names, problems),
            runs=_runs(conn, schema, bucket, runs, list(not_runs)),
        )
    except psycopg.Error as exc:
        raise classify_ledger(exc, schema) from exc


def _totals(
    conn: Connection, schema: str, bucket: str, tables: list[str]
) -> dict[str, TableActivity]:
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                SELECT table_name,
                       count(*) FILTER (WHERE status = %(loaded)s),
                       coalesce(sum(rows_written) FILTER (WHERE status = %(loaded)s), 0),
                       count(*) FILTER (WHERE status = %(failed)s),
                       count(*) FILTER (WHERE status = %(skipped)s),
                       count(*) FILTER (WHERE status = %(out_of_order)s)
                FROM {ledger}
                WHERE bucket = %(bucket)s AND table_name = ANY(%(tables)s)
                GROUP BY table_name
            """).format(ledger=ledger_table(schema)),
            {**_STATES, "bucket": bucket, "tables": tables},
        )
        counts = {row[0]: row[1:] for row in cur.fetchall()}
        cur.execute(
            sql.SQL("""
                SELECT DISTINCT ON (table_name) table_name, key, file_instant, loaded_at
                FROM {ledger}
                WHERE bucket = %(bucket)s AND table_name = ANY(%(tables)s)
                  AND status = %(loaded)s AND loaded_at IS NOT NULL
                ORDER BY table_name, loaded_at DESC, file_instant DESC, key DESC
            """).format(ledger=ledger_table(schema)),
            {**_STATES, "bucket": bucket, "tables": tables},
        )
        last = {row[0]: row[1:] for row in cur.fetchall()}
    found = {}
    for table, (loaded, rows, failed, skipped, out_of_order) in counts.items():
        key, instant, loaded_at = last.get(table, (None, None, None))
        found[table] = TableActivity(
            table=table,
            files_loaded=loaded,
            rows_written=int(rows),
            failed=failed,
            skipped=skipped,
            out_of_order=out_of_order,
            last_key=key,
            last_instant=_utc(instant),
            last_loaded_at=_utc(loaded_at),
        )
    return found


def _hours(
    conn: Connection,
    schema: str,
    bucket: str,
    tables: list[str],
    since: datetime,
    until: datetime,
) -> list[HourActivity]:
    with conn.cursor() as cur:
        # The hour in UTC whatever the session's TimeZone: a timestamp without
        # zone, read back as UTC.
        cur.execute(
            sql.SQL("""
                SELECT table_name, date_trunc('hour', loaded_at AT TIME ZONE 'UTC') AS hour,
                       count(*), coalesce(sum(rows_written), 0)
                FROM {ledger}
                WHERE bucket = %(bucket)s AND table_name = ANY(%(tables)s)
                  AND status = %(loaded)s AND loaded_at >= %(since)s AND loaded_at < %(until)s
                GROUP BY table_name, hour
                ORDER BY hour, table_name
            """).format(ledger=ledger_table(schema)),
            {**_STATES, "bucket": bucket, "tables": tables, "since": since, "until": until},
        )
        return [
            HourActivity(table, hour.replace(tzinfo=UTC), files, int(rows))
            for table, hour, files, rows in cur.fetchall()
        ]


def _problems(
    conn: Connection, schema: str, bucket: str, tables: list[str], limit: int
) -> list[ProblemFile]:
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                SELECT table_name, key, status, coalesce(reason, ''), attempts,
                       file_instant, updated_at
                FROM {ledger}
                WHERE bucket = %s AND table_name = ANY(%s) AND status = ANY(%s)
                ORDER BY updated_at DESC, key
                LIMIT %s
            """).format(ledger=ledger_table(schema)),
            (bucket, tables, [status.value for status in PROBLEMS], limit),
        )
        return [
            ProblemFile(table, key, status, reason, attempts, _at(instant), _at(updated))
            for table, key, status, reason, attempts, instant, updated in cur.fetchall()
        ]


def _runs(
    conn: Connection, schema: str, bucket: str, limit: int, not_runs: list[str]
) -> list[RunActivity]:
    with conn.cursor() as cur:
        # When the run changed a file: a replay moves a loaded file's updated_at
        # but not its loaded_at, and an operator's skip moves a failed file's;
        # neither is the run's doing. A run whose files were all skipped since
        # has only the skips' times left.
        cur.execute(
            sql.SQL("""
                SELECT run_id,
                       coalesce(min(coalesce(loaded_at, updated_at))
                                    FILTER (WHERE status <> %(skipped)s), min(updated_at)),
                       coalesce(max(coalesce(loaded_at, updated_at))
                                    FILTER (WHERE status <> %(skipped)s), max(updated_at)),
                       count(*) FILTER (WHERE status = %(loaded)s),
                       count(*) FILTER (WHERE status = %(failed)s),
                       coalesce(sum(rows_written) FILTER (WHERE status = %(loaded)s), 0)
                FROM {ledger}
                WHERE bucket = %(bucket)s AND run_id IS NOT NULL
                  AND NOT run_id = ANY(%(not_runs)s)
                GROUP BY run_id
                ORDER BY 3 DESC, run_id DESC
                LIMIT %(limit)s
            """).format(ledger=ledger_table(schema)),
            {**_STATES, "bucket": bucket, "not_runs": not_runs, "limit": limit},
        )
        return [
            RunActivity(run_id, _at(first), _at(last), loaded, failed, int(rows))
            for run_id, first, last, loaded, failed, rows in cur.fetchall()
        ]


_STATES = {state.value: state.value for state in Status}
"""Each ledger state as a named parameter of its own name: ``%(loaded)s``."""


def _at(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)
