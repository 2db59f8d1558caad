"""Binary and CSV COPY put exactly the same values in the warehouse."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client

import loadstar.warehouse.copy as copy_module
from loadstar import lambda_handler, load_to_warehouse
from loadstar.dev.sample import terrific_totes
from support import Conn, expected_facts, put_files, warehouse_facts

pytestmark = pytest.mark.usefixtures("env")

EVERY_TYPE = """
    CREATE TABLE dim_every_type (
        id        bigint PRIMARY KEY,
        small     smallint,
        ratio     real,
        amount    numeric(20, 5),
        free      numeric,
        flag      boolean,
        note      text,
        code      varchar(10),
        letters   char(3),
        day       date,
        at        time,
        stamp     timestamp,
        moment    timestamptz,
        ident     uuid,
        doc       jsonb
    )
"""


def every_type_rows() -> pa.Table:
    zone = dt.timezone(dt.timedelta(hours=5, minutes=30))
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "small": pa.array([-32768, 0, None], pa.int64()),
            "ratio": pa.array([0.5, -1.25, None], pa.float64()),
            "amount": pa.array(
                [Decimal("-0.00005"), Decimal("123456789012345.12345"), None], pa.decimal128(20, 5)
            ),
            "free": pa.array([Decimal("1.5"), Decimal("-2"), None], pa.decimal128(10, 3)),
            "flag": [True, False, None],
            "note": ["", 'quote " comma , newline \n tab \t', None],
            "code": ["abc", "ünïcödé", None],
            "letters": ["ab", "xyz", None],
            "day": pa.array([dt.date(1999, 12, 31), dt.date(2024, 2, 29), None]),
            "at": ["00:00:00", "23:59:59.999999", None],
            "stamp": pa.array(
                [dt.datetime(2024, 5, 24, 14, 35, 22, 123456), dt.datetime(1970, 1, 1), None]
            ),
            "moment": pa.array(
                [
                    dt.datetime(2024, 5, 24, 20, 5, tzinfo=zone),
                    dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                    None,
                ],
                pa.timestamp("ms", tz="+05:30"),
            ),
            "ident": [str(uuid.UUID(int=1)), str(uuid.UUID(int=2)), None],
            "doc": ['{"a": 1}', "[]", None],
        }
    )


def stored(db: Conn) -> list[tuple[Any, ...]]:
    return db.execute("SELECT * FROM dim_every_type ORDER BY id").fetchall()


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "csv"])
def test_every_type_round_trips(db: Conn, monkeypatch: pytest.MonkeyPatch, binary: bool) -> None:
    if not binary:
        monkeypatch.setattr(copy_module, "_pgpq", None)
    db.execute(EVERY_TYPE)
    assert load_to_warehouse(every_type_rows(), "dim_every_type") == 3
    rows = stored(db)
    assert rows[0][3] == Decimal("-0.00005")
    assert rows[1][3] == Decimal("123456789012345.12345")
    assert rows[1][6] == 'quote " comma , newline \n tab \t'
    assert rows[0][6] == ""
    assert rows[2][6] is None
    assert rows[1][8] == "xyz"
    assert rows[0][12] == dt.datetime(2024, 5, 24, 14, 35, tzinfo=dt.UTC)
    assert rows[0][13] == uuid.UUID(int=1)
    assert rows[0][14] == {"a": 1}
    assert rows[2][1:] == (None,) * 14


def test_both_encodings_store_the_same_rows(
    s3: S3Client,
    bucket: str,
    db: Conn,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    stack: Any,
) -> None:
    files = terrific_totes(3, 100)
    put_files(s3, bucket, files)
    lambda_handler({}, None)
    binary_rows = warehouse_facts(db)

    other = stack.create_database("csv_" + bucket.replace("-", "_"), template="loadstar_template")
    monkeypatch.setenv("LOADSTAR_DATABASE_URL", other)
    monkeypatch.setattr(copy_module, "_pgpq", None)
    lambda_handler({}, None)
    import psycopg

    with psycopg.connect(other) as conn:
        assert warehouse_facts(conn) == binary_rows == expected_facts(files)
