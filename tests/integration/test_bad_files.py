"""A bad file loads nothing, is recorded failed with a reason, and stops nothing else."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client

from loadstar import LoadFailedError, lambda_handler
from loadstar.dev.sample import START, SampleFile, dimension_files, fact_files, parquet_bytes, stamp
from support import Conn, count, expected_facts, ledger, put_files, put_table, warehouse_facts

pytestmark = pytest.mark.usefixtures("env")


def corrupt(table: pa.Table) -> bytes:
    data = bytearray(parquet_bytes(table))
    data[8:200] = b"\x00" * 192
    return bytes(data)


def set_column(table: pa.Table, name: str, array: pa.Array) -> pa.Table:  # type: ignore[type-arg]
    return table.set_column(table.schema.get_field_index(name), name, array)


def with_value(
    name: str, value: object, type_: pa.DataType | None = None
) -> Callable[[pa.Table], pa.Table]:
    def change(table: pa.Table) -> pa.Table:
        values = table.column(name).to_pylist()
        values[3] = value
        return set_column(table, name, pa.array(values, type_ or table.schema.field(name).type))

    return change


def truncated(table: pa.Table) -> bytes:
    data = parquet_bytes(table)
    return data[: len(data) // 2]


def drop_column(name: str) -> Callable[[pa.Table], pa.Table]:
    return lambda t: t.drop_columns([name])


def as_decimal(name: str, value: str) -> Callable[[pa.Table], pa.Table]:
    def change(table: pa.Table) -> pa.Table:
        values = [Decimal(str(v)) for v in table.column(name).to_pylist()]
        values[3] = Decimal(value)
        return set_column(table, name, pa.array(values, pa.decimal128(12, 2)))

    return change


def add_column(name: str, array: Callable[[int], pa.Array]) -> Callable[[pa.Table], pa.Table]:  # type: ignore[type-arg]
    return lambda t: t.append_column(name, array(len(t)))


@dataclass(frozen=True)
class Bad:
    make: Callable[[pa.Table], bytes | pa.Table]
    column: str | None = None
    example: str | None = None
    """Text the reason must show: an example value, or what is wrong."""


BAD_FACTS: dict[str, Bad] = {
    "corrupt bytes": Bad(corrupt, example="Parquet"),
    "truncated Parquet": Bad(truncated, example="Parquet"),
    "a 0-byte object": Bad(lambda t: b"", example="Parquet"),
    "unknown column": Bad(add_column("discount", lambda n: pa.array([0.1] * n)), "discount"),
    "missing NOT NULL column": Bad(drop_column("units_sold"), "units_sold", "NOT NULL"),
    "string in an integer column": Bad(
        lambda t: set_column(
            t, "design_id", pa.array([str(v) for v in t.column("design_id").to_pylist()])
        ),
        "design_id",
        "string",
    ),
    "int64 beyond integer": Bad(with_value("units_sold", 2**33), "units_sold", "8589934592"),
    "double beyond numeric(10,2)": Bad(
        with_value("unit_price", 123456789.5), "unit_price", "123456789.5"
    ),
    "decimal beyond numeric(10,2)": Bad(
        as_decimal("unit_price", "123456789.25"), "unit_price", "123456789.25"
    ),
    "more decimals than numeric(10,2)": Bad(with_value("unit_price", 3.945), "unit_price", "3.945"),
    "NaN into numeric": Bad(with_value("unit_price", math.nan), "unit_price", "nan"),
    "infinity into numeric": Bad(with_value("unit_price", math.inf), "unit_price", "inf"),
    "NULL in NOT NULL": Bad(with_value("units_sold", None), "units_sold", "row 4"),
    "foreign key that misses": Bad(with_value("sales_staff_id", 9999), "sales_staff_id", "9999"),
    "a list column": Bad(
        lambda t: set_column(t, "design_id", pa.array([[1, 2]] * len(t), pa.list_(pa.int64()))),
        "design_id",
        "nested types are unsupported",
    ),
    "a struct column": Bad(
        lambda t: set_column(
            t, "design_id", pa.array([{"id": 1}] * len(t), pa.struct([("id", pa.int64())]))
        ),
        "design_id",
        "nested types are unsupported",
    ),
    "a time that is no time": Bad(
        lambda t: set_column(t, "created_time", pa.array(["25:61:00"] * len(t))),
        "created_time",
        "'25:61:00'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FACTS))
def test_a_bad_fact_file_loads_nothing_and_later_files_still_load(
    case: str, s3: S3Client, bucket: str, db: Conn
) -> None:
    bad_case = BAD_FACTS[case]
    files = fact_files(3, 20)
    put_files(s3, bucket, dimension_files())
    put_files(s3, bucket, [files[0], files[2]])
    bad = bad_case.make(files[1].data)
    body = bad if isinstance(bad, bytes) else parquet_bytes(bad)
    s3.put_object(Bucket=bucket, Key=files[1].key, Body=body)

    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)

    summary = caught.value.summary
    facts = summary["tables"]["fact_sales_order"]
    assert facts["loaded"] == [files[0].key, files[2].key]
    assert [f["key"] for f in facts["failed"]] == [files[1].key]
    reason = facts["failed"][0]["reason"]
    assert files[1].key in reason
    assert "fact_sales_order" in reason
    if bad_case.column:
        assert f"column {bad_case.column}" in reason
    if bad_case.example:
        assert bad_case.example in reason
    # nothing of the bad file; everything of the others; the ledger says why
    assert warehouse_facts(db) == expected_facts([files[0], files[2]])
    assert ledger(db)[files[1].key]["status"] == "failed"
    assert ledger(db)[files[1].key]["reason"] == reason
    assert files[1].key in str(caught.value)
    # the next run tries it again, and fails again
    with pytest.raises(LoadFailedError):
        lambda_handler({}, None)
    assert ledger(db)[files[1].key]["attempts"] == 2
    assert warehouse_facts(db) == expected_facts([files[0], files[2]])


def test_a_bad_file_does_not_stop_other_tables(s3: S3Client, bucket: str, db: Conn) -> None:
    dims = dimension_files()
    put_files(s3, bucket, dims)
    s3.put_object(Bucket=bucket, Key=dims[1].key, Body=b"not parquet at all")  # dim_staff
    with pytest.raises(LoadFailedError):
        lambda_handler({}, None)
    assert count(db, "dim_staff") == 0
    assert count(db, "dim_date") == dims[0].data.num_rows
    assert count(db, "dim_counterparty") == dims[5].data.num_rows


def test_a_failed_file_is_retried_and_the_run_fails_until_it_loads(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    files = fact_files(1, 10)
    put_files(s3, bucket, files)  # facts before their dimensions: foreign keys miss
    for attempt in (1, 2):
        with pytest.raises(LoadFailedError, match="sales_order"):
            lambda_handler({}, None)
        assert ledger(db)[files[0].key]["attempts"] == attempt
    put_files(s3, bucket, dimension_files())
    summary = lambda_handler({}, None)
    assert summary["status"] == "loaded"
    assert warehouse_facts(db) == expected_facts(files)
    assert ledger(db)[files[0].key]["status"] == "loaded"
    assert ledger(db)[files[0].key]["attempts"] == 3


def test_a_trigger_rejecting_one_row_leaves_none_of_the_file(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    db.execute("""
        CREATE FUNCTION reject_big_orders() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.units_sold > 99000 THEN
                RAISE EXCEPTION 'order % is too big', NEW.sales_order_id;
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER reject_big_orders BEFORE INSERT ON fact_sales_order
            FOR EACH ROW EXECUTE FUNCTION reject_big_orders();
    """)
    files = fact_files(1, 30)
    table = files[0].data
    units = table.column("units_sold").to_pylist()
    units[-5] = 99999  # one row, near the end of the file
    bad = SampleFile(files[0].key, files[0].table, set_column(table, "units_sold", pa.array(units)))
    put_files(s3, bucket, [*dimension_files(), bad])

    with pytest.raises(LoadFailedError, match="too big"):
        lambda_handler({}, None)
    assert count(db, "fact_sales_order") == 0
    assert ledger(db)[bad.key]["status"] == "failed"

    db.execute("DROP TRIGGER reject_big_orders ON fact_sales_order")
    lambda_handler({}, None)
    lambda_handler({}, None)
    assert warehouse_facts(db) == expected_facts([bad])


def test_two_rows_with_one_primary_key_in_a_dimension_file_name_the_key(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    from support import staff

    key = f"dimension/staff-{stamp(START)}.parquet"
    put_table(s3, bucket, key, staff([1, 2, 7, 7]))
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    reason = caught.value.summary["tables"]["dim_staff"]["failed"][0]["reason"]
    assert "staff_id=7" in reason
    assert "2 times" in reason
    assert count(db, "dim_staff") == 0


def test_a_zero_row_file_loads_zero_rows(s3: S3Client, bucket: str, db: Conn) -> None:
    files = fact_files(1, 5)
    empty = files[0].data.slice(0, 0)
    key = f"fact/sales_order-{stamp(START + timedelta(days=1))}.parquet"
    put_table(s3, bucket, key, empty)
    summary = lambda_handler({}, None)
    assert summary["tables"]["fact_sales_order"]["loaded"] == [key]
    assert ledger(db)[key]["rows_in_file"] == 0
