"""Where each table's listing stands: its watermark and its last full listing.

A table whose keys sort in time order is listed from its watermark (the last
key up to which every file is settled in the ledger) rather than from the
start, so a run's cost depends on what is new, not on the bucket's history.
A full listing still runs at least every ``full_listing_interval`` and finds
a late file whose key sorts below the watermark.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from loadstar.warehouse.connection import Connection
from loadstar.warehouse.ledger import STATE_TABLE


@dataclass(frozen=True)
class TableState:
    watermark: str | None = None
    """Every claimed key up to this one is settled in the ledger (loaded, failed or skipped)."""
    time_ordered: bool = False
    """The table's keys sort in the order of their instants: listing from a watermark is safe."""
    last_full_listing: datetime | None = None


def read(conn: Connection, schema: str, bucket: str, table: str) -> TableState:
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                SELECT watermark, time_ordered, last_full_listing FROM {}
                WHERE bucket = %s AND table_name = %s
            """).format(sql.Identifier(schema, STATE_TABLE)),
            (bucket, table),
        )
        row = cur.fetchone()
    return TableState(*row) if row else TableState()


def listed(
    conn: Connection,
    schema: str,
    bucket: str,
    table: str,
    *,
    watermark: str | None,
    time_ordered: bool,
    full: bool,
) -> None:
    """Record where a listing left the table: its watermark, and the time when it was full."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            sql.SQL("""
                INSERT INTO {} AS s (bucket, table_name, watermark, time_ordered, last_full_listing)
                VALUES (%(bucket)s, %(table)s, %(watermark)s, %(ordered)s,
                        CASE WHEN %(full)s THEN now() END)
                ON CONFLICT (bucket, table_name) DO UPDATE
                SET watermark = EXCLUDED.watermark,
                    time_ordered = EXCLUDED.time_ordered,
                    last_full_listing = COALESCE(EXCLUDED.last_full_listing, s.last_full_listing)
            """).format(sql.Identifier(schema, STATE_TABLE)),
            {
                "bucket": bucket,
                "table": table,
                "watermark": watermark,
                "ordered": time_ordered,
                "full": full,
            },
        )
