"""What the warehouse holds is what the files say, or the file fails naming why.

Tables of loadstar's own making, on the real PostgreSQL: numerics of every
precision and scale, money and real, instants at the edges of what
PostgreSQL holds, INT96 timestamps, identity keys, values a domain or an enum
refuses (named by row and column, on both COPY paths), and foreign keys
pointing into a dimension whose rows a later file changes.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mypy_boto3_s3 import S3Client

from loadstar import LoadFailedError, lambda_handler
from support import Conn, ledger, put_table

pytestmark = pytest.mark.usefixtures("env")


@pytest.fixture
def catalogue(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point loadstar at a catalogue of the test's own tables."""

    def use(text: str) -> None:
        path = tmp_path / "catalogue.toml"
        path.write_text(text)
        monkeypatch.setenv("LOADSTAR_CONFIG", str(path))

    return use


def run() -> dict[str, Any]:
    try:
        return lambda_handler({}, None)
    except LoadFailedError as exc:
        return exc.summary


# -- numbers of every shape ---------------------------------------------------------------

NUMBERS_DDL = """
    CREATE TABLE dim_amounts (
        amount_id  integer PRIMARY KEY,
        huge       numeric(100, 2),
        hundreds   numeric(5, -2),
        tiny       numeric(2, 5),
        price      money,
        ratio      real,
        big        numeric(20, 0)
    )
"""


def amounts(**columns: pa.Array[Any]) -> pa.Table:
    rows = len(next(iter(columns.values())))
    return pa.table({"amount_id": pa.array(range(1, 1 + rows), pa.int64()), **columns})


def test_numbers_of_every_precision_and_scale_arrive_exactly(
    catalogue: Any, s3: S3Client, bucket: str, db: Conn
) -> None:
    db.execute(NUMBERS_DDL)
    catalogue('[tables.dim_amounts]\nprefix = "dimension/amounts"\n')
    huge = Decimal(f"{'9' * 34}.56")
    good = amounts(
        huge=pa.array([huge, None], pa.decimal128(38, 2)),
        hundreds=pa.array([12300, -400], pa.int64()),
        tiny=pa.array([Decimal("0.00012"), Decimal("-0.00099")], pa.decimal128(5, 5)),
        price=pa.array([19.99, 0.07]),
        ratio=pa.array([0.5, 1e30]),
        big=pa.array([1e16, 2.0**60]),
    )
    put_table(s3, bucket, "dimension/amounts-2024-05-24 00:00:00.parquet", good)
    assert run()["status"] == "loaded"
    rows = db.execute(
        "SELECT huge, hundreds, tiny, price::numeric, ratio, big "
        "FROM dim_amounts ORDER BY amount_id"
    ).fetchall()
    # A double of 2**53 or more is read as its shortest decimal, as PostgreSQL reads it.
    assert rows == [
        (huge, 12300, Decimal("0.00012"), Decimal("19.99"), 0.5, 10**16),
        (None, -400, Decimal("-0.00099"), Decimal("0.07"), 1e30, 1152921504606847000),
    ]


@pytest.mark.parametrize(
    ("column", "values", "problem"),
    [
        ("hundreds", pa.array([100, 123], pa.int64()), "has more digits after the point"),
        (
            "tiny",
            pa.array([Decimal("0.00012"), Decimal("0.01")], pa.decimal128(5, 5)),
            "does not fit",
        ),
        ("price", pa.array([1.0, 1.005]), "has more decimal places than money keeps"),
        ("ratio", pa.array([1.0, 1e300]), "is beyond the range of real"),
        ("ratio", pa.array([1.0, 1e-50]), "is too small for real"),
        ("big", pa.array([1.0, 1e21]), "does not fit numeric(20,0)"),
    ],
)
def test_a_number_that_would_change_fails_its_file_naming_column_and_row(
    column: str,
    values: pa.Array[Any],
    problem: str,
    catalogue: Any,
    s3: S3Client,
    bucket: str,
    db: Conn,
) -> None:
    db.execute(NUMBERS_DDL)
    catalogue('[tables.dim_amounts]\nprefix = "dimension/amounts"\n')
    key = "dimension/amounts-2024-05-24 00:00:00.parquet"
    put_table(s3, bucket, key, amounts(**{column: values}))
    [failed] = run()["tables"]["dim_amounts"]["failed"]
    assert f"column {column}: {problem}" in failed["reason"]
    assert "at row 2" in failed["reason"]
    assert db.execute("SELECT count(*) FROM dim_amounts").fetchone() == (0,)
    assert ledger(db)[key]["status"] == "failed"


# -- instants at PostgreSQL's edges, and INT96 ---------------------------------------------


