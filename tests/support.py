"""Helpers for tests: writing Parquet to the bucket and reading the warehouse back."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
from mypy_boto3_s3 import S3Client
from psycopg import sql

from loadstar.dev.sample import DIMENSION_KEYS, RENAMES, SampleFile, parquet_bytes

Conn = psycopg.Connection[tuple[Any, ...]]


class FakeContext:
    """A Lambda context whose remaining time the test decides."""

    aws_request_id = "req-0001"
    function_name = "loadstar-test"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:loadstar-test"

    def __init__(self, remaining_ms: int = 900_000) -> None:
        self.remaining_ms = remaining_ms
        self.calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return self.remaining_ms


class DeadlineContext(FakeContext):
    """A context whose time really runs out ``seconds`` after it is made."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def put_table(s3: S3Client, bucket: str, key: str, table: pa.Table) -> str:
    """Write ``table`` as Parquet at ``key``; its ETag."""
    response = s3.put_object(Bucket=bucket, Key=key, Body=parquet_bytes(table))
    return response["ETag"].strip('"')


def put_files(s3: S3Client, bucket: str, files: list[SampleFile]) -> None:
    for f in files:
        put_table(s3, bucket, f.key, f.data)


def count(conn: Conn, table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


def ledger(conn: Conn) -> dict[str, dict[str, Any]]:
    """The ledger, by key."""
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    rows = cur.execute("SELECT * FROM loadstar.load_ledger ORDER BY key").fetchall()
    return {str(r["key"]): dict(r) for r in rows}


def staff_key(moment: str) -> str:
    return f"dimension/staff-{moment}.parquet"


def department(db: Conn, staff_id: int) -> str:
    row = db.execute(
        "SELECT department_name FROM dim_staff WHERE staff_id = %s", (staff_id,)
    ).fetchone()
    assert row is not None
    return str(row[0])


def staff(ids: list[int], *, department: str = "Sales", **overrides: Any) -> pa.Table:
    """A dim_staff file's rows, as a pandas transform writes them."""
    data: dict[str, Any] = {
        "staff_id": pa.array(ids, pa.int64()),
        "first_name": [f"First{i}" for i in ids],
        "last_name": [f"Last{i}" for i in ids],
        "department_name": [department] * len(ids),
        "location": ["Leeds"] * len(ids),
        "email_address": [f"s{i}@terrifictotes.com" for i in ids],
    }
    data.update(overrides)
    return pa.table(data)


FACT_COLUMNS = (
    "sales_order_id",
    "created_date",
    "created_time",
    "last_updated_date",
    "last_updated_time",
    "sales_staff_id",
    "counterparty_id",
    "units_sold",
    "unit_price",
    "currency_id",
    "design_id",
    "agreed_payment_date",
    "agreed_delivery_date",
    "agreed_delivery_location_id",
)


def fact_row(row: dict[str, Any]) -> tuple[Any, ...]:
    """A sales-order row from a file, as the warehouse will hold it."""
    from decimal import Decimal

    from loadstar.dev.sample import time_of

    out = []
    for c in FACT_COLUMNS:
        value = row[c]
        if c.endswith("_time"):
            value = time_of(value)
        elif c == "unit_price":
            value = Decimal(str(value)).quantize(Decimal("0.01"))
        out.append(value)
    return tuple(out)


def expected_facts(files: list[SampleFile]) -> list[tuple[Any, ...]]:
    """Every distinct version, first occurrence wins, files in time order; sorted."""
    from loadstar.dev.sample import VERSION_KEY

    seen: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    key_at = [FACT_COLUMNS.index(c) for c in VERSION_KEY]
    for f in files:
        if f.table != "fact_sales_order":
            continue
        for row in f.data.to_pylist():
            values = fact_row(row)
            seen.setdefault(tuple(values[i] for i in key_at), values)
    return sorted(seen.values())


def warehouse_facts(conn: Conn) -> list[tuple[Any, ...]]:
    query = sql.SQL("SELECT {} FROM fact_sales_order").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in FACT_COLUMNS)
    )
    return sorted(tuple(r) for r in conn.execute(query).fetchall())


def expected_dimensions(files: list[SampleFile]) -> dict[str, list[tuple[Any, ...]]]:
    """Each dimension as its files leave it: upserted file by file in time order."""
    import datetime as dt

    from loadstar.source.keys import instant_from_key

    state: dict[str, dict[Any, dict[str, Any]]] = {}
    ordered = sorted(files, key=lambda f: (instant_from_key(f.key) or dt.datetime.min, f.key))
    for f in ordered:
        if f.table not in DIMENSION_KEYS:
            continue
        rows = state.setdefault(f.table, {})
        for row in f.data.to_pylist():
            row = {RENAMES.get(k, k): v for k, v in row.items()}
            row = {k: v.date() if isinstance(v, dt.datetime) else v for k, v in row.items()}
            rows[row[DIMENSION_KEYS[f.table]]] = {
                **rows.get(row[DIMENSION_KEYS[f.table]], {}),
                **row,
            }
    return {
        table: sorted(tuple(sorted(r.items())) for r in rows.values())
        for table, rows in state.items()
    }


def warehouse_dimensions(conn: Conn, tables: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    found = {}
    for table in tables:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        rows = cur.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))).fetchall()
        found[table] = sorted(tuple(sorted(r.items())) for r in rows)
    return found


def assert_exact(conn: Conn, files: list[SampleFile]) -> None:
    """Every table holds exactly what the files describe, and the ledger agrees."""
    dims = expected_dimensions(files)
    assert warehouse_dimensions(conn, list(dims)) == dims
    facts = expected_facts(files)
    assert warehouse_facts(conn) == facts
    rows = ledger(conn)
    assert {k for k, r in rows.items() if r["status"] == "loaded"} == {f.key for f in files}
    written = sum(r["rows_written"] for r in rows.values() if r["table_name"] == "fact_sales_order")
    assert written == len(facts)


def hold_table_lock(conn: Conn, table: str, schema: str = "loadstar") -> None:
    """Take ``table``'s load lock on ``conn``, as another load would, until it closes."""
    from loadstar.warehouse.ledger import LOCK_CLASS

    conn.execute(
        "SELECT pg_advisory_lock(%s, hashtext(%s || '.' || %s))", (LOCK_CLASS, schema, table)
    )


def fact_table_without_version_key(db: Conn, directory: Path) -> Path:
    """A catalogue whose fact table has no version key, and the table without the
    unique index that goes with one: a file loaded twice would double its rows."""
    from loadstar.config import default_catalogue

    config = directory / "catalogue.toml"
    names = [spec.name for spec in default_catalogue() if spec.kind == "dimension"]
    config.write_text(
        "".join(f"[tables.{name}]\n" for name in names)
        + "[tables.fact_sales_order]\nversion_key = []\n"
    )
    db.execute("DROP INDEX fact_sales_order_version")
    return config
