"""The ledger's rows, most recently changed first: what happened to each file."""

from __future__ import annotations

from contextlib import closing

from loadstar.config import Settings
from loadstar.warehouse import Entry, Warehouse


def history(settings: Settings, *, table: str | None = None, limit: int = 20) -> list[Entry]:
    """The ledger's rows for the bucket (one table's, with ``table``); read-only."""
    bucket = settings.require_bucket()
    with closing(Warehouse(settings, read_only=True)) as warehouse:
        warehouse.connect()
        return warehouse.history(bucket, table=table, limit=limit)
