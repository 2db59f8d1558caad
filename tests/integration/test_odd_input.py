"""Input that looks odd but is good: it must load, exactly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client
from psycopg import sql

from loadstar import lambda_handler
from loadstar.dev.sample import dimension_files, fact_files
from loadstar.source.s3 import LOADED_TAG
from support import Conn, count, ledger, put_files, put_table, staff

pytestmark = pytest.mark.usefixtures("env")


def test_time_zone_aware_timestamps_go_into_date_and_time_as_utc(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    put_files(s3, bucket, dimension_files())
    fact = fact_files(1, 1)[0].data.slice(0, 1)
    new_york = dt.timezone(dt.timedelta(hours=-4))
    # 22:30 on the 24th in New York is 02:30 on the 25th in UTC.
    moment = pa.array(
        [dt.datetime(2024, 5, 24, 22, 30, tzinfo=new_york)],
        pa.timestamp("us", tz="America/New_York"),
    )
    for name in ("created_date", "created_time"):
        fact = fact.set_column(fact.schema.get_field_index(name), name, moment)
    put_table(s3, bucket, "fact/sales_order-2024-05-25T02:31:00Z.parquet", fact)
    assert lambda_handler({}, None)["status"] == "loaded"
    row = db.execute("SELECT created_date, created_time FROM fact_sales_order").fetchone()
    assert row == (dt.date(2024, 5, 25), dt.time(2, 30))


def test_dictionary_encoded_and_large_string_columns_load(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    table = staff(
        [1, 2, 3],
        first_name=pa.array(["Ana", "Ana", "Korey"]).dictionary_encode(),
        last_name=pa.array(["Glover", "Zieme", "Beier"], pa.large_string()),
        department_name=pa.array(
            ["Sales", "Sales", "Finance"], pa.large_string()
        ).dictionary_encode(),
    )
    put_table(s3, bucket, "dimension/staff-2024-05-24.parquet", table)
    assert lambda_handler({}, None)["status"] == "loaded"
    rows = db.execute(
        "SELECT first_name, last_name, department_name FROM dim_staff ORDER BY staff_id"
    ).fetchall()
    assert rows == [
        ("Ana", "Glover", "Sales"),
        ("Ana", "Zieme", "Sales"),
        ("Korey", "Beier", "Finance"),
    ]


@pytest.mark.parametrize(
    "key",
    [
        "dimension/staff-2024-05-24 14:35:22.123456 copy.parquet",
        "dimension/staff-2024-05-24T14:35:22+01:00.parquet",
        "dimension/staff-2024-05-24 14:35:22 100%.parquet",
        "dimension/staff/2024/05/24/14:35:22 ünïcødé ✓.parquet",
        "dimension/staff-2024-05-24 14:35:22 a+b=c&d.parquet",
    ],
)
def test_keys_with_spaces_plus_percent_colons_and_unicode_load(
    key: str, s3: S3Client, bucket: str, db: Conn
) -> None:
    etag = put_table(s3, bucket, key, staff([1, 2]))
    summary = lambda_handler({}, None)
    assert summary["tables"]["dim_staff"]["loaded"] == [key]
    assert ledger(db)[key]["etag"] == etag
    tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    assert LOADED_TAG in {t["Key"] for t in tags}
    assert count(db, "dim_staff") == 2
    assert lambda_handler({}, None)["files_loaded"] == 0


def test_hostile_names_in_the_configuration_are_quoted_never_executed(
    s3: S3Client, bucket: str, db: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd_table = 'dim "odd"; DROP TABLE dim_staff; -- ünï'
    odd_schema = 'sch"ema; DROP TABLE dim_date; --'
    table = sql.Identifier(odd_schema, odd_table)
    db.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(odd_schema)))
    db.execute(
        sql.SQL("CREATE TABLE {} ({} integer PRIMARY KEY, {} text NOT NULL)").format(
            table, sql.Identifier("id; --"), sql.Identifier('näme "x"')
        )
    )
    config = tmp_path / "loadstar.toml"
    config.write_text(
        "[warehouse]\n"
        f"schema = '{odd_schema}'\n"
        "[ledger]\n"
        "schema = 'ledger\"; DROP SCHEMA public CASCADE; --'\n"
        f"[tables.'{odd_table}']\n"
        'kind = "dimension"\n'
        'prefix = "dimension/odd"\n'
        "[tables.'dim_\"missing; DROP TABLE dim_currency']\n"
        'prefix = "dimension/missing"\n'
    )
    monkeypatch.setenv("LOADSTAR_CONFIG", str(config))
    put_table(
        s3,
        bucket,
        "dimension/odd-2024-05-24.parquet",
        pa.table({"id; --": pa.array([1, 2], pa.int64()), 'näme "x"': ["a", "b"]}),
    )
    put_table(s3, bucket, "dimension/missing-2024-05-24.parquet", staff([1]))
    with pytest.raises(Exception, match="does not exist"):
        lambda_handler({}, None)
    rows = db.execute(sql.SQL("SELECT * FROM {} ORDER BY 1").format(table)).fetchall()
    assert rows == [(1, "a"), (2, "b")]
    for name in ("dim_staff", "dim_date", "dim_currency"):
        assert count(db, name) == 0  # still there
    ledger_schema = 'ledger"; DROP SCHEMA public CASCADE; --'
    found = db.execute(
        "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (ledger_schema,)
    ).fetchone()
    assert found == (1,)
