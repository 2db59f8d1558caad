"""Runs over a real bucket and warehouse: backlogs, dimension upserts, fact history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client

from loadstar import lambda_handler, load_dim_tables, load_fact_table
from loadstar.dev.sample import START, dimension_files, fact_files, stamp, terrific_totes
from support import (
    Conn,
    count,
    department,
    expected_facts,
    ledger,
    put_files,
    put_table,
    staff,
    staff_key,
    warehouse_facts,
)

pytestmark = pytest.mark.usefixtures("env")


# -- 3. every pending file, oldest first ------------------------------------------------------


def test_an_empty_bucket_is_a_quiet_success(db: Conn, scheduled_event: dict[str, Any]) -> None:
    summary = lambda_handler(scheduled_event, None)
    assert summary["status"] == "loaded"
    assert summary["files_loaded"] == 0
    assert summary["files_failed"] == 0


def test_a_backlog_of_fact_files_all_load_oldest_first(s3: S3Client, bucket: str, db: Conn) -> None:
    facts = fact_files(4, 30)
    put_files(s3, bucket, [*dimension_files(), *facts])
    summary = lambda_handler({}, None)
    assert summary["tables"]["fact_sales_order"]["loaded"] == [f.key for f in facts]
    assert warehouse_facts(db) == expected_facts(facts)


def test_a_missed_tick_loses_nothing(s3: S3Client, bucket: str, db: Conn) -> None:
    facts = fact_files(5, 20)
    put_files(s3, bucket, [*dimension_files(), facts[0]])
    lambda_handler({}, None)
    put_files(s3, bucket, facts[1:3])
    # a tick is missed here; two more files land
    put_files(s3, bucket, facts[3:])
    summary = lambda_handler({}, None)
    assert summary["tables"]["fact_sales_order"]["files_loaded"] == 4
    assert warehouse_facts(db) == expected_facts(facts)


def test_a_second_run_loads_nothing_again(s3: S3Client, bucket: str, db: Conn) -> None:
    put_files(s3, bucket, terrific_totes(3, 20))
    first = lambda_handler({}, None)
    before = count(db, "fact_sales_order")
    second = lambda_handler({}, None)
    assert first["files_loaded"] == 10
    assert second["files_loaded"] == 0
    assert count(db, "fact_sales_order") == before


# -- 4. dimensions keep the latest values ---------------------------------------------------


def test_newest_dimension_values_win_by_instant_not_by_key_order(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    # 01:00Z, then 23:00-05:00 the evening before in New York, which is 04:00Z: newer,
    # though its key sorts first as a string.
    put_table(s3, bucket, staff_key("2024-05-25 01:00:00"), staff([1, 2, 3], department="Old"))
    put_table(s3, bucket, staff_key("2024-05-24T23:00:00-05:00"), staff([2], department="New"))
    load_dim_tables(bucket)
    assert count(db, "dim_staff") == 3
    assert department(db, 2) == "New"
    assert department(db, 1) == "Old"


def test_snapshot_and_changed_rows_files_both_come_out_right(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    put_table(s3, bucket, staff_key("2024-05-24 10:00:00"), staff([1, 2, 3], department="A"))
    put_table(s3, bucket, staff_key("2024-05-24 11:00:00"), staff([3, 4], department="B"))
    put_table(s3, bucket, staff_key("2024-05-24 12:00:00"), staff([1, 2, 3, 4], department="C"))
    summary = load_dim_tables(bucket)
    assert count(db, "dim_staff") == 4
    assert {department(db, i) for i in (1, 2, 3, 4)} == {"C"}
    written = [f["rows_written"] for f in ledger(db).values()]
    assert written == [3, 2, 4]
    assert summary["tables"]["dim_staff"]["files_loaded"] == 3


def test_unchanged_dimension_rows_cost_no_write(s3: S3Client, bucket: str, db: Conn) -> None:
    put_table(s3, bucket, staff_key("2024-05-24 10:00:00"), staff([1, 2, 3]))
    put_table(s3, bucket, staff_key("2024-05-24 11:00:00"), staff([1, 2, 3]))
    load_dim_tables(bucket)
    rows = ledger(db)
    assert rows[staff_key("2024-05-24 11:00:00")]["rows_written"] == 0
    assert rows[staff_key("2024-05-24 11:00:00")]["rows_in_file"] == 3


def test_an_older_dimension_file_found_late_adds_only_what_no_newer_file_set(
    s3: S3Client, bucket: str, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_table(s3, bucket, staff_key("2024-05-24 12:00:00"), staff([1], department="Newer"))
    load_dim_tables(bucket)
    late = staff_key("2024-05-24 09:00:00")
    put_table(s3, bucket, late, staff([1, 2], department="Older"))
    # Its key sorts below where the last listing ended: the next full listing finds it.
    assert load_dim_tables(bucket)["files_loaded"] == 0
    monkeypatch.setenv("LOADSTAR_FULL_LISTING_INTERVAL_SECONDS", "0")
    summary = load_dim_tables(bucket)
    assert summary["tables"]["dim_staff"]["loaded"] == [late]
    assert department(db, 1) == "Newer"
    assert department(db, 2) == "Older"
    assert ledger(db)[late]["status"] == "loaded"


def test_a_failed_dimension_file_holds_nothing_back_and_loads_under_newer_values_once_fixed(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    good, bad, later = (staff_key(f"2024-05-24 1{h}:00:00") for h in (0, 1, 2))
    put_table(s3, bucket, good, staff([1], department="A"))
    put_table(
        s3,
        bucket,
        bad,
        staff([1, 2], department="B", first_name=pa.array([None, None], pa.string())),
    )
    put_table(s3, bucket, later, staff([1], department="C"))

    for _ in range(2):  # retried, and failing, on every run while the bad file stays
        with pytest.raises(Exception, match="first_name"):
            load_dim_tables(bucket)
        assert department(db, 1) == "C"
        assert ledger(db)[bad]["status"] == "failed"
        assert ledger(db)[later]["status"] == "loaded"

    put_table(s3, bucket, bad, staff([1, 2], department="B"))  # fixed in place
    summary = load_dim_tables(bucket)
    assert summary["tables"]["dim_staff"]["loaded"] == [bad]
    assert department(db, 1) == "C"  # the newer file's value stands
    assert department(db, 2) == "B"  # the key only the fixed file has


# -- 5. facts keep full history -------------------------------------------------------------


def test_fact_history_every_version_once(s3: S3Client, bucket: str, db: Conn) -> None:
    files = terrific_totes(4, 40)
    put_files(s3, bucket, files)
    lambda_handler({}, None)
    facts = expected_facts(files)
    assert warehouse_facts(db) == facts
    # at least one order was updated (two versions) and some rows re-emitted
    orders = [row[0] for row in facts]
    assert len(set(orders)) < len(orders)
    rows_in = sum(f.data.num_rows for f in files if f.table == "fact_sales_order")
    assert rows_in > len(facts)


def test_re_emitted_versions_in_a_later_file_are_not_stored_again(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    files = fact_files(2, 10)
    put_files(s3, bucket, [*dimension_files(), files[0]])
    lambda_handler({}, None)
    again = f"fact/sales_order-{stamp(START + timedelta(days=2))}.parquet"
    put_table(s3, bucket, again, files[0].data)  # the whole file, re-emitted
    summary = lambda_handler({}, None)
    assert summary["tables"]["fact_sales_order"]["rows_written"] == 0
    assert warehouse_facts(db) == expected_facts(files[:1])


def test_file_surrogate_key_is_ignored_and_the_warehouse_assigns_it(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    files = fact_files(1, 5)
    table = files[0].data
    table = table.add_column(0, "sales_record_id", pa.array([900 + i for i in range(len(table))]))
    put_files(s3, bucket, dimension_files())
    put_table(s3, bucket, files[0].key, table)
    lambda_handler({}, None)
    ids = [r[0] for r in db.execute("SELECT sales_record_id FROM fact_sales_order")]
    assert len(ids) == len(set(ids)) == len(expected_facts(files))
    assert max(ids) < 900  # the warehouse's sequence, not the file's values


def test_dimensions_load_before_facts(s3: S3Client, bucket: str, db: Conn) -> None:
    files = terrific_totes(2, 10)
    put_files(s3, bucket, files)
    summary = lambda_handler({}, None)
    assert summary["status"] == "loaded"
    rows = db.execute(
        "SELECT table_name, loaded_at FROM loadstar.load_ledger ORDER BY loaded_at"
    ).fetchall()
    kinds = [name.startswith("dim_") for name, _ in rows]
    assert kinds == sorted(kinds, reverse=True)


def test_load_fact_table_alone_loads_only_facts(s3: S3Client, bucket: str, db: Conn) -> None:
    put_files(s3, bucket, terrific_totes(1, 5))
    with pytest.raises(Exception, match="fact_sales_order"):
        load_fact_table(bucket)  # no dimensions yet: foreign keys miss
    assert count(db, "dim_staff") == 0
    load_dim_tables(bucket)
    summary = load_fact_table(bucket)
    assert summary["tables"]["fact_sales_order"]["files_loaded"] == 1


def test_a_ledger_from_an_older_loadstar_gains_the_replay_columns(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    put_files(s3, bucket, dimension_files())
    load_dim_tables(bucket)
    db.execute("ALTER TABLE loadstar.load_ledger DROP COLUMN replays, DROP COLUMN replayed_at")
    put_table(s3, bucket, staff_key("2024-06-01 00:00:00"), staff([1], department="New"))
    summary = load_dim_tables(bucket)
    assert summary["files_loaded"] == 1
    assert {row["replays"] for row in ledger(db).values()} == {0}


@pytest.mark.parametrize("setting", ["DateStyle = 'SQL, DMY'", "TimeZone = 'Pacific/Kiritimati'"])
def test_a_date_keyed_dimension_converges_whatever_the_sessions_settings(
    setting: str,
    s3: S3Client,
    bucket: str,
    db: Conn,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import date

    from loadstar.dev.sample import date_table

    def days(name: str) -> pa.Table:
        table = date_table(date(2024, 1, 1), date(2024, 1, 3))
        index = table.schema.get_field_index("day_name")
        return table.set_column(index, "day_name", pa.array([name] * 3, pa.string()))

    newer = f"dimension/date-{stamp(START + timedelta(days=1))}.parquet"
    older = f"dimension/date-{stamp(START)}.parquet"
    put_table(s3, bucket, newer, days("newer"))
    load_dim_tables(bucket)
    dbname = db.execute("SELECT current_database()").fetchone()
    assert dbname is not None
    db.execute(f"ALTER DATABASE {dbname[0]} SET {setting}")  # every later session
    put_table(s3, bucket, older, days("older"))
    monkeypatch.setenv("LOADSTAR_FULL_LISTING_INTERVAL_SECONDS", "0")
    summary = load_dim_tables(bucket)
    assert summary["tables"]["dim_date"]["loaded"] == [older]
    names = db.execute("SELECT DISTINCT day_name FROM dim_date").fetchall()
    assert names == [("newer",)]
