"""Everything that speaks SQL: the only package that knows PostgreSQL.

It owns the connection (credentials, retries, masking), the catalogue's
description of a table, the COPY encoders, the set-based writes (dimension
upserts, fact appends once per version), the set-based foreign-key checks,
the ledger and its lock, the DDL, and the mapping of every driver error to a
loadstar error with its scope. Runs and operator commands use it only through
`Warehouse`; nothing here imports ``run``, ``ops`` or the entry points. It may
import ``shape`` (what a file's columns become), ``source`` (the file it
records), ``telemetry``, ``config`` and ``errors``.
"""

from loadstar.warehouse.errors import STATEMENT_TIMEOUT
from loadstar.warehouse.freshness import (
    Freshness,
    HourActivity,
    ProblemFile,
    RunActivity,
    TableActivity,
    read_freshness,
)
from loadstar.warehouse.history import Entry, Totals
from loadstar.warehouse.ledger import Known, Status
from loadstar.warehouse.session import Warehouse
from loadstar.warehouse.state import TableState
from loadstar.warehouse.write import WriteResult

__all__ = [
    "STATEMENT_TIMEOUT",
    "Entry",
    "Freshness",
    "HourActivity",
    "Known",
    "ProblemFile",
    "RunActivity",
    "Status",
    "TableActivity",
    "TableState",
    "Totals",
    "Warehouse",
    "WriteResult",
    "read_freshness",
]
