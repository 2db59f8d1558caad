"""Columns by name from the warehouse's catalogue, in the configured schema, with casts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client

from loadstar import LoadFailedError, lambda_handler, load_to_warehouse
from loadstar.dev.sample import dimension_files
from loadstar.warehouse.schema import init_warehouse
from support import Conn, count, ledger, put_table

pytestmark = pytest.mark.usefixtures("env")


def test_tables_are_found_in_the_configured_schema_with_renames(
    s3: S3Client, bucket: str, db: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_warehouse(db, "project_team_2")
    config = tmp_path / "loadstar.toml"
    config.write_text(
        """
[warehouse]
schema = "project_team_2"

[tables.dim_currency]
prefix = "dim_currency/"
rename = { code = "currency_code", name = "currency_name" }
"""
    )
    monkeypatch.setenv("LOADSTAR_CONFIG", str(config))
    put_table(
        s3,
        bucket,
        "dim_currency/2025/06/09/dim_currency-20250609T105450Z.parquet",
        pa.table({"name": ["Euro"], "currency_id": pa.array([3], pa.int64()), "code": ["EUR"]}),
    )
    summary = lambda_handler({}, None)
    assert summary["tables"]["dim_currency"]["files_loaded"] == 1
    row = db.execute(
        "SELECT currency_id, currency_code, currency_name FROM project_team_2.dim_currency"
    ).fetchall()
    assert row == [(3, "EUR", "Euro")]
    assert count(db, "dim_currency") == 0  # public's table untouched


def test_pandas_types_are_cast_to_the_warehouse_types(db: Conn) -> None:
    # dim_date's date_id arrives as nanosecond timestamps, as pandas' date_range writes it
    for f in dimension_files():
        load_to_warehouse(f.data, f.table)
    assert db.execute("SELECT min(date_id) FROM dim_date").fetchone() == (dt.date(2024, 1, 1),)
    # dates as timestamps and strings, times as strings and time64, prices as doubles
    rows = load_to_warehouse(
        pa.table(
            {
                "sales_order_id": pa.array([7], pa.int64()),
                "created_date": pa.array(
                    [dt.datetime(2024, 5, 24, 14, 35)], pa.timestamp("us", tz="UTC")
                ),
                "created_time": ["14:35:22.123"],
                "last_updated_date": pa.array([dt.date(2024, 5, 24)]),
                "last_updated_time": pa.array([dt.time(14, 35, 22, 123000)]),
                "sales_staff_id": pa.array([1], pa.int64()),
                "counterparty_id": pa.array([1], pa.int64()),
                "units_sold": pa.array([100], pa.int64()),
                "unit_price": [3.94],
                "currency_id": pa.array([1], pa.int64()),
                "design_id": pa.array([1], pa.int64()),
                "agreed_payment_date": ["2024-05-24"],
                "agreed_delivery_date": pa.array([dt.datetime(2024, 5, 24)], pa.timestamp("ms")),
                "agreed_delivery_location_id": pa.array([1], pa.int64()),
            }
        ),
        "fact_sales_order",
    )
    assert rows == 1
    got = db.execute(
        "SELECT created_date, created_time, last_updated_time, unit_price, agreed_delivery_date "
        "FROM fact_sales_order"
    ).fetchone()
    assert got == (
        dt.date(2024, 5, 24),
        dt.time(14, 35, 22, 123000),
        dt.time(14, 35, 22, 123000),
        Decimal("3.94"),
        dt.date(2024, 5, 24),
    )


def test_a_hostile_column_name_is_rejected_never_executed(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    hostile = 'department_name"; DROP TABLE dim_staff; --'
    key = "dimension/staff-2024-05-24 14:35:22.123456.parquet"
    put_table(s3, bucket, key, pa.table({"staff_id": pa.array([1], pa.int64()), hostile: ["x"]}))
    with pytest.raises(LoadFailedError, match="unknown column"):
        lambda_handler({}, None)
    assert count(db, "dim_staff") == 0  # the table is still there, and empty
    assert hostile in (ledger(db)[key]["reason"] or "")


def test_load_to_warehouse_takes_a_pandas_dataframe(db: Conn) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "currency_id": [1, 2],
            "currency_code": ["GBP", "USD"],
            "currency_name": ["British Pound", "US Dollar"],
        }
    )
    assert load_to_warehouse(frame, "dim_currency") == 2
    assert load_to_warehouse(frame, "dim_currency") == 0  # unchanged rows, no writes
    frame.loc[1, "currency_name"] = "Dollar"
    assert load_to_warehouse(frame, "dim_currency") == 1
    assert db.execute(
        "SELECT currency_name FROM dim_currency WHERE currency_id = 2"
    ).fetchone() == ("Dollar",)


def test_load_to_warehouse_takes_a_record_batch_reader(db: Conn) -> None:
    table = pa.table(
        {
            "currency_id": pa.array([1, 2, 3], pa.int64()),
            "currency_code": ["GBP", "USD", "EUR"],
            "currency_name": ["a", "b", "c"],
        }
    )
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))
    assert load_to_warehouse(reader, "dim_currency") == 3
    assert count(db, "dim_currency") == 3
