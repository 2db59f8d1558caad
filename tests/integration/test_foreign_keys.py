"""Set-based foreign-key checks agree with PostgreSQL's own, key shape by key shape."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client

from loadstar import LoadFailedError, lambda_handler, load_to_warehouse
from support import Conn, count, ledger, put_table

pytestmark = pytest.mark.usefixtures("env")

SCHEMA = """
    CREATE TABLE dim_region (
        country text, code text, name text NOT NULL, PRIMARY KEY (country, code)
    );
    CREATE TABLE fact_visit (
        visit_id bigserial PRIMARY KEY,
        country text,
        code text,
        visits integer NOT NULL,
        FOREIGN KEY (country, code) REFERENCES dim_region (country, code)
    );
    CREATE TABLE fact_referral (
        referral_id bigint PRIMARY KEY,
        referrer_id bigint REFERENCES fact_referral (referral_id),
        visits integer NOT NULL
    );
"""


@pytest.fixture
def regions(env: dict[str, str], db: Conn, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    db.execute(SCHEMA)
    config = tmp_path / "loadstar.toml"
    config.write_text(
        '[tables.dim_region]\n[tables.fact_visit]\nprefix = "fact/visit"\n'
        '[tables.fact_referral]\nprefix = "fact/referral"\n'
    )
    monkeypatch.setenv("LOADSTAR_CONFIG", str(config))
    load_to_warehouse(
        pa.table(
            {
                "country": ["GB", "GB", "FR"],
                "code": ["LDS", "LON", "LYS"],
                "name": ["Leeds", "London", "Lyon"],
            }
        ),
        "dim_region",
    )


def visits(**columns: Any) -> pa.Table:
    return pa.table(
        {"visits": pa.array([1] * len(next(iter(columns.values()))), pa.int64()), **columns}
    )


def foreign_key_mode(log_lines: Any) -> set[str]:
    return {
        line["foreign_keys"]
        for line in log_lines.events("file_loaded")
        if line["table"] == "fact_visit"
    }


@pytest.mark.usefixtures("regions")
def test_composite_keys_are_checked_as_a_whole(
    s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    put_table(
        s3,
        bucket,
        "fact/visit-2024-05-24.parquet",
        visits(country=["GB", "FR", "GB"], code=["LDS", "LYS", "LON"]),
    )
    put_table(
        s3,
        bucket,
        "fact/visit-2024-05-25.parquet",
        visits(country=["GB", "FR"], code=["LYS", "LYS"]),
    )  # (GB, LYS) is no region
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    reason = caught.value.summary["tables"]["fact_visit"]["failed"][0]["reason"]
    assert "country, code" in reason
    assert "country='GB', code='LYS'" in reason
    assert count(db, "fact_visit") == 3
    assert foreign_key_mode(log_lines) == {"per_file"}


@pytest.mark.usefixtures("regions")
def test_a_null_in_a_key_column_is_not_checked(s3: S3Client, bucket: str, db: Conn) -> None:
    # MATCH SIMPLE: (NULL, 'XXX') references nothing and is allowed.
    put_table(
        s3,
        bucket,
        "fact/visit-2024-05-24.parquet",
        visits(country=pa.array([None, "GB"], pa.string()), code=["XXX", "LDS"]),
    )
    assert lambda_handler({}, None)["status"] == "loaded"
    assert count(db, "fact_visit") == 2


@pytest.mark.usefixtures("regions")
def test_a_self_referencing_key_is_left_to_the_per_row_checks(
    s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    rows = pa.table(
        {
            "referral_id": pa.array([1, 2], pa.int64()),
            "referrer_id": pa.array([None, 77], pa.int64()),
            "visits": pa.array([1, 1], pa.int64()),
        }
    )
    put_table(s3, bucket, "fact/referral-2024-05-24.parquet", rows)
    with pytest.raises(LoadFailedError, match="referrer_id"):
        lambda_handler({}, None)
    assert count(db, "fact_referral") == 0
    assert ledger(db)["fact/referral-2024-05-24.parquet"]["status"] == "failed"


@pytest.mark.usefixtures("regions")
def test_a_key_column_with_a_default_left_out_of_the_file_is_checked_per_row(
    s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    db.execute("ALTER TABLE fact_visit ALTER COLUMN code SET DEFAULT 'NOPE'")
    put_table(s3, bucket, "fact/visit-2024-05-24.parquet", visits(country=["GB"]))
    with pytest.raises(LoadFailedError, match="fact_visit_country_code_fkey"):
        lambda_handler({}, None)
    assert count(db, "fact_visit") == 0
