"""One load per table at a time: a PostgreSQL advisory lock per table.

Loads of different tables go side by side; two of the same table serialise.
The lock is keyed by the ledger schema and the table, so separate ledgers in
one database never block each other, and it lives with the session: a run
killed mid-file leaves no lock behind.
"""

from __future__ import annotations

import time

from loadstar.warehouse.connection import Connection
from loadstar.warehouse.ledger import LOCK_CLASS

_POLL_SECONDS = 0.1


def lock_table(conn: Connection, schema: str, table: str, wait_seconds: float = 0.0) -> bool:
    """Take the table's lock, waiting up to ``wait_seconds``; False if another load holds it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s || '.' || %s))",
                (LOCK_CLASS, schema, table),
            )
            row = cur.fetchone()
        if row and row[0]:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)


def unlock_table(conn: Connection, schema: str, table: str) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_advisory_unlock(%s, hashtext(%s || '.' || %s))",
            (LOCK_CLASS, schema, table),
        )