def test_int96_and_far_instants_arrive_exactly_and_out_of_range_ones_fail(
    catalogue: Any, s3: S3Client, bucket: str, db: Conn
) -> None:
    db.execute(
        "CREATE TABLE dim_moments (moment_id integer PRIMARY KEY, at timestamp, on_day date)"
    )
    catalogue('[tables.dim_moments]\nprefix = "dimension/moments"\n')
    far, early = dt.datetime(9999, 12, 31, 23, 59, 59), dt.datetime(1500, 1, 1)
    table = pa.table(
        {
            "moment_id": pa.array([1, 2], pa.int64()),
            "at": pa.array([far, early], pa.timestamp("us")),
            "on_day": pa.array([far, early], pa.timestamp("us")),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, use_deprecated_int96_timestamps=True)  # as Spark writes
    s3.put_object(Bucket=bucket, Key="dimension/moments-2024-05-24.parquet", Body=sink.getvalue())
    assert run()["status"] == "loaded"
    assert db.execute("SELECT at, on_day FROM dim_moments ORDER BY moment_id").fetchall() == [
        (far, far.date()),
        (early, early.date()),
    ]
    beyond = pa.table(
        {
            "moment_id": pa.array([3, 4], pa.int64()),
            "at": pa.array([0, 2**62], pa.timestamp("ms")),
        }
    )
    put_table(s3, bucket, "dimension/moments-2024-05-25.parquet", beyond)
    [failed] = run()["tables"]["dim_moments"]["failed"]
    assert "column at: is outside the range of dates PostgreSQL holds" in failed["reason"]
    assert "at row 2" in failed["reason"]
    assert "4611686018427387904 ms from 1970-01-01" in failed["reason"]


# -- identity keys -------------------------------------------------------------------------


def test_a_dimension_keyed_by_an_always_generated_identity_takes_the_files_keys(
    catalogue: Any, s3: S3Client, bucket: str, db: Conn
) -> None:
    db.execute(
        "CREATE TABLE dim_things (thing_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "name text NOT NULL)"
    )
    catalogue('[tables.dim_things]\nprefix = "dimension/things"\n')
    first = pa.table({"thing_id": pa.array([10, 20], pa.int64()), "name": ["a", "b"]})
    put_table(s3, bucket, "dimension/things-2024-05-24.parquet", first)
    assert run()["status"] == "loaded"
    again = pa.table({"thing_id": pa.array([20, 30], pa.int64()), "name": ["b2", "c"]})
    put_table(s3, bucket, "dimension/things-2024-05-25.parquet", again)
    assert run()["status"] == "loaded"
    rows = db.execute("SELECT thing_id, name FROM dim_things ORDER BY 1").fetchall()
    assert rows == [(10, "a"), (20, "b2"), (30, "c")]


# -- values the server refuses: named by row and column, never the staging table -----------


@pytest.mark.parametrize("path", ["binary", "csv"])
@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("code", "lower case", "violates check constraint"),
        ("mood", "meh", "invalid input value for enum mood"),
    ],
)
def test_a_value_the_server_refuses_is_named_by_row_and_column(
    path: str,
    column: str,
    value: str,
    problem: str,
    catalogue: Any,
    s3: S3Client,
    bucket: str,
    db: Conn,
) -> None:
    db.execute("CREATE DOMAIN code AS text CHECK (VALUE ~ '^[A-Z]+$')")
    db.execute("CREATE TYPE mood AS ENUM ('ok', 'sad')")
    # A uuid column has no binary form loadstar writes: the file goes as CSV.
    extra = ", ref uuid" if path == "csv" else ""
    db.execute(f"CREATE TABLE dim_codes (code_id integer PRIMARY KEY, code code, mood mood{extra})")
    catalogue('[tables.dim_codes]\nprefix = "dimension/codes"\n')
    data: dict[str, Any] = {
        "code_id": pa.array([1, 2, 3], pa.int64()),
        "code": ["AB", "CD", "EF"],
        "mood": ["ok", "sad", "ok"],
    }
    data[column] = [*data[column][:2], value]
    if path == "csv":
        data["ref"] = ["6f1c2a4e-0000-4000-8000-000000000001"] * 3
    put_table(s3, bucket, "dimension/codes-2024-05-24.parquet", pa.table(data))
    [failed] = run()["tables"]["dim_codes"]["failed"]
    reason = failed["reason"]
    assert problem in reason
    assert f"column {column}" in reason
    assert "at row 3" in reason
    assert "loadstar_stage" not in reason


# -- foreign keys that point into a dimension ---------------------------------------------

REFERENCES_DDL = """
    CREATE TABLE dim_country (country_code text PRIMARY KEY);
    CREATE TABLE dim_region (
        region_id    integer PRIMARY KEY,
        code         text NOT NULL UNIQUE,
        country_code text NOT NULL REFERENCES dim_country (country_code)
    );
    CREATE TABLE fact_visit (
        visit_id     integer PRIMARY KEY,
        region_code  text NOT NULL REFERENCES dim_region (code) ON UPDATE {action}
    );
"""
REFERENCES_CATALOGUE = """
[tables.dim_country]
prefix = "dimension/country"
[tables.dim_region]
prefix = "dimension/region"
[tables.fact_visit]
prefix = "fact/visit"
"""


