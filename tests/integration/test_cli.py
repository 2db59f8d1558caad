"""The command line, end to end: real PostgreSQL, the moto S3 server, output and exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client

from loadstar.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_LOCKED, EXIT_OK, main
from loadstar.config import default_catalogue
from loadstar.dev.sample import SampleFile, dimension_files, fact_files
from loadstar.source.claims import KeyRule
from loadstar.source.discovery import current_file
from loadstar.warehouse.ledger import Status, record
from support import (
    Conn,
    count,
    department,
    fact_table_without_version_key,
    hold_table_lock,
    ledger,
    put_files,
    put_table,
    staff,
    staff_key,
)

LOADSTAR = Path(sys.executable).with_name("loadstar")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def as_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code, out, err = run_cli(capsys, *argv, "--json")
    assert out, err
    return code, json.loads(out)


def with_value(table: pa.Table, column: str, row: int, value: object) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, pa.array(values, table.schema.field(column).type))


@pytest.fixture
def lock_held(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Another load's lock on every table, held for the test."""
    monkeypatch.setenv("LOADSTAR_TABLE_LOCK_WAIT_SECONDS", "0.1")
    with psycopg.connect(database, autocommit=True) as other:
        for spec in default_catalogue():
            hold_table_lock(other, spec.name)
        yield


pytestmark = pytest.mark.usefixtures("env")


