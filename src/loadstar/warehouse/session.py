"""A run's hold on the warehouse: its connection and the run lock, recovered after a loss.

The advisory lock lives and dies with the connection. When the connection is
lost mid-run (a restart, a failover, ``pg_terminate_backend``) the run
reconnects and takes the lock again; if another run took it meanwhile, this
one stops and leaves the rest to that one.
"""

from __future__ import annotations

from contextlib import suppress

import psycopg

from loadstar.config import Settings
from loadstar.errors import LockLostError
from loadstar.warehouse import ledger
from loadstar.warehouse.connection import Connection, open_connection


class Session:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._conn: Connection | None = None

    @property
    def conn(self) -> Connection:
        assert self._conn is not None, "the session is not open"
        return self._conn

    @property
    def healthy(self) -> bool:
        return self._conn is not None and not self._conn.broken and not self._conn.closed

    def open(self) -> bool:
        """Connect (with retries) and take the run lock; False if another run holds it."""
        self._conn = open_connection(self.settings)
        if not ledger.try_lock(self._conn, self.settings.ledger_schema):
            return False
        ledger.ensure_ledger(self._conn, self.settings.ledger_schema)
        return True

    def recover(self) -> bool:
        """After a lost connection: a new one, with the lock; False if the lock is gone."""
        self.close()
        return self.open()

    def ensure(self) -> None:
        """A working connection holding the lock, or `LockLostError`."""
        if not self.healthy and not self.recover():
            raise LockLostError("the warehouse connection was lost and another run took over")

    def close(self) -> None:
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
