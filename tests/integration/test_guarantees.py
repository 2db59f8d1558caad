"""The promises most easily broken by a small slip, each held by more than one case.

A dimension change to or from NULL is written; a foreign key is checked in
every batch of a file, not only the last; a dimension file of the same
instant as the newest applied one, but a later key, still loads; a key with
two date-times is ordered by its file name's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client
from psycopg import sql

from loadstar import LoadFailedError, lambda_handler, load_dim_tables
from loadstar.dev.sample import dimension_files, fact_files, location_table
from loadstar.source.parquet import BATCH_ROWS
from support import Conn, count, department, ledger, put_files, put_table, staff

pytestmark = pytest.mark.usefixtures("env")


# -- a dimension value changing to or from NULL is a change ---------------------------------

PROBE_DDL = """
    CREATE TABLE dim_probe (
        probe_id  integer PRIMARY KEY,
        an_int    integer,
        a_bigint  bigint,
        a_text    varchar,
        a_date    date,
        a_time    time,
        a_stamp   timestamp,
        a_number  numeric(10, 2),
        a_double  double precision,
        a_flag    boolean
    )
"""

PROBE_VALUES: dict[str, tuple[pa.DataType, Any, Any]] = {
    # column: (file type, one value, another value)
    "an_int": (pa.int64(), 7, 8),
    "a_bigint": (pa.int64(), 2**40, 2**40 + 1),
    "a_text": (pa.string(), "Leeds", "York"),
    "a_date": (pa.date32(), dt.date(2024, 5, 24), dt.date(2024, 5, 25)),
    "a_time": (pa.string(), "14:35:22.123456", "09:00:00"),
    "a_stamp": (pa.timestamp("us"), dt.datetime(2024, 5, 24, 14, 35), dt.datetime(2025, 1, 1)),
    "a_number": (pa.float64(), 19.99, 20.01),
    "a_double": (pa.float64(), 0.5, 1.5),
    "a_flag": (pa.bool_(), True, False),
}


def probe_file(value: int | None) -> pa.Table:
    """Two rows; row 1 carries value 0, 1 (the first or second value) or NULL in every column."""
    columns: dict[str, pa.Array[Any]] = {"probe_id": pa.array([1, 2], pa.int64())}
    for name, (arrow_type, first, second) in PROBE_VALUES.items():
        chosen = None if value is None else (first, second)[value]
        columns[name] = pa.array([chosen, first], arrow_type)
    return pa.table(columns)


def probe_row(db: Conn, probe_id: int) -> dict[str, Any]:
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in PROBE_VALUES)
    query = sql.SQL("SELECT {} FROM dim_probe WHERE probe_id = %s").format(columns)
    cur = db.execute(query, (probe_id,))
    row = cur.fetchone()
    assert row is not None
    return dict(zip(PROBE_VALUES, row, strict=True))


def as_stored(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "a_time":
        return dt.time.fromisoformat(value)
    if name == "a_number":
        return Decimal(str(value))
    return value


@pytest.fixture
def probe(env: dict[str, str], db: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db.execute(PROBE_DDL)
    config = tmp_path / "probe.toml"
    config.write_text('[tables.dim_probe]\nprefix = "dimension/probe"\n')
    monkeypatch.setenv("LOADSTAR_CONFIG", str(config))


@pytest.mark.usefixtures("probe")
def test_every_column_type_changes_to_null_and_back(s3: S3Client, bucket: str, db: Conn) -> None:
    steps = [(0, 2), (None, 1), (1, 1), (None, 1), (None, 0), (0, 1)]  # (value, rows written)
    for hour, (value, written) in enumerate(steps):
        key = f"dimension/probe-2024-05-24 {hour:02d}:00:00.parquet"
        put_table(s3, bucket, key, probe_file(value))
        summary = load_dim_tables(bucket)
        assert summary["tables"]["dim_probe"]["rows_written"] == written, (hour, value)
        expected = {
            name: as_stored(name, None if value is None else choices[1 + value])
            for name, choices in PROBE_VALUES.items()
        }
        assert probe_row(db, 1) == expected, (hour, value)
        # the other row never changes, and is never written again
        assert probe_row(db, 2) == {n: as_stored(n, c[1]) for n, c in PROBE_VALUES.items()}


def test_a_terrific_totes_address_line_goes_to_null_and_back(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    import random

    base = location_table(range(1, 4), random.Random(3))
    index = base.schema.get_field_index("address_line_2")
    for hour, line in enumerate(["Unit 1", None, "Unit 9"]):
        table = base.set_column(index, "address_line_2", pa.array([line] * 3, pa.string()))
        put_table(s3, bucket, f"dimension/location-2024-05-24 {hour:02d}:00:00.parquet", table)
        load_dim_tables(bucket)
        rows = db.execute("SELECT DISTINCT address_line_2 FROM dim_location").fetchall()
        assert rows == [(line,)]


# -- foreign keys are checked in every batch ------------------------------------------------


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(0, id="first batch"),
        pytest.param(BATCH_ROWS + BATCH_ROWS // 2, id="middle batch"),
        pytest.param(-1, id="last batch"),
    ],
)
def test_a_missing_foreign_key_is_found_in_any_batch_of_a_large_file(
    where: int, s3: S3Client, bucket: str, db: Conn
) -> None:
    fact = fact_files(1, 2 * BATCH_ROWS + 1000)[0]
    staff_ids = fact.data.column("sales_staff_id").to_pylist()
    staff_ids[where] = 4242
    index = fact.data.schema.get_field_index("sales_staff_id")
    bad = fact.data.set_column(index, "sales_staff_id", pa.array(staff_ids, pa.int64()))
    assert bad.num_rows > 2 * BATCH_ROWS  # three batches at least
    put_files(s3, bucket, dimension_files())
    put_table(s3, bucket, fact.key, bad)
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    failed = caught.value.summary["tables"]["fact_sales_order"]["failed"]
    assert [f["key"] for f in failed] == [fact.key]
    assert "sales_staff_id=4242" in failed[0]["reason"]
    assert count(db, "fact_sales_order") == 0
    assert ledger(db)[fact.key]["status"] == "failed"
    # the set-wise check found it, not PostgreSQL's per-row triggers
    assert "value(s) are not present in public.dim_staff" in failed[0]["reason"]


def test_a_large_file_whose_keys_all_exist_loads_with_the_set_wise_check(
    s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    fact = fact_files(1, 2 * BATCH_ROWS + 1000)[0]
    put_files(s3, bucket, [*dimension_files(), fact])
    lambda_handler({}, None)
    line = next(x for x in log_lines.events("file_loaded") if x["table"] == "fact_sales_order")
    assert line["foreign_keys"] == "per_file"
    assert count(db, "fact_sales_order") > 2 * BATCH_ROWS


# -- a later key of the same instant is not out of order ------------------------------------

SAME_INSTANT_KEYS = [
    pytest.param("dimension/staff/2024/05/24/part-{n}.parquet", id="date folders"),
    pytest.param("dimension/staff/2024-05-24/part-{n}.parquet", id="dashed date folder"),
    pytest.param("dimension/staff-2024-05-24 14:35:22.123456_part-{n}.parquet", id="seed form"),
    pytest.param("dimension/staff-2024-05-24T14:35:22Z_part-{n}.parquet", id="ISO with Z"),
    pytest.param("dimension/staff-2024-05-24T15:35:22+01:00_part-{n}.parquet", id="offset"),
    pytest.param("dimension/staff-20240524T143522_part-{n}.parquet", id="compact"),
    pytest.param("dimension/staff-20240524143522_part-{n}.parquet", id="digits"),
    pytest.param("dimension/staff-1716561322_part-{n}.parquet", id="epoch seconds"),
    pytest.param("dimension/staff-1716561322123_part-{n}.parquet", id="epoch millis"),
]


@pytest.mark.parametrize("pattern", SAME_INSTANT_KEYS)
def test_a_later_key_of_the_newest_applied_instant_still_loads(
    pattern: str, s3: S3Client, bucket: str, db: Conn
) -> None:
    first, second = pattern.format(n=0), pattern.format(n=1)
    put_table(s3, bucket, first, staff([1, 2], department="part 0"))
    assert load_dim_tables(bucket)["tables"]["dim_staff"]["loaded"] == [first]
    put_table(s3, bucket, second, staff([2], department="part 1"))
    summary = load_dim_tables(bucket)
    assert summary["tables"]["dim_staff"]["loaded"] == [second]
    assert summary["tables"]["dim_staff"]["skipped"] == []
    assert (department(db, 1), department(db, 2)) == ("part 0", "part 1")


@pytest.mark.parametrize("pattern", SAME_INSTANT_KEYS[:3])
def test_files_of_one_instant_landing_together_apply_in_key_order(
    pattern: str, s3: S3Client, bucket: str, db: Conn
) -> None:
    put_table(s3, bucket, pattern.format(n=1), staff([1], department="part 1"))
    put_table(s3, bucket, pattern.format(n=0), staff([1], department="part 0"))
    load_dim_tables(bucket)
    assert department(db, 1) == "part 1"


# -- a key with two date-times is ordered by its file name's --------------------------------


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        pytest.param(
            "dimension/staff/2024-05-25 00:00:00/staff-2024-05-24 10:00:00.parquet",
            "dimension/staff/2024-05-24 00:00:00/staff-2024-05-24 12:00:00.parquet",
            id="folder newer, name older",
        ),
        pytest.param(
            "dimension/staff/20240530T000000Z/staff-20240524T100000Z.parquet",
            "dimension/staff/20240501T000000Z/staff-20240524T110000Z.parquet",
            id="compact forms",
        ),
    ],
)
def test_a_key_with_two_date_times_is_ordered_by_the_file_name(
    older: str, newer: str, s3: S3Client, bucket: str, db: Conn
) -> None:
    put_table(s3, bucket, older, staff([1], department="older"))
    put_table(s3, bucket, newer, staff([1], department="newer"))
    summary = load_dim_tables(bucket)
    assert summary["tables"]["dim_staff"]["loaded"] == [older, newer]
    assert department(db, 1) == "newer"
