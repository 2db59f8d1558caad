"""Dimension rows converge to the newest file per key, at the edges: ties, replays, seeds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client
from psycopg import sql

from loadstar import load_dim_tables, load_to_warehouse
from loadstar.cli import EXIT_OK, main
from loadstar.dev.local import LocalServices
from loadstar.warehouse.ledger import newest_loaded
from loadstar.warehouse.schema import init_warehouse
from support import Conn, department, ledger, put_table, staff, staff_key

pytestmark = pytest.mark.usefixtures("env")

EN_US = "en_US.UTF-8"


def versions(db: Conn) -> dict[str, str]:
    """The key_versions rows of dim_staff: row key -> the key of the file that set it."""
    rows = db.execute(
        "SELECT row_key, file_key FROM loadstar.key_versions WHERE table_name = 'dim_staff'"
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def full_listings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run lists the whole prefix, so a late file below the watermark is found."""
    monkeypatch.setenv("LOADSTAR_FULL_LISTING_INTERVAL_SECONDS", "0")


def test_each_row_records_the_file_that_set_it_and_an_older_file_counts_only_its_new_keys(
    s3: S3Client, bucket: str, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer, older = staff_key("2024-05-24 12:00:00"), staff_key("2024-05-24 09:00:00")
    put_table(s3, bucket, newer, staff([1, 2], department="Newer"))
    load_dim_tables(bucket)
    full_listings(monkeypatch)
    put_table(s3, bucket, older, staff([1, 2, 3], department="Older"))
    load_dim_tables(bucket)
    assert [department(db, i) for i in (1, 2, 3)] == ["Newer", "Newer", "Older"]
    assert versions(db) == {"(1)": newer, "(2)": newer, "(3)": older}
    rows = ledger(db)
    assert (rows[older]["rows_in_file"], rows[older]["rows_written"]) == (3, 1)


def test_at_one_instant_the_greater_key_is_the_newer_file(
    s3: S3Client, bucket: str, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same instant written two ways: "T" sorts after " ", so that key is the newer file.
    greater, lesser = staff_key("2024-05-24T10:00:00"), staff_key("2024-05-24 10:00:00")
    put_table(s3, bucket, greater, staff([1], department="Greater"))
    load_dim_tables(bucket)
    full_listings(monkeypatch)
    put_table(s3, bucket, lesser, staff([1, 2], department="Lesser"))
    load_dim_tables(bucket)
    assert ledger(db)[lesser]["status"] == "loaded"
    assert department(db, 1) == "Greater"
    assert department(db, 2) == "Lesser"
    assert versions(db) == {"(1)": greater, "(2)": lesser}


def test_a_replayed_older_file_restores_only_the_keys_no_newer_file_set(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    old, new = staff_key("2030-01-01 00:00:00"), staff_key("2030-01-02 00:00:00")
    put_table(s3, bucket, old, staff([1, 2], department="Old"))
    put_table(s3, bucket, new, staff([1], department="New"))
    load_dim_tables(bucket)
    db.execute("UPDATE dim_staff SET department_name = 'by hand'")
    assert main(["replay", old]) == EXIT_OK
    assert department(db, 1) == "by hand"  # set by the newer file: not the older one's
    assert department(db, 2) == "Old"  # set by this file: re-applied
    assert main(["replay", new]) == EXIT_OK
    assert department(db, 1) == "New"
    assert versions(db) == {"(1)": new, "(2)": old}


def test_rows_loaded_before_versions_were_kept_count_as_the_newest_loaded_files(
    s3: S3Client, bucket: str, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, newest = staff_key("2024-05-24 11:00:00"), staff_key("2024-05-24 12:00:00")
    put_table(s3, bucket, first, staff([1], department="First"))
    put_table(s3, bucket, newest, staff([2], department="Newest"))
    load_dim_tables(bucket)
    db.execute("DELETE FROM loadstar.key_versions")  # as an older loadstar left them
    full_listings(monkeypatch)
    late = staff_key("2024-05-24 09:00:00")
    put_table(s3, bucket, late, staff([1, 2, 3], department="Late"))
    load_dim_tables(bucket)
    assert [department(db, i) for i in (1, 2, 3)] == ["First", "Newest", "Late"]
    # Seeded once, with the newest loaded file of the table, whichever set the row.
    assert versions(db) == {"(1)": newest, "(2)": newest, "(3)": late}
    assert ledger(db)[late]["rows_written"] == 1


def test_versions_are_kept_per_table_and_per_composite_key(
    s3: S3Client, bucket: str, db: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.execute(
        "CREATE TABLE dim_region (country text, code text, name text NOT NULL,"
        " PRIMARY KEY (country, code))"
    )
    config = tmp_path / "loadstar.toml"
    config.write_text(
        '[tables.dim_region]\nprefix = "dimension/region"\n'
        '[tables.dim_staff]\nprefix = "dimension/staff"\n'
    )
    monkeypatch.setenv("LOADSTAR_CONFIG", str(config))
    put_table(s3, bucket, staff_key("2024-05-24 12:00:00"), staff([1], department="Staff"))
    newer = "dimension/region-2024-05-24 12:00:00.parquet"
    region = {"country": ["GB", "GB"], "code": ["LDS", "LON"]}
    put_table(s3, bucket, newer, pa.table({**region, "name": ["Leeds", "London"]}))
    load_dim_tables(bucket)
    full_listings(monkeypatch)
    older = "dimension/region-2024-05-24 09:00:00.parquet"
    put_table(
        s3,
        bucket,
        older,
        pa.table({"country": ["GB", "FR"], "code": ["LDS", "LDS"], "name": ["Old", "Lens"]}),
    )
    load_dim_tables(bucket)
    rows = db.execute("SELECT country, code, name FROM dim_region ORDER BY 1, 2").fetchall()
    assert rows == [("FR", "LDS", "Lens"), ("GB", "LDS", "Leeds"), ("GB", "LON", "London")]
    kept = db.execute(
        "SELECT table_name, row_key, file_key FROM loadstar.key_versions ORDER BY 1, 2"
    ).fetchall()
    assert kept == [
        ("dim_region", "(FR,LDS)", older),
        ("dim_region", "(GB,LDS)", newer),
        ("dim_region", "(GB,LON)", newer),
        ("dim_staff", "(1)", staff_key("2024-05-24 12:00:00")),
    ]


def test_an_identity_keyed_dimension_keeps_the_files_keys_and_updates_the_rest(
    s3: S3Client, bucket: str, db: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.execute(
        "CREATE TABLE dim_things (thing_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "name text NOT NULL)"
    )
    config = tmp_path / "loadstar.toml"
    config.write_text('[tables.dim_things]\nprefix = "dimension/things"\n')
    monkeypatch.setenv("LOADSTAR_CONFIG", str(config))
    first = pa.table({"thing_id": pa.array([10, 20], pa.int64()), "name": ["a", "b"]})
    put_table(s3, bucket, "dimension/things-2024-05-24.parquet", first)
    load_dim_tables(bucket)
    again = pa.table({"thing_id": pa.array([20, 30], pa.int64()), "name": ["b2", "c"]})
    put_table(s3, bucket, "dimension/things-2024-05-25.parquet", again)
    load_dim_tables(bucket)
    rows = db.execute("SELECT thing_id, name FROM dim_things ORDER BY 1").fetchall()
    assert rows == [(10, "a"), (20, "b2"), (30, "c")]
    # Rows that come from no file: the same upsert, without versions.
    more = pa.table({"thing_id": pa.array([30, 40], pa.int64()), "name": ["c2", "d"]})
    assert load_to_warehouse(more, "dim_things") == 2
    rows = db.execute("SELECT thing_id, name FROM dim_things ORDER BY 1").fetchall()
    assert rows == [(10, "a"), (20, "b2"), (30, "c2"), (40, "d")]


def test_rows_from_no_file_count_only_what_changed(db: Conn) -> None:
    rows = staff([1, 2], department="Api")
    assert load_to_warehouse(rows, "dim_staff") == 2
    assert load_to_warehouse(rows, "dim_staff") == 0
    assert load_to_warehouse(staff([2, 3], department="Api"), "dim_staff") == 1
    assert department(db, 3) == "Api"


def test_a_changed_row_is_updated_without_writing_its_key(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    # A trigger on the key column stands for anything that watches keys being written.
    db.execute("""
        CREATE FUNCTION refuse_key_write() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'staff_id written'; END
        $$;
        CREATE TRIGGER refuse_key_write BEFORE UPDATE OF staff_id ON dim_staff
            FOR EACH ROW EXECUTE FUNCTION refuse_key_write();
    """)
    put_table(s3, bucket, staff_key("2024-05-24 10:00:00"), staff([1, 2], department="Old"))
    load_dim_tables(bucket)
    put_table(s3, bucket, staff_key("2024-05-24 11:00:00"), staff([1], department="New"))
    assert load_dim_tables(bucket)["files_loaded"] == 1
    assert [department(db, i) for i in (1, 2)] == ["New", "Old"]


def test_a_dimension_keyed_by_a_column_named_key_converges_too(
    s3: S3Client, bucket: str, db: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "key" is also a column of the ledger that versions are seeded from.
    db.execute("CREATE TABLE dim_setting (key text PRIMARY KEY, value text NOT NULL)")
    config = tmp_path / "loadstar.toml"
    config.write_text('[tables.dim_setting]\nprefix = "dimension/setting"\n')
    monkeypatch.setenv("LOADSTAR_CONFIG", str(config))
    newer = "dimension/setting-2024-05-24 12:00:00.parquet"
    put_table(s3, bucket, newer, pa.table({"key": ["a"], "value": ["new"]}))
    load_dim_tables(bucket)
    full_listings(monkeypatch)
    older = "dimension/setting-2024-05-24 09:00:00.parquet"
    put_table(s3, bucket, older, pa.table({"key": ["a", "b"], "value": ["old", "old"]}))
    load_dim_tables(bucket)
    rows = db.execute("SELECT key, value FROM dim_setting ORDER BY 1").fetchall()
    assert rows == [("a", "new"), ("b", "old")]


# Keys of one instant whose order in C (code points: S3's and loadstar's order) and in a
# linguistic collation differ, and a third between the two in C's order.
DISAGREEING_KEYS = [
    pytest.param(
        *(f"dimension/staff-2024-05-24 14:35:22.123456_{end}.parquet" for end in "BaZ"),
        id="case",
    ),
    pytest.param(
        *(f"dimension/staff-2024-05-24T14:35:22Z-x{end}.parquet" for end in ("-2", "_1", ".3")),
        id="punctuation",
    ),
]


@pytest.fixture
def linguistic_warehouse(
    stack: LocalServices, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> Iterator[Conn]:
    """The test's warehouse, made again in a database whose default collation is en_US's,
    as a cloud warehouse's often is (tests/ensure-locale makes the locale)."""
    name = f"en_us_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 LOCALE {}").format(
                sql.Identifier(name), sql.Literal(EN_US)
            )
        )
    url = stack.database_url(name)
    with psycopg.connect(url, autocommit=True) as conn:
        init_warehouse(conn)
        monkeypatch.setenv("LOADSTAR_DATABASE_URL", url)
        yield conn
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.parametrize(("first", "second", "between"), DISAGREEING_KEYS)
@pytest.mark.parametrize("runs", [1, 2], ids=["one run", "two runs"])
def test_files_of_one_instant_apply_in_key_order_whatever_the_warehouses_collation(
    first: str,
    second: str,
    between: str,
    runs: int,
    s3: S3Client,
    bucket: str,
    linguistic_warehouse: Conn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = linguistic_warehouse
    assert sorted([second, between, first]) == [first, between, second]
    in_warehouse = db.execute("SELECT %s::text < %s::text", (second, first)).fetchone()
    assert in_warehouse == (True,)  # the collation disagrees with the files' order
    put_table(s3, bucket, first, staff([1, 2], department="first"))
    if runs == 2:
        assert load_dim_tables(bucket)["tables"]["dim_staff"]["loaded"] == [first]
    put_table(s3, bucket, second, staff([2], department="second"))
    loaded = [first, second][runs - 1 :]  # what this run loads
    assert load_dim_tables(bucket)["tables"]["dim_staff"]["loaded"] == loaded
    assert (department(db, 1), department(db, 2)) == ("first", "second")
    assert ledger(db)[second]["rows_written"] == 1
    newest = newest_loaded(db, "loadstar", bucket, "dim_staff")
    assert newest is not None
    assert newest[1] == second  # as `loadstar status` shows it
    versions = db.execute("SELECT row_key, file_key FROM loadstar.key_versions ORDER BY 1")
    assert versions.fetchall() == [("(1)", first), ("(2)", second)]

    # Rows an older loadstar loaded count as set by the newest file: the second, in C.
    db.execute("DELETE FROM loadstar.key_versions")
    monkeypatch.setenv("LOADSTAR_FULL_LISTING_INTERVAL_SECONDS", "0")
    put_table(s3, bucket, between, staff([2, 3], department="between"))
    assert load_dim_tables(bucket)["tables"]["dim_staff"]["loaded"] == [between]
    assert [department(db, i) for i in (1, 2, 3)] == ["first", "second", "between"]
