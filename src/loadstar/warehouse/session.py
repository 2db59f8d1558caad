"""`Warehouse`: the one door through which runs and operator commands reach PostgreSQL.

It holds a run's connection and its lock, and offers what a load needs and
nothing of SQL: describe a table, what the ledger knows of a table's files,
load one file all or nothing, record a file that did not load, and the
ledger's queries for the operator's commands. Every driver error leaves it as
a loadstar error with its scope (`loadstar.warehouse.errors`), so the callers
never see psycopg.

The advisory lock lives and dies with the connection. When the connection is
lost mid-run (a restart, a failover, ``pg_terminate_backend``) the run
reconnects and takes the lock again; if another run took it meanwhile, this
one stops and leaves the rest to that one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime

import psycopg
import pyarrow as pa
from psycopg import sql

from loadstar.config import Settings
from loadstar.errors import LockLostError
from loadstar.shape.mapping import LoadPlan
from loadstar.shape.table import TableInfo
from loadstar.source.discovery import SourceFile
from loadstar.warehouse import history, ledger, locks, state
from loadstar.warehouse.catalog import describe_table
from loadstar.warehouse.connection import Connection, open_connection
from loadstar.warehouse.errors import classify, classify_ledger
from loadstar.warehouse.history import Entry, Totals
from loadstar.warehouse.ledger import Known, Recorded, Status
from loadstar.warehouse.schema import init_warehouse
from loadstar.warehouse.state import TableState
from loadstar.warehouse.versions import FileVersion
from loadstar.warehouse.write import WriteResult, write_rows

_NOTHING_KNOWN = Known(files={})

LOCK_RECOVERY_SECONDS = 5.0


class Warehouse:
    """A connection to the warehouse, holding the locks of the tables it loads.

    ``read_only`` sessions (``status``, ``plan``, ``history``) take no lock,
    create nothing, and cannot write even by mistake.
    """

    def __init__(self, settings: Settings, *, read_only: bool = False) -> None:
        self.settings = settings
        self.schema = settings.ledger_schema
        self.read_only = read_only
        self._conn: Connection | None = None
        self._rehearsing = False
        self._locked: set[str] = set()

    # -- the connection and the lock ----------------------------------------------------------

    @property
    def conn(self) -> Connection:
        """The live connection, for the warehouse's own modules only."""
        if self._conn is None:
            raise RuntimeError("the warehouse session is not open")
        return self._conn

    @property
    def healthy(self) -> bool:
        return self._conn is not None and not self._conn.broken and not self._conn.closed

    def connect(self) -> None:
        """Connect (with retries); `ConnectionFailedError` when the warehouse cannot be reached."""
        self._conn = open_connection(self.settings)
        self.limit_time(lock_seconds=self.settings.lock_timeout_seconds)
        if self.read_only:
            with self._ledger_errors():
                # The connection is in autocommit, where psycopg's read_only does not
                # apply; the server-side default covers every statement.
                self._conn.execute("SET default_transaction_read_only = on")

    def open(self) -> None:
        """Connect and create the ledger if it is missing."""
        self.connect()
        with self._ledger_errors():
            ledger.ensure_ledger(self.conn, self.schema)

    def lock_table(self, table: str, wait_seconds: float = 0.0) -> bool:
        """Take the table's load lock, waiting up to ``wait_seconds``; False if it stays busy."""
        with self._ledger_errors():
            taken = locks.lock_table(self.conn, self.schema, table, wait_seconds)
        if taken:
            self._locked.add(table)
        return taken

    def unlock_table(self, table: str) -> None:
        if table in self._locked and self.healthy:
            with self._ledger_errors():
                locks.unlock_table(self.conn, self.schema, table)
        self._locked.discard(table)

    def limit_time(self, *, lock_seconds: float, statement_seconds: float | None = None) -> None:
        """How long any statement may wait for a lock, and (with a deadline) run at all.

        Without a lock timeout another session's open ``LOCK TABLE`` would hold
        a run forever; PostgreSQL's 0 means "no limit", so at least 1 ms.
        """
        with self._ledger_errors():
            for setting, seconds in (
                ("lock_timeout", lock_seconds),
                ("statement_timeout", statement_seconds),
            ):
                if seconds is not None:
                    milliseconds = max(1, int(seconds * 1000))
                    self.conn.execute(
                        sql.SQL("SET {} = {}").format(
                            sql.Identifier(setting), sql.Literal(f"{milliseconds}ms")
                        )
                    )

    def ensure(self) -> None:
        """A working connection holding the table locks it held, or `LockLostError`.

        The lost connection's server process may not have noticed its loss
        yet and still hold a lock for a moment; a few seconds tell that from
        another load having taken it.
        """
        if self.healthy:
            return
        held = set(self._locked)
        self.close()
        self.connect()
        for table in sorted(held):
            if not self.lock_table(table, wait_seconds=LOCK_RECOVERY_SECONDS):
                raise LockLostError(
                    f"the warehouse connection was lost and another load took {table} over"
                )

    def close(self) -> None:
        self._locked.clear()  # the locks live and die with the connection
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    # -- tables -------------------------------------------------------------------------------

    def describe(self, name: str) -> TableInfo:
        """The table as the warehouse's catalogue has it; `TableError` when it is missing."""
        try:
            return describe_table(self.conn, name, self.settings.schema)
        except psycopg.Error as exc:
            raise classify(exc) from exc

    def load_file(
        self,
        plan: LoadPlan,
        batches: Iterable[pa.RecordBatch],
        bucket: str,
        file: SourceFile,
        run_id: str,
        *,
        replay: bool = False,
    ) -> WriteResult | None:
        """The file's rows and its ledger row, in one transaction: all or nothing.

        None when the ledger says the file is loaded already (another run, or
        an attempt whose commit succeeded though its reply was lost). With
        ``replay``, the file must be a loaded one, and is loaded again.
        """
        conn = self.conn
        try:
            with conn.transaction():
                if replay:
                    claimed = ledger.claim_replay(conn, self.schema, bucket, file)
                else:
                    claimed = ledger.claim(conn, self.schema, bucket, plan.spec.name, file, run_id)
                if not claimed:
                    return None
                version = FileVersion(self.schema, plan.spec.name, file.instant, file.key)
                result = write_rows(conn, plan, batches, version)
                if not replay:
                    # A replay keeps what the first load recorded; it only counts itself.
                    ledger.mark_loaded(
                        conn, self.schema, bucket, file.key, result.rows_in, result.rows_written
                    )
            return result
        except psycopg.Error as exc:
            raise classify(exc, table=plan.table) from exc

    @contextmanager
    def rehearsal(self) -> Iterator[None]:
        """One transaction for a dry run, always rolled back at its end.

        Inside it, `try_write` keeps each file that would load (so later files
        meet the rows earlier ones would have written, as in a run) and undoes
        each that would fail. Even a read-only session may write in it; the
        ledger is never touched. A serial column's sequence may advance:
        sequences never roll back.
        """
        try:
            with self.conn.transaction():
                if self.read_only:
                    self.conn.execute("SET TRANSACTION READ WRITE")
                self._rehearsing = True
                yield
                raise psycopg.Rollback
        except psycopg.Error as exc:
            raise classify(exc) from exc
        finally:
            self._rehearsing = False

    def try_write(self, plan: LoadPlan, batches: Iterable[pa.RecordBatch]) -> WriteResult:
        """Write the rows as a load would, with every check the warehouse makes.

        Inside a `rehearsal` the rows stay until it ends; alone, they are undone at once.
        """
        conn = self.conn
        try:
            if self._rehearsing:
                with conn.transaction():
                    return write_rows(conn, plan, batches)
            with self.rehearsal():
                return write_rows(conn, plan, batches)
        except psycopg.Error as exc:
            raise classify(exc, table=plan.table) from exc

    def create_tables(self, schema: str | None) -> str:
        """The Terrific Totes star schema's tables (idempotent), in ``schema`` when given;
        the schema they are in."""
        try:
            init_warehouse(self.conn, schema)
            row = self.conn.execute("SELECT current_schema()").fetchone()
        except psycopg.Error as exc:
            raise classify(exc) from exc
        found = row[0] if row else None
        return schema or (str(found) if found else "(none: the search path names no schema)")

    def write(self, plan: LoadPlan, batches: Iterable[pa.RecordBatch]) -> WriteResult:
        """Rows that come from no file (`load_to_warehouse`), in one transaction; no ledger."""
        try:
            with self.conn.transaction():
                return write_rows(self.conn, plan, batches)
        except psycopg.Error as exc:
            raise classify(exc, table=plan.table) from exc

    # -- the ledger ---------------------------------------------------------------------------

    def ledger_exists(self) -> bool:
        with self._ledger_errors():
            return ledger.exists(self.conn, self.schema)

    def ensure_ledger(self) -> None:
        with self._ledger_errors():
            ledger.ensure_ledger(self.conn, self.schema)

    def require_replay_columns(self) -> None:
        with self._ledger_errors():
            ledger.require_replay_columns(self.conn, self.schema)

    def known_files(self, bucket: str, table: str, keys: Sequence[str]) -> Known:
        """What the ledger knows of these keys (nothing, if there is no ledger yet)."""
        with self._ledger_errors():
            if self.read_only and not ledger.exists(self.conn, self.schema):
                return _NOTHING_KNOWN
            return ledger.known_files(self.conn, self.schema, bucket, table, keys)

    def failed_files(self, bucket: str, table: str) -> list[Recorded]:
        """The table's files whose last attempt failed (none, if there is no ledger yet)."""
        with self._ledger_errors():
            if self.read_only and not ledger.exists(self.conn, self.schema):
                return []
            return ledger.failed_files(self.conn, self.schema, bucket, table)

    def listing_state(self, bucket: str, table: str) -> TableState:
        """Where the table's last listing ended (nothing known, if there is no ledger yet)."""
        with self._ledger_errors():
            if self.read_only and not ledger.has_versions(self.conn, self.schema):
                return TableState()  # no ledger yet, or one an older loadstar made
            return state.read(self.conn, self.schema, bucket, table)

    def listed(
        self, bucket: str, table: str, *, watermark: str | None, time_ordered: bool, full: bool
    ) -> None:
        """Record where a listing left the table."""
        with self._ledger_errors():
            state.listed(
                self.conn,
                self.schema,
                bucket,
                table,
                watermark=watermark,
                time_ordered=time_ordered,
                full=full,
            )

    def newest_loaded(self, bucket: str, table: str) -> tuple[datetime, str] | None:
        with self._ledger_errors():
            if self.read_only and not ledger.exists(self.conn, self.schema):
                return None
            return ledger.newest_loaded(self.conn, self.schema, bucket, table)

    def record(
        self, bucket: str, table: str, file: SourceFile, status: Status, reason: str, run_id: str
    ) -> bool:
        """In a transaction of its own: a file that did not load, and why."""
        with self._ledger_errors():
            return ledger.record(
                self.conn, self.schema, bucket, table, file, status, reason, run_id
            )

    def skip(self, bucket: str, key: str, reason: str) -> str | None:
        with self._ledger_errors():
            return ledger.skip(self.conn, self.schema, bucket, key, reason)

    def entry(self, bucket: str, key: str) -> Entry | None:
        with self._ledger_errors():
            return history.entry(self.conn, self.schema, bucket, key)

    def history(self, bucket: str, *, table: str | None, limit: int) -> list[Entry]:
        with self._ledger_errors():
            if not ledger.exists(self.conn, self.schema):
                return []
            ledger.require_replay_columns(self.conn, self.schema)
            return history.history(self.conn, self.schema, bucket, table=table, limit=limit)

    def totals(self, bucket: str, table: str) -> Totals | None:
        """The table's files in the ledger, summed up; None when there is no ledger yet."""
        with self._ledger_errors():
            if not ledger.exists(self.conn, self.schema):
                return None
            return history.totals(self.conn, self.schema, bucket, table)

    @contextmanager
    def _ledger_errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise classify_ledger(exc, self.schema) from exc
