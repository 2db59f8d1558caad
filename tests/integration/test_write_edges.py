"""Writing a file's rows into the warehouse, at the edges: keys, identities, versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client

from loadstar import BadFileError, lambda_handler, load_to_warehouse
from loadstar.dev.sample import SampleFile, terrific_totes
from support import Conn, count, put_files

SCHEMA = """
    CREATE TABLE dim_region (
        country text, code text, name text NOT NULL, PRIMARY KEY (country, code)
    );
    CREATE TABLE dim_code (code text PRIMARY KEY, label text);
    CREATE FUNCTION upper_code() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.code := upper(NEW.code); RETURN NEW; END
    $$;
    CREATE TRIGGER upper_code BEFORE INSERT ON dim_code
        FOR EACH ROW EXECUTE FUNCTION upper_code();
"""

CATALOGUE = """
[tables.dim_region]
[tables.dim_code]
"""


@pytest.fixture
def tables(env: dict[str, str], db: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Conn:
    db.execute(SCHEMA)
    config = tmp_path / "loadstar.toml"
    config.write_text(CATALOGUE)
    monkeypatch.setenv("LOADSTAR_CONFIG", str(config))
    return db


def refused(rows: dict[str, Any], table: str) -> BadFileError:
    with pytest.raises(BadFileError) as caught:
        load_to_warehouse(pa.table(rows), table)
    return caught.value


def test_a_composite_key_twice_in_a_dimension_file_is_named_whole_with_its_count(
    tables: Conn,
) -> None:
    error = refused(
        {
            "country": ["GB", "GB", "FR", "GB", "GB"],
            "code": ["LDS", "LON", "LYS", "LDS", "LDS"],
            "name": ["Leeds", "London", "Lyon", "Leeds", "Leeds"],
        },
        "dim_region",
    )
    assert str(error) == (
        "table public.dim_region, column country, code: "
        "primary key (country='GB', code='LDS') appears 3 times in the file; "
        "a dimension file may hold each key once"
    )
    assert count(tables, "dim_region") == 0


def test_keys_only_a_trigger_makes_equal_are_refused_as_appearing_several_times(
    tables: Conn,
) -> None:
    error = refused({"code": ["gb", "GB"], "label": ["one", "two"]}, "dim_code")
    assert error.table == "public.dim_code"
    assert error.column == "code"
    assert error.detail.endswith(
        "appears several times in the file; a dimension file may hold each key once"
    )
    assert count(tables, "dim_code") == 0


def test_a_version_repeated_within_a_file_is_appended_once_without_a_unique_index(
    env: dict[str, str], db: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.execute(
        "CREATE TABLE fact_reading (reading_id bigint NOT NULL, taken text NOT NULL,"
        " value integer NOT NULL)"
    )
    config = tmp_path / "loadstar.toml"
    config.write_text('[tables.fact_reading]\nversion_key = ["reading_id", "taken"]\n')
    monkeypatch.setenv("LOADSTAR_CONFIG", str(config))
    rows: dict[str, Any] = {
        "reading_id": pa.array([1, 1, 2, 1], pa.int64()),
        "taken": ["09:00", "09:00", "09:00", "10:00"],
        "value": pa.array([10, 11, 20, 12], pa.int64()),
    }
    assert load_to_warehouse(pa.table(rows), "fact_reading") == 3
    assert load_to_warehouse(pa.table(rows), "fact_reading") == 0
    stored = db.execute(
        "SELECT reading_id, taken, value FROM fact_reading ORDER BY 1, 2"
    ).fetchall()
    assert stored == [(1, "09:00", 10), (1, "10:00", 12), (2, "09:00", 20)]


def test_each_file_says_how_its_rows_travelled_and_how_its_keys_were_checked(
    env: dict[str, str], s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    files = terrific_totes(2, 20)
    later = "2030-01-01 00:00:00.000000"
    empty = [
        SampleFile(f"{f.key.rsplit('-', 3)[0]}-{later}.parquet", f.table, f.data.slice(0, 0))
        for f in (files[0], files[-1])
    ]
    put_files(s3, bucket, [*files, *empty])
    assert lambda_handler({}, None)["status"] == "loaded"
    lines = {line["key"]: line for line in log_lines.events("file_loaded")}
    assert set(lines) == {f.key for f in [*files, *empty]}
    for f in [*files, *empty]:
        line = lines[f.key]
        fact = f.table.startswith("fact_")
        assert (line["rows"], line["foreign_keys"]) == (
            f.data.num_rows,
            "per_file" if fact else "none",
        ), f.key
        assert line["copy_format"] == ("binary" if f.data.num_rows else None), f.key


def test_a_row_the_warehouse_rejects_names_the_table(tables: Conn) -> None:
    tables.execute("ALTER TABLE dim_code ADD CHECK (label <> 'no')")
    found = refused({"code": ["a", "b"], "label": ["yes", "no"]}, "dim_code")
    assert found.table == "public.dim_code"
    assert found.sqlstate == "23514"
    assert "the warehouse rejected the rows" in found.detail