@pytest.mark.parametrize("action", ["NO ACTION", "RESTRICT", "CASCADE"])
def test_a_dimension_change_keeps_every_foreign_key_pointing_into_it(
    action: str, catalogue: Any, s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    db.execute(REFERENCES_DDL.format(action=action))
    catalogue(REFERENCES_CATALOGUE)
    put_table(
        s3, bucket, "dimension/country-2024-05-24.parquet", pa.table({"country_code": ["UK"]})
    )
    region: dict[str, Any] = {
        "region_id": pa.array([1, 2], pa.int64()),
        "country_code": ["UK", "UK"],
    }
    put_table(
        s3, bucket, "dimension/region-2024-05-24.parquet", pa.table({**region, "code": ["A", "Z"]})
    )
    visits = pa.table({"visit_id": pa.array([1, 2], pa.int64()), "region_code": ["A", "A"]})
    put_table(s3, bucket, "fact/visit-2024-05-24.parquet", visits)
    assert run()["status"] == "loaded"

    # A later region file re-codes region 1: A becomes B.
    recode = "dimension/region-2024-05-25.parquet"
    put_table(s3, bucket, recode, pa.table({**region, "code": ["B", "Z"]}))
    summary = run()
    regions = db.execute("SELECT region_id, code FROM dim_region ORDER BY 1").fetchall()
    visit_codes = db.execute("SELECT DISTINCT region_code FROM fact_visit").fetchall()
    if action == "CASCADE":
        # PostgreSQL's own rule: the visits follow the region's new code.
        assert summary["status"] == "loaded"
        assert regions == [(1, "B"), (2, "Z")]
        assert visit_codes == [("B",)]
    else:
        # PostgreSQL's own rule: a code still referenced cannot change.
        [failed] = summary["tables"]["dim_region"]["failed"]
        assert failed["key"] == recode
        assert "fact_visit" in failed["reason"]
        assert regions == [(1, "A"), (2, "Z")]
        assert visit_codes == [("A",)]
    # Nothing orphaned, whichever way: every visit's region exists.
    orphans = db.execute(
        "SELECT count(*) FROM fact_visit v LEFT JOIN dim_region r ON r.code = v.region_code "
        "WHERE r.region_id IS NULL"
    ).fetchone()
    assert orphans == (0,)
    region_lines = [x for x in log_lines.events("file_loaded") if x["table"] == "dim_region"]
    assert region_lines[0]["foreign_keys"] == "per_row"  # the set-wise path would skip the guard


# -- keys -----------------------------------------------------------------------------------


def test_an_untimestamped_key_does_not_put_stamped_files_out_of_order(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    from support import department, staff

    put_table(s3, bucket, "dimension/staff.parquet", staff([1], department="unstamped"))
    assert run()["tables"]["dim_staff"]["files_loaded"] == 1
    put_table(s3, bucket, "dimension/staff-2024-05-24 10:00:00.parquet", staff([2], department="a"))
    put_table(s3, bucket, "dimension/staff-2024-05-24 11:00:00.parquet", staff([2], department="b"))
    summary = run()
    assert summary["tables"]["dim_staff"]["files_loaded"] == 2
    assert summary["needs_attention"] == []
    assert department(db, 2) == "b"


def test_tables_whose_names_extend_each_other_keep_their_own_files(
    catalogue: Any, s3: S3Client, bucket: str, db: Conn
) -> None:
    for name in ("dim_level", "dim_level2"):
        db.execute(f"CREATE TABLE {name} (level_id integer PRIMARY KEY, label text)")
    catalogue("[tables.dim_level]\n[tables.dim_level2]\n")
    one = pa.table({"level_id": pa.array([1], pa.int64()), "label": ["level"]})
    two = pa.table({"level_id": pa.array([2], pa.int64()), "label": ["level2"]})
    put_table(s3, bucket, "dimension/level-2024-05-24 10:00:00.parquet", one)
    put_table(s3, bucket, "dimension/level2-2024-05-24 10:00:00.parquet", two)
    summary = run()
    assert summary["tables"]["dim_level"]["loaded"] == [
        "dimension/level-2024-05-24 10:00:00.parquet"
    ]
    assert summary["tables"]["dim_level2"]["loaded"] == [
        "dimension/level2-2024-05-24 10:00:00.parquet"
    ]
    assert db.execute("SELECT label FROM dim_level").fetchall() == [("level",)]
    assert db.execute("SELECT label FROM dim_level2").fetchall() == [("level2",)]


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        # "-1200" is not a zone (only Z or ±hh:mm are): 14:35:22 UTC, older than 15:00
        ("dimension/staff-20240524T143522-1200.parquet", "dimension/staff-20240524T150000.parquet"),
        # "+01:00" is: 15:35:22+01:00 is 14:35:22 UTC, older than 15:00 UTC
        (
            "dimension/staff-2024-05-24T15:35:22+01:00.parquet",
            "dimension/staff-2024-05-24T15:00:00Z.parquet",
        ),
    ],
)
def test_keys_order_by_their_instant_with_zones_read_only_in_documented_forms(
    older: str, newer: str, s3: S3Client, bucket: str, db: Conn
) -> None:
    from support import department, staff

    put_table(s3, bucket, newer, staff([1], department="newer"))
    put_table(s3, bucket, older, staff([1], department="older"))
    summary = run()
    assert summary["tables"]["dim_staff"]["loaded"] == [older, newer]
    assert department(db, 1) == "newer"