@pytest.fixture
def loaded_dims(
    s3: S3Client, bucket: str, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> list[SampleFile]:
    """The sample dimension files, loaded by one run whose output is discarded."""
    dims = dimension_files()
    put_files(s3, bucket, dims)
    assert main(["run"]) == EXIT_OK
    capsys.readouterr()
    return dims


# -- run ---------------------------------------------------------------------


def test_run_prints_the_summary_and_exits_zero(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(s3, bucket, dimension_files())
    code, summary = as_json(capsys, "run")
    assert code == EXIT_OK
    assert summary["files_loaded"] == 6
    assert count(db, "dim_currency") == 3


def test_run_reads_as_text_without_json(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(s3, bucket, dimension_files())
    code, out, _ = run_cli(capsys, "run")
    assert code == EXIT_OK
    first, header, *tables = out.splitlines()
    assert first.startswith("run ")
    rows = sum(f.data.num_rows for f in dimension_files())
    assert f": loaded, 6 files loaded, {rows:,} rows written" in first
    assert header.split() == [
        "table",
        "files",
        "loaded",
        "rows",
        "written",
        "failed",
        "skipped",
        "pending",
    ]
    assert ["dim_currency", "1", "3", "0", "0", "0"] in [line.split() for line in tables]


def test_run_exits_one_when_a_file_failed(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(s3, bucket, fact_files(1, 3))
    code, summary = as_json(capsys, "run")
    assert code == EXIT_FAILED
    assert summary["status"] == "failed"


@pytest.mark.usefixtures("lock_held")
def test_run_exits_three_when_another_load_holds_the_tables(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(s3, bucket, dimension_files())
    code, summary = as_json(capsys, "run")
    assert code == EXIT_LOCKED
    assert summary["status"] == "partial"
    tables = {t["name"]: t for t in summary["tables"]}
    assert tables["dim_currency"]["busy"]
    assert count(db, "dim_currency") == 0


def test_flags_override_the_environment(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOADSTAR_BUCKET", "no-such-bucket")
    put_files(s3, bucket, dimension_files())
    code, summary = as_json(capsys, "run", "--bucket", bucket)
    assert code == EXIT_OK
    assert summary["bucket"] == bucket


def test_run_can_write_its_metrics_as_emf(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(s3, bucket, dimension_files())
    code, _, err = run_cli(capsys, "run", "--emf", "--log-format", "json")
    assert code == EXIT_OK
    lines = [json.loads(line) for line in err.splitlines()]
    run = next(line for line in lines if "_aws" in line and "Table" not in line)
    assert run["FilesLoaded"] == 6
    assert [line["event"] for line in lines if "_aws" not in line].count("file_loaded") == 6


def test_bad_settings_exit_two_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LOADSTAR_BUCKET", raising=False)
    code, _, err = run_cli(capsys, "run")
    assert code == EXIT_CONFIG
    assert "LOADSTAR_BUCKET" in err
    assert "hint:" in err


# -- plan --------------------------------------------------------------------


def test_plan_lists_pending_files_in_order_and_what_would_fail_touching_nothing(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    dims = dimension_files()
    facts = fact_files(3, 20)
    put_files(s3, bucket, [*dims, *facts])
    too_big = facts[1]
    put_table(s3, bucket, too_big.key, with_value(too_big.data, "units_sold", 4, 2**40))
    no_units = facts[2]
    put_table(s3, bucket, no_units.key, no_units.data.drop_columns(["units_sold"]))

    code, plan = as_json(capsys, "plan")
    assert code == EXIT_FAILED
    assert plan["would_fail"] is True
    tables = {t["name"]: t for t in plan["tables"]}
    assert [t["kind"] for t in plan["tables"]][:6] == ["dimension"] * 6
    fact = tables["fact_sales_order"]
    assert [f["key"] for f in fact["files"]] == [f.key for f in facts]
    assert [f["rows"] for f in fact["files"]] == [f.data.num_rows for f in facts]
    assert all(f["size_bytes"] > 0 for f in fact["files"])
    ok, big, missing = fact["files"]
    assert ok["problem"] is None
    assert too_big.key in big["problem"]
    assert "units_sold" in big["problem"]
    assert str(2**40) in big["problem"]
    assert "units_sold" in missing["problem"]
    assert all(f["problem"] is None for f in tables["dim_staff"]["files"])

    # a dry run: no ledger, no rows, no tags
    assert db.execute("SELECT to_regclass('loadstar.load_ledger')").fetchone() == (None,)
    assert count(db, "dim_staff") == 0
    assert s3.get_object_tagging(Bucket=bucket, Key=dims[0].key)["TagSet"] == []


def test_plan_schema_only_reads_footers_and_misses_only_bad_values(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = fact_files(2, 20)
    put_files(s3, bucket, [*dimension_files(), *facts])
    put_table(s3, bucket, facts[0].key, with_value(facts[0].data, "units_sold", 4, 2**40))
    put_table(s3, bucket, facts[1].key, facts[1].data.drop_columns(["units_sold"]))
    code, plan = as_json(capsys, "plan", "--schema-only")
    assert code == EXIT_FAILED
    assert plan["values_checked"] is False
    fact = next(t for t in plan["tables"] if t["name"] == "fact_sales_order")
    value, column = fact["files"]
    assert value["problem"] is None
    assert value["rows"] == facts[0].data.num_rows
    assert "units_sold" in column["problem"]


def test_plan_of_a_clean_bucket_exits_zero_and_says_so(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(s3, bucket, dimension_files())
    code, out, _ = run_cli(capsys, "plan")
    assert code == EXIT_OK
    assert out.splitlines()[-1] == "the next run would load cleanly"
    assert "nothing to load" in next(line for line in out.splitlines() if "fact_sales" in line)


def test_plan_reports_files_a_run_would_skip(
    s3: S3Client,
    bucket: str,
    db: Conn,
    loaded_dims: list[SampleFile],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A key rewritten in place sorts below the watermark: full listings see it.
    monkeypatch.setenv("LOADSTAR_FULL_LISTING_INTERVAL_SECONDS", "0")
    changed = loaded_dims[0]
    put_table(s3, bucket, changed.key, changed.data.slice(0, 5))  # overwritten after loading
    before = ledger(db)
    code, plan = as_json(capsys, "plan")
    assert code == EXIT_OK
    assert as_json(capsys, "status")[0] == EXIT_OK
    assert ledger(db) == before  # neither wrote a thing
    reported = [r for t in plan["tables"] for r in t["reported"]]
    assert [r["key"] for r in reported] == [loaded_dims[0].key]
    assert "changed after it was loaded" in reported[0]["reason"]


def test_plan_lists_the_files_waiting_behind_a_table_problem(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    dims = dimension_files()
    put_files(s3, bucket, dims)
    db.execute("DROP TABLE dim_staff CASCADE")
    code, plan = as_json(capsys, "plan")
    assert code == EXIT_CONFIG  # the warehouse's set-up, not a file, needs the fix
    staff = next(t for t in plan["tables"] if t["name"] == "dim_staff")
    assert "dim_staff" in staff["error"]
    assert staff["error_type"] == "MissingTableError"
    assert [f["key"] for f in staff["files"]] == [f.key for f in dims if f.table == "dim_staff"]
    assert staff["files"][0]["size_bytes"] > 0


@pytest.mark.parametrize("bad_at", [0, 1])
def test_plan_shows_a_bad_dimension_file_and_the_later_ones_that_load_regardless(
    bad_at: int, s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    stamps = ["2024-05-24 10:00:00", "2024-05-24 11:00:00", "2024-05-24 12:00:00"]
    keys = [staff_key(s) for s in stamps]
    for i, key in enumerate(keys):
        rows = staff([1, 2], department=f"v{i}")
        put_table(s3, bucket, key, with_value(rows, "staff_id", 1, None) if i == bad_at else rows)
    code, plan = as_json(capsys, "plan")
    assert code == EXIT_FAILED
    planned = next(t for t in plan["tables"] if t["name"] == "dim_staff")["files"]
    verdicts = [f["problem"] for f in planned]
    assert [f["key"] for f in planned] == keys
    assert "NULL" in verdicts[bad_at]
    assert [v for i, v in enumerate(verdicts) if i != bad_at] == [None, None]
    # and the run does exactly that
    code, summary = as_json(capsys, "run")
    assert code == EXIT_FAILED
    table = next(t for t in summary["tables"] if t["name"] == "dim_staff")
    assert table["loaded"] == [k for i, k in enumerate(keys) if i != bad_at]
    assert [f["key"] for f in table["failed"]] == [keys[bad_at]]
    assert table["skipped"] == []
    assert department(db, 1) == "v2"


PLAN_TRUTHS = ["repeated key", "NUL in text", "foreign key miss", "CHECK violated", "trigger"]


@pytest.mark.parametrize("case", PLAN_TRUTHS)
def test_plan_finds_what_the_run_would_fail_on(
    case: str, s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    dims, facts = dimension_files(), fact_files(2, 20)
    staff_file = next(f for f in dims if f.table == "dim_staff")
    bad_key, expected = staff_file.key, ""
    if case == "repeated key":
        doubled = pa.concat_tables([staff_file.data, staff_file.data.slice(0, 1)])
        put_table(s3, bucket, staff_file.key, doubled)
        expected = "appears 2 times"
    elif case == "NUL in text":
        put_table(
            s3, bucket, staff_file.key, with_value(staff_file.data, "first_name", 3, "a\x00b")
        )
        expected = "NUL character"
    elif case == "foreign key miss":
        bad_key, expected = facts[1].key, "4242"
        put_table(s3, bucket, bad_key, with_value(facts[1].data, "sales_staff_id", 5, 4242))
    elif case == "CHECK violated":
        db.execute("ALTER TABLE fact_sales_order ADD CHECK (units_sold < 100000000)")
        bad_key, expected = facts[1].key, "check constraint"
        put_table(s3, bucket, bad_key, with_value(facts[1].data, "units_sold", 5, 100000000))
    else:
        db.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.design_name = 'refused' THEN RAISE EXCEPTION 'no refused designs'; END IF; "
            "RETURN NEW; END $$"
        )
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON dim_design "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
        design = next(f for f in dims if f.table == "dim_design")
        bad_key, expected = design.key, "no refused designs"
        put_table(s3, bucket, bad_key, with_value(design.data, "design_name", 2, "refused"))
    put_files(s3, bucket, [f for f in [*dims, *facts] if f.key not in (bad_key, staff_file.key)])
    if staff_file.key != bad_key:
        put_table(s3, bucket, staff_file.key, staff_file.data)

    code, plan = as_json(capsys, "plan")
    assert code == EXIT_FAILED
    problems = {f["key"]: f["problem"] for t in plan["tables"] for f in t["files"]}
    assert expected in (problems[bad_key] or "")
    would_fail = {k for k, p in problems.items() if p}
    assert db.execute("SELECT to_regclass('loadstar.load_ledger')").fetchone() == (None,)
    assert count(db, "dim_staff") == 0

    # the run fails exactly the files the plan said it would, for the same reasons
    code, summary = as_json(capsys, "run")
    assert code == EXIT_FAILED
    failed = {f["key"]: f["reason"] for t in summary["tables"] for f in t["failed"]}
    assert set(failed) == would_fail
    assert expected in failed[bad_key]


# -- status, history ---------------------------------------------------------


def test_status_shows_loaded_pending_and_failed_per_table(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dims = dimension_files()
    facts = fact_files(3, 10)
    put_files(s3, bucket, [*dims, *facts[:2]])
    bad = facts[1]
    put_table(s3, bucket, bad.key, with_value(bad.data, "units_sold", 0, 2**40))
    assert main(["run"]) == EXIT_FAILED
    put_files(s3, bucket, facts[2:])  # lands after the run
    capsys.readouterr()

    code, status = as_json(capsys, "status")
    assert code == EXIT_FAILED  # a file has failed
    tables = {t["name"]: t for t in status["tables"]}
    assert set(tables) == {spec.name for spec in default_catalogue()}
    fact = tables["fact_sales_order"]
    assert fact["files_loaded"] == 1
    assert fact["newest_loaded_key"] == facts[0].key
    assert fact["rows"] > 0
    # the failed file is retried by every run, so it still counts as pending
    assert fact["pending"] == 2
    assert fact["oldest_pending_age_seconds"] > 0
    assert [f["key"] for f in fact["failed"]] == [bad.key]
    assert "units_sold" in fact["failed"][0]["reason"]
    assert tables["dim_staff"]["pending"] == 0
    assert status["totals"]["failed"] == 1
    assert status["totals"]["files_loaded"] == len(dims) + 1

    code, out, _ = run_cli(capsys, "status")
    lines = out.splitlines()
    assert lines[0] == f"s3://{bucket}"
    assert lines[1].split()[:6] == ["table", "loaded", "rows", "pending", "failed", "skipped"]
    total = next(line for line in lines if line.startswith("total"))
    assert total.split()[1:] == [str(len(dims) + 1), f"{status['totals']['rows']:,}", "2", "1", "0"]
    cells = next(line for line in lines if line.startswith("fact_sales_order ")).split()
    assert cells[1:4] == ["1", f"{fact['rows']:,}", "2"]  # loaded, rows, pending
    assert cells[4] == "(oldest"
    assert cells[-4:-2] == ["1", "0"]  # failed, skipped
    assert cells[-2:] == [facts[0].key.split("-", 1)[1][:10], cells[-1]]
    assert f"fact_sales_order: failed {bad.key}: " in out


def test_status_of_a_new_warehouse_creates_nothing(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(s3, bucket, dimension_files())
    code, status = as_json(capsys, "status")
    assert code == EXIT_OK
    assert status["totals"]["pending"] == 6
    assert db.execute("SELECT to_regclass('loadstar.load_ledger')").fetchone() == (None,)


def test_history_lists_the_ledger_newest_first(
    db: Conn, loaded_dims: list[SampleFile], capsys: pytest.CaptureFixture[str]
) -> None:
    code, found = as_json(capsys, "history", "--limit", "3")
    assert code == EXIT_OK
    history = found["files"]
    assert len(history) == 3
    stamps = [h["updated_at"] for h in history]
    assert stamps == sorted(stamps, reverse=True)
    code, found = as_json(capsys, "history", "--table", "dim_staff")
    staff = found["files"]
    assert [h["key"] for h in staff] == [f.key for f in loaded_dims if f.table == "dim_staff"]
    assert staff[0]["status"] == "loaded"
    assert staff[0]["rows_written"] > 0


def test_history_rejects_a_limit_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["history", "--limit", "0"])
    assert exit_.value.code == EXIT_CONFIG
    assert "must be 1 or more" in capsys.readouterr().err


# -- replay ------------------------------------------------------------------


def test_replaying_a_dimension_file_reapplies_its_values(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    dims = dimension_files()
    put_files(s3, bucket, dims)
    assert main(["run"]) == EXIT_OK
    currency = next(f for f in dims if f.table == "dim_currency")
    db.execute("UPDATE dim_currency SET currency_name = 'changed by hand'")
    capsys.readouterr()

    code, result = as_json(capsys, "replay", currency.key)
    assert code == EXIT_OK
    assert result["status"] == "loaded"
    assert result["rows_written"] == 3
    names = {r[0] for r in db.execute("SELECT currency_name FROM dim_currency")}
    assert names == set(currency.data.column("currency_name").to_pylist())
    row = ledger(db)[currency.key]
    assert (row["status"], row["replays"]) == ("loaded", 1)
    assert row["replayed_at"] is not None


def test_replaying_an_older_dimension_file_restores_only_what_no_newer_file_set(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = staff_key("2030-01-01 00:00:00"), staff_key("2030-01-02 00:00:00")
    put_table(s3, bucket, old, staff([1, 2], department="Old"))
    put_table(s3, bucket, new, staff([1], department="New"))
    assert main(["run"]) == EXIT_OK
    db.execute("UPDATE dim_staff SET department_name = 'by hand'")  # a repair gone wrong
    capsys.readouterr()

    assert run_cli(capsys, "replay", old)[0] == EXIT_OK
    assert department(db, 1) == "by hand"  # the newer file set it: not the old file's
    assert department(db, 2) == "Old"
    assert ledger(db)[old]["replays"] == 1
    assert run_cli(capsys, "replay", new)[0] == EXIT_OK
    assert department(db, 1) == "New"


def test_replaying_a_fact_file_with_a_version_key_adds_nothing(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = fact_files(1, 10)
    put_files(s3, bucket, [*dimension_files(), *facts])
    assert main(["run"]) == EXIT_OK
    before = count(db, "fact_sales_order")
    capsys.readouterr()
    first = ledger(db)[facts[0].key]
    code, result = as_json(capsys, "replay", facts[0].key)
    assert code == EXIT_OK
    assert result["rows_written"] == 0
    assert count(db, "fact_sales_order") == before
    row = ledger(db)[facts[0].key]
    assert row["replays"] == 1
    # what the first load recorded stays: the rows it wrote, when, by which run
    for column in ("rows_written", "rows_in_file", "loaded_at", "run_id"):
        assert row[column] == first[column], column


def test_replaying_a_fact_file_without_a_version_key_needs_force(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = fact_table_without_version_key(db, tmp_path)
    facts = fact_files(1, 10)
    put_files(s3, bucket, [*dimension_files(), *facts])
    assert main(["run", "--config", str(config)]) == EXIT_OK
    before = count(db, "fact_sales_order")
    capsys.readouterr()

    code, _, err = run_cli(capsys, "replay", facts[0].key, "--config", str(config))
    assert code == EXIT_CONFIG
    assert "no version_key" in err
    assert "--force" in err
    assert count(db, "fact_sales_order") == before

    code, result = as_json(capsys, "replay", facts[0].key, "--config", str(config), "--force")
    assert code == EXIT_OK
    assert count(db, "fact_sales_order") == 2 * before == result["rows_written"] * 2


def test_replay_refuses_a_file_that_is_not_loaded(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dims = dimension_files()
    put_files(s3, bucket, dims)
    code, _, err = run_cli(capsys, "replay", dims[0].key)
    assert code == EXIT_CONFIG
    assert "not in the ledger" in err
    assert "loadstar run" in err


def test_replay_exits_three_when_another_run_holds_the_lock(
    loaded_dims: list[SampleFile],
    database: str,
    db: Conn,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    staff_file = next(f for f in loaded_dims if f.table == "dim_staff")
    monkeypatch.setenv("LOADSTAR_TABLE_LOCK_WAIT_SECONDS", "0.1")
    with psycopg.connect(database, autocommit=True) as other:
        hold_table_lock(other, "dim_staff")
        code, _, err = run_cli(capsys, "replay", staff_file.key)
        json_code, document = as_json(capsys, "replay", staff_file.key)
    assert code == EXIT_LOCKED
    assert "another load holds the table's lock" in err
    assert json_code == EXIT_LOCKED
    assert document["error"]["type"] == "TableBusyError"
    assert ledger(db)[staff_file.key]["replays"] == 0
    assert run_cli(capsys, "replay", staff_file.key)[0] == EXIT_OK  # once it is free


# -- skip --------------------------------------------------------------------


def test_skipping_a_failed_file_lets_runs_pass(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = fact_files(2, 10)
    put_files(s3, bucket, [*dimension_files(), *facts])
    bad = facts[0]
    put_table(s3, bucket, bad.key, with_value(bad.data, "units_sold", 0, 2**40))
    assert main(["run"]) == EXIT_FAILED
    assert main(["run"]) == EXIT_FAILED  # it fails every run until someone decides
    capsys.readouterr()

    code, result = as_json(capsys, "skip", bad.key, "--reason", "reissued upstream")
    assert code == EXIT_OK
    assert result["table"] == "fact_sales_order"
    row = ledger(db)[bad.key]
    failure, skipped = row["reason"].split("\n")
    assert row["status"] == "skipped"
    assert failure.startswith(
        f"failed: file {bad.key!r}, table public.fact_sales_order, column units_sold"
    )
    assert re.fullmatch(
        r"skipped \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by \S.*: reissued upstream", skipped
    )
    assert result["reason"] == row["reason"]
    assert main(["run"]) == EXIT_OK


def test_a_skip_stays_even_when_a_run_records_the_file_failed_after_it(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = fact_files(1, 10)
    put_files(s3, bucket, facts)  # no dimensions: the file fails
    assert main(["run"]) == EXIT_FAILED
    assert main(["skip", facts[0].key, "--reason", "known bad"]) == EXIT_OK
    # a run that was already loading the file when the skip landed now records its failure
    source = current_file(s3, bucket, KeyRule(prefix="fact/sales_order"), facts[0].key)
    assert source is not None
    recorded = record(
        db, "loadstar", bucket, "fact_sales_order", source, Status.FAILED, "FK", "late"
    )
    assert recorded is False
    assert ledger(db)[facts[0].key]["status"] == "skipped"


def test_a_file_no_run_has_tried_can_be_skipped(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    dims = dimension_files()
    put_files(s3, bucket, dims)
    staff = next(f for f in dims if f.table == "dim_staff")
    assert main(["skip", staff.key, "--reason", "known bad"]) == EXIT_OK
    assert main(["run"]) == EXIT_OK
    assert count(db, "dim_staff") == 0
    assert ledger(db)[staff.key]["status"] == "skipped"


def test_skip_refuses_loaded_missing_and_unclaimed_keys(
    loaded_dims: list[SampleFile], capsys: pytest.CaptureFixture[str]
) -> None:
    for key, message in (
        (loaded_dims[0].key, "it is loaded"),
        ("dimension/staff-2030-01-01.parquet", "does not exist"),
        ("elsewhere/file-2024-01-01.parquet", "no table of the catalogue"),
    ):
        code, _, err = run_cli(capsys, "skip", key, "--reason", "x")
        assert code == EXIT_CONFIG, key
        assert message in err, err


def test_skip_requires_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["skip", "dimension/staff-2024.parquet"])
    assert exit_.value.code == EXIT_CONFIG
    assert "--reason" in capsys.readouterr().err


# -- init-db, help, the installed command ------------------------------------


def test_init_db_creates_the_warehouse_in_a_schema(db: Conn) -> None:
    assert main(["init-db", "--schema", "analytics"]) == EXIT_OK
    tables = {
        r[0]
        for r in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics'"
        )
    }
    assert tables == {spec.name for spec in default_catalogue()}
    assert main(["init-db", "--schema", "analytics"]) == EXIT_OK  # idempotent


@pytest.mark.parametrize(
    "command", ["run", "plan", "status", "history", "replay", "skip", "init-db", "demo"]
)
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "example:\n  " in out
    assert "loadstar " in out.split("example:")[1]


def test_the_installed_command_runs_with_json_logs_on_stderr(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    put_files(s3, bucket, dimension_files())
    done = subprocess.run(
        [str(LOADSTAR), "run", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ.copy(),
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(done.stdout)["files_loaded"] == 6
    events = [json.loads(line)["event"] for line in done.stderr.splitlines()]
    assert events.count("file_loaded") == 6
    assert events[-1] == "run_finished"
    assert count(db, "dim_staff") > 0


def test_the_demo_runs_end_to_end() -> None:
    done = subprocess.run(
        [str(LOADSTAR), "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "demo: OK" in done.stdout
    assert "units sold by country and month" in done.stdout
    assert "FilesLoaded=11" in done.stdout
    assert "its notification came through the queue (1 message) and the handler loaded 1 file" in (
        done.stdout
    )
    assert "batchItemFailures=[])" in done.stdout


def test_a_failed_file_deleted_from_the_bucket_is_gone_not_failing(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key = staff_key("2024-05-24 10:00:00")
    put_table(s3, bucket, key, with_value(staff([1, 2]), "staff_id", 1, None))
    assert main(["run"]) == EXIT_FAILED
    capsys.readouterr()
    code, status = as_json(capsys, "status")
    assert code == EXIT_FAILED
    s3.delete_object(Bucket=bucket, Key=key)
    code, status = as_json(capsys, "status")
    assert code == EXIT_OK
    table = next(t for t in status["tables"] if t["name"] == "dim_staff")
    assert (table["failed"], table["gone"]) == ([], [key])
    code, text, _ = run_cli(capsys, "status")
    assert f"gone {key}: failed, then deleted from the bucket" in text
