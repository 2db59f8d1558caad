"""Edge cases of loadstar.warehouse.foreign_keys, against the real warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client

from conftest import LogLines
from loadstar import LoadFailedError, lambda_handler, load_to_warehouse
from support import Conn, count, put_table

pytestmark = pytest.mark.usefixtures("env")

SCHEMA = """
    CREATE TABLE dim_region (
        country text, code text, name text NOT NULL, PRIMARY KEY (country, code)
    );
    CREATE TABLE dim_city (
        city_id integer PRIMARY KEY,
        slug text UNIQUE,
        country text,
        code text,
        name text NOT NULL,
        FOREIGN KEY (country, code) REFERENCES dim_region (country, code)
    );
    CREATE TABLE fact_visit (
        visit_id bigserial PRIMARY KEY,
        city_id integer REFERENCES dim_city (city_id),
        country text,
        code text,
        visits integer NOT NULL,
        FOREIGN KEY (country, code) REFERENCES dim_region (country, code)
    );
    CREATE TABLE fact_strict (
        strict_id bigserial PRIMARY KEY,
        country text,
        code text,
        visits integer NOT NULL,
        FOREIGN KEY (country, code) REFERENCES dim_region (country, code) MATCH FULL
    );
"""

CATALOGUE = """
[tables.dim_region]
[tables.dim_city]
prefix = "dimension/city"
[tables.fact_visit]
prefix = "fact/visit"
[tables.fact_strict]
prefix = "fact/strict"
"""


@pytest.fixture
def tables(db: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Conn:
    db.execute(SCHEMA)
    config = tmp_path / "loadstar.toml"
    config.write_text(CATALOGUE)
    monkeypatch.setenv("LOADSTAR_CONFIG", str(config))
    regions = {"country": ["GB", "GB", "FR"], "code": ["LDS", "LON", "LYS"]}
    load_to_warehouse(pa.table({**regions, "name": ["Leeds", "London", "Lyon"]}), "dim_region")
    return db


def cities(ids: list[int], country: list[str], code: list[str]) -> pa.Table:
    return pa.table(
        {
            "city_id": pa.array(ids, pa.int64()),
            "slug": [f"c{i}" for i in ids],
            "country": country,
            "code": code,
            "name": [f"City {i}" for i in ids],
        }
    )


def visits(**columns: Any) -> pa.Table:
    rows = len(next(iter(columns.values())))
    return pa.table({"visits": pa.array([1] * rows, pa.int64()), **columns})


def mode(log_lines: LogLines, table: str) -> set[str]:
    """How the loaded files of ``table`` had their foreign keys checked."""
    return {
        line["foreign_keys"] for line in log_lines.events("file_loaded") if line["table"] == table
    }


def failure(table: str) -> str:
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    reason: str = caught.value.summary["tables"][table]["failed"][0]["reason"]
    return reason


def test_a_dimension_only_referenced_by_its_primary_key_checks_its_own_keys_once_per_file(
    tables: Conn, s3: S3Client, bucket: str, log_lines: LogLines
) -> None:
    put_table(
        s3, bucket, "dimension/city-2024-05-24.parquet", cities([1, 2], ["GB"] * 2, ["LDS"] * 2)
    )
    put_table(
        s3, bucket, "fact/visit-2024-05-24.parquet", visits(city_id=pa.array([1, 2, 2], pa.int64()))
    )
    assert lambda_handler({}, None)["status"] == "loaded"
    assert mode(log_lines, "dim_city") == {"per_file"}
    assert mode(log_lines, "fact_visit") == {"per_file"}
    assert count(tables, "fact_visit") == 3


def test_a_missing_key_is_counted_once_however_often_the_file_repeats_it(
    tables: Conn, s3: S3Client, bucket: str
) -> None:
    put_table(
        s3,
        bucket,
        "dimension/city-2024-05-24.parquet",
        cities([1, 2, 3, 4], ["GB", "FR", "FR", "GB"], ["LDS", "LDS", "LDS", "LON"]),
    )
    assert failure("dim_city") == (
        "file 'dimension/city-2024-05-24.parquet', table public.dim_city, column country, code: "
        "foreign key dim_city_country_code_fkey: "
        "1 value(s) are not present in public.dim_region (country, code), "
        "e.g. country='FR', code='LDS'"
    )
    assert count(tables, "dim_city") == 0


def test_every_missing_key_is_counted(tables: Conn, s3: S3Client, bucket: str) -> None:
    load_to_warehouse(cities([1], ["GB"], ["LDS"]), "dim_city")
    ids = pa.array([1, 7, 8, 8, 9, None], pa.int64())
    put_table(s3, bucket, "fact/visit-2024-05-24.parquet", visits(city_id=ids))
    reason = failure("fact_visit")
    assert reason.startswith(
        "file 'fact/visit-2024-05-24.parquet', table public.fact_visit, column city_id: "
        "foreign key fact_visit_city_id_fkey: "
        "3 value(s) are not present in public.dim_city (city_id), e.g. city_id="
    )
    assert reason.rsplit("=", 1)[1] in {"7", "8", "9"}
    assert count(tables, "fact_visit") == 0


def test_a_dimension_referenced_by_another_column_is_checked_row_by_row(
    tables: Conn, s3: S3Client, bucket: str, log_lines: LogLines
) -> None:
    tables.execute(
        "CREATE TABLE fact_trip (trip_id bigint PRIMARY KEY, slug text REFERENCES dim_city (slug))"
    )
    put_table(s3, bucket, "dimension/city-2024-05-24.parquet", cities([1], ["GB"], ["LDS"]))
    assert lambda_handler({}, None)["status"] == "loaded"
    assert mode(log_lines, "dim_city") == {"per_row"}


def test_a_table_with_a_trigger_of_its_own_is_checked_row_by_row(
    tables: Conn, s3: S3Client, bucket: str, log_lines: LogLines
) -> None:
    tables.execute("""
        CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RETURN NEW; END
        $$;
        CREATE TRIGGER keep BEFORE INSERT ON fact_visit FOR EACH ROW EXECUTE FUNCTION keep();
    """)
    put_table(s3, bucket, "fact/visit-2024-05-24.parquet", visits(country=["GB"], code=["LDS"]))
    assert lambda_handler({}, None)["status"] == "loaded"
    assert mode(log_lines, "fact_visit") == {"per_row"}


def test_a_key_column_the_file_leaves_out_without_a_default_leaves_that_key_unchecked(
    tables: Conn, s3: S3Client, bucket: str, log_lines: LogLines
) -> None:
    # code is NULL throughout: MATCH SIMPLE checks nothing of (country, code).
    put_table(s3, bucket, "fact/visit-2024-05-24.parquet", visits(country=["XX", "YY"]))
    assert lambda_handler({}, None)["status"] == "loaded"
    assert mode(log_lines, "fact_visit") == {"per_file"}
    assert count(tables, "fact_visit") == 2


def test_a_match_full_key_is_left_to_postgresql(
    tables: Conn, s3: S3Client, bucket: str, log_lines: LogLines
) -> None:
    put_table(s3, bucket, "fact/strict-2024-05-24.parquet", visits(country=["GB"], code=["LDS"]))
    assert lambda_handler({}, None)["status"] == "loaded"
    assert mode(log_lines, "fact_strict") == {"per_row"}
    # MATCH FULL refuses a key half NULL, which a set-wise check would let through.
    half = visits(country=["GB"], code=pa.array([None], pa.string()))
    put_table(s3, bucket, "fact/strict-2024-05-25.parquet", half)
    assert "fact_strict_country_code_fkey" in failure("fact_strict")
    assert count(tables, "fact_strict") == 1


def test_a_key_column_with_a_default_that_the_file_supplies_is_checked_once_per_file(
    tables: Conn, s3: S3Client, bucket: str, log_lines: LogLines
) -> None:
    tables.execute("ALTER TABLE fact_visit ALTER COLUMN code SET DEFAULT 'LDS'")
    put_table(s3, bucket, "fact/visit-2024-05-24.parquet", visits(country=["GB"], code=["LON"]))
    assert lambda_handler({}, None)["status"] == "loaded"
    assert mode(log_lines, "fact_visit") == {"per_file"}


def test_a_file_without_rows_checks_no_key_and_loads(
    tables: Conn, s3: S3Client, bucket: str, log_lines: LogLines
) -> None:
    empty = visits(city_id=pa.array([1], pa.int64())).slice(0, 0)
    put_table(s3, bucket, "fact/visit-2024-05-24.parquet", empty)
    assert lambda_handler({}, None)["status"] == "loaded"
    assert count(tables, "fact_visit") == 0
    assert load_to_warehouse(empty, "fact_visit") == 0  # no batch at all
