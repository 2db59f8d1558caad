"""Files laid out the way real teams lay them out load as written; nobody's files are named.

Folders per table (with date subfolders or not), the timestamp first through
a pattern, keys without an extension through a suffix; a key two tables
claim; a bucket no table reads; and the proposal's functions as their users
call them.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client

from loadstar import (
    BadFileError,
    LoadFailedError,
    get_latest_parquet_file,
    lambda_handler,
    load_dim_tables,
    load_fact_table,
    load_to_warehouse,
)
from loadstar.cli import EXIT_FAILED, EXIT_OK, main
from loadstar.config import default_catalogue
from loadstar.dev.sample import SampleFile, terrific_totes
from loadstar.errors import TableError
from loadstar.telemetry import logs
from support import Conn, assert_exact, count, department, put_table, staff

pytestmark = pytest.mark.usefixtures("env")


@pytest.fixture
def catalogue(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    def use(text: str) -> Path:
        path = tmp_path / "catalogue.toml"
        path.write_text(text)
        monkeypatch.setenv("LOADSTAR_CONFIG", str(path))
        return path

    return use


def pandas_bytes(table: pa.Table) -> bytes:
    """The file a pandas transform writes: DataFrame.to_parquet, one row group."""
    sink = io.BytesIO()
    table.to_pandas().to_parquet(sink, index=False)
    return sink.getvalue()


def catalogue_of(prefix: Any) -> str:
    """Every default table, each with the prefix ``prefix(table name)`` gives."""
    return "".join(f'[tables.{t.name}]\nprefix = "{prefix(t.name)}"\n' for t in default_catalogue())


def relaid(files: list[SampleFile], key: Any) -> list[SampleFile]:
    return [SampleFile(key(f), f.table, f.data) for f in files]


def put_pandas(s3: S3Client, bucket: str, files: list[SampleFile]) -> None:
    for f in files:
        s3.put_object(Bucket=bucket, Key=f.key, Body=pandas_bytes(f.data))


# -- layouts ------------------------------------------------------------------------------


def test_the_other_teams_folder_per_table_layout_loads_with_the_folder_as_prefix(
    catalogue: Any, s3: S3Client, bucket: str, db: Conn
) -> None:
    """<table>/<table>-<timestamp>.parquet, written by pandas, with prefix = "<table>/"."""
    original = terrific_totes(3, 40)
    files = relaid(original, lambda f: f"{f.table}/{f.table}-{_compact(f)}.parquet")
    put_pandas(s3, bucket, files)
    catalogue(catalogue_of(lambda name: f"{name}/"))
    summary = lambda_handler({}, None)
    assert summary["status"] == "loaded"
    assert summary["files_loaded"] == len(files)
    assert_exact(db, files)


def test_date_subfolders_below_a_table_folder_order_its_files(
    catalogue: Any, s3: S3Client, bucket: str, db: Conn
) -> None:
    catalogue('[tables.dim_staff]\nprefix = "dim_staff/"\n')
    layout = {
        "dim_staff/2025/06/10/dim_staff-20250610T090000Z.parquet": "third",
        "dim_staff/2025/06/09/dim_staff-20250609T105450Z.parquet": "second",
        "dim_staff/2025-06-08/part-00000.parquet": "first",
    }
    for key, name in layout.items():
        put_table(s3, bucket, key, staff([1], department=name))
    summary = load_dim_tables()
    assert summary["tables"]["dim_staff"]["loaded"] == list(reversed(layout))
    assert department(db, 1) == "third"


def test_a_single_untimestamped_file_in_a_table_folder_loads(
    catalogue: Any, s3: S3Client, bucket: str, db: Conn
) -> None:
    catalogue('[tables.dim_staff]\nprefix = "dim_staff/"\n')
    put_table(s3, bucket, "dim_staff/dim_staff.parquet", staff([1, 2]))
    assert load_dim_tables()["files_loaded"] == 1
    assert count(db, "dim_staff") == 2


@pytest.mark.parametrize(
    ("pattern", "keys"),
    [
        pytest.param(
            "{timestamp}/staff.parquet",
            ["2024-05-24 14:35:22.123456/staff.parquet", "2024-05-25 09:00:00/staff.parquet"],
            id="timestamp first",
        ),
        pytest.param(
            "exports/*/staff-{timestamp}.parquet",
            [
                "exports/run-a/staff-20240524T143522Z.parquet",
                "exports/b/staff-20240525T090000Z.parquet",
            ],
            id="a wildcard folder",
        ),
        pytest.param(
            "{timestamp}/staff.parquet",
            ["2024/05/24/staff.parquet", "2024/05/25/staff.parquet"],
            id="date folders first",
        ),
    ],
)
def test_a_pattern_claims_layouts_a_prefix_cannot(
    pattern: str, keys: list[str], catalogue: Any, s3: S3Client, bucket: str, db: Conn
) -> None:
    catalogue(f'[tables.dim_staff]\npattern = "{pattern}"\n')
    put_table(s3, bucket, keys[1], staff([1], department="newer"))
    put_table(s3, bucket, keys[0], staff([1, 2], department="older"))
    put_table(s3, bucket, "2024-05-24 14:35:22/counterparty.parquet", staff([9]))  # not staff
    summary = load_dim_tables()
    assert summary["tables"]["dim_staff"]["loaded"] == keys
    assert (department(db, 1), department(db, 2)) == ("newer", "older")


def test_keys_without_an_extension_load_with_an_empty_suffix(
    catalogue: Any, s3: S3Client, bucket: str, db: Conn
) -> None:
    catalogue('[tables.dim_staff]\nprefix = "dimension/staff"\nsuffix = ""\n')
    put_table(s3, bucket, "dimension/staff-2024-05-24 14:35:22", staff([1], department="a"))
    put_table(s3, bucket, "dimension/staff-2024-05-25 14:35:22", staff([1], department="b"))
    assert load_dim_tables()["files_loaded"] == 2
    assert department(db, 1) == "b"


def test_the_readmes_catalogue_example_reads_files_as_written(
    catalogue: Any, s3: S3Client, bucket: str, db: Conn
) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    # the example's schema is the reader's own; the tests' warehouse is in public
    example = example.replace('schema = "project_team_2"', "")
    catalogue(example.replace('bucket = "terrific-totes-processed"', f'bucket = "{bucket}"'))
    counterparty = next(f for f in terrific_totes(1, 5) if f.table == "dim_counterparty")
    put_table(
        s3, bucket, "dim_counterparty/dim_counterparty-20250609T105450Z.parquet", counterparty.data
    )
    assert load_dim_tables()["files_loaded"] == 1
    assert count(db, "dim_counterparty") == counterparty.data.num_rows


# -- one key, one table ---------------------------------------------------------------------


def test_a_key_two_tables_claim_fails_both_naming_both(
    catalogue: Any, s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    catalogue(
        '[tables.dim_staff]\nprefix = "dimension/"\n'
        '[tables.dim_location]\nprefix = "dimension/staff"\n'
    )
    key = "dimension/staff-2024-05-24 14:35:22.parquet"
    put_table(s3, bucket, key, staff([1]))
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    for table in ("dim_staff", "dim_location"):
        error = caught.value.summary["tables"][table]["error"]
        assert f"key {key!r} is claimed by both" in error
        assert "dim_staff" in error and "dim_location" in error  # noqa: PT018 - both named
    assert count(db, "dim_staff") == 0
    capsys.readouterr()
    assert main(["plan"]) == EXIT_FAILED
    assert "is claimed by both" in capsys.readouterr().out


# -- never silent about files nobody claims -------------------------------------------------


def test_a_bucket_of_parquet_no_table_claims_fails_the_run_loudly(
    catalogue: Any,
    s3: S3Client,
    bucket: str,
    db: Conn,
    log_lines: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the README's own first example, as a new user writes it: a prefix without its slash
    catalogue('[tables.dim_staff]\nprefix = "dim_staff/dim"\n')
    put_table(s3, bucket, "dim_staff/staff-20250609T105450Z.parquet", staff([1]))
    put_table(s3, bucket, "elsewhere/file.parquet", staff([2]))
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    summary = caught.value.summary
    assert summary["unclaimed"]["count"] == 2
    assert "dim_staff/staff-20250609T105450Z.parquet" in summary["unclaimed"]["examples"]
    assert summary["error"]["type"] == "NothingClaimedError"
    warning = [line for line in log_lines.events("unclaimed_files") if "bucket" in line]
    assert warning[0]["tables_tried"] == ["dim_staff: prefix 'dim_staff/dim'"]
    capsys.readouterr()
    assert main(["run"]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert "2 data files in the bucket that no table claims" in out


def test_a_bucket_of_nothing_that_looks_like_data_stays_quiet(
    s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    for key in ("dimension/_SUCCESS", "notes/readme.json", "dimension/"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert main(["run"]) == EXIT_OK
    assert log_lines.events("unclaimed_files") == []


def test_unclaimed_keys_without_an_extension_warn_but_do_not_fail(
    s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    s3.put_object(Bucket=bucket, Key="exports/staff-2024-05-24", Body=b"x")
    assert main(["run"]) == EXIT_OK
    [warning] = log_lines.events("unclaimed_files")
    assert warning["examples"] == ["exports/staff-2024-05-24"]


def test_data_under_a_tables_listing_that_it_does_not_claim_is_named_with_why(
    catalogue: Any, s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    catalogue('[tables.dim_staff]\nprefix = "dim_staff/"\n')
    put_table(s3, bucket, "dim_staff/dim_staff-20250609T105450Z.parquet", staff([1]))
    put_table(s3, bucket, "dim_staff/notes/extra.parquet", staff([2]))
    s3.put_object(Bucket=bucket, Key="dim_staff/dim_staff-20250610T105450Z.csv", Body=b"x")
    summary = load_dim_tables()
    assert summary["tables"]["dim_staff"]["files_loaded"] == 1
    [warning] = log_lines.events("unclaimed_files")
    assert warning["table"] == "dim_staff"
    whys = {e["key"]: e["why"] for e in warning["examples"]}
    assert "no timestamp" in whys["dim_staff/notes/extra.parquet"]
    assert "dim_staff/dim_staff-20250610T105450Z.csv" not in whys  # a .csv is no data file


@pytest.mark.parametrize("command", ["plan", "status"])
def test_plan_and_status_list_what_no_table_claims(
    command: str, s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    nobodys = [f"dim_staff/staff-2025060{n}T105450Z.parquet" for n in range(1, 4)]
    for key in nobodys:
        put_table(s3, bucket, key, staff([1]))
    put_table(s3, bucket, "dimension/staff-2024-05-24 14:35:22.parquet", staff([1]))
    main([command, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["unclaimed"] == {"count": 3, "examples": nobodys}
    main([command])
    text = capsys.readouterr().out
    assert "3 data files in the bucket that no table claims" in text


# -- the proposal's functions, as its users call them ---------------------------------------


def test_the_loaders_take_the_configured_bucket(s3: S3Client, bucket: str, db: Conn) -> None:
    files = terrific_totes(1, 10)
    for f in files:
        put_table(s3, bucket, f.key, f.data)
    assert load_dim_tables()["bucket"] == bucket
    assert load_fact_table()["files_loaded"] == 1
    assert_exact(db, files)


def test_latest_file_of_a_folder_and_why_a_prefix_reads_nothing(
    s3: S3Client, bucket: str, log_lines: Any
) -> None:
    put_table(s3, bucket, "dimension/staff-2024-05-24 14:35:22.parquet", staff([1]))
    put_table(s3, bucket, "dimension/staff-2024-05-25 14:35:22.parquet", staff([1]))
    assert get_latest_parquet_file(bucket, "dimension/") == (
        "dimension/staff-2024-05-25 14:35:22.parquet"
    )
    put_table(s3, bucket, "dim_staff/part/one.parquet", staff([1]))
    with pytest.raises(FileNotFoundError) as caught:
        get_latest_parquet_file(bucket, "dim_staff/")
    message = str(caught.value)
    assert "holds 1 object(s), none a file of it" in message
    assert "no timestamp in 'part/one.parquet' below the folder" in message
    with pytest.raises(FileNotFoundError, match="what follows 'dimension/sta'"):
        get_latest_parquet_file(bucket, "dimension/sta")
    assert [e["prefix"] for e in log_lines.events("latest_file_failed")] == [
        "dim_staff/",
        "dimension/sta",
    ]


def test_load_to_warehouse_upserts_any_table_whose_key_the_data_holds(db: Conn) -> None:
    db.execute("CREATE TABLE payment_type (payment_type_id integer PRIMARY KEY, name text)")
    rows = pa.table({"payment_type_id": pa.array([1, 2], pa.int64()), "name": ["SALES", "REFUND"]})
    assert load_to_warehouse(rows, "payment_type") == 2
    assert load_to_warehouse(rows, "payment_type") == 0  # the same rows again: nothing to write
    changed = pa.table({"payment_type_id": pa.array([2], pa.int64()), "name": ["REFUNDED"]})
    assert load_to_warehouse(changed, "payment_type") == 1
    assert db.execute("SELECT * FROM payment_type ORDER BY 1").fetchall() == [
        (1, "SALES"),
        (2, "REFUNDED"),
    ]


def test_load_to_warehouse_appends_to_a_table_without_a_key_in_the_data(
    db: Conn, log_lines: Any
) -> None:
    db.execute("CREATE TABLE audit (audit_id serial PRIMARY KEY, note text NOT NULL)")
    db.execute("CREATE TABLE events (happened date, what text)")
    notes = pd.DataFrame({"note": ["a", "b"]})
    assert load_to_warehouse(notes, "audit") == 2
    assert load_to_warehouse(notes, "audit") == 2  # no key of its own: appended again
    assert db.execute("SELECT audit_id, note FROM audit ORDER BY 1").fetchall() == [
        (1, "a"),
        (2, "b"),
        (3, "a"),
        (4, "b"),
    ]
    events = pa.table({"what": ["x"]})
    assert load_to_warehouse(events, "events") == 1
    assert [line["table"] for line in log_lines.events("table_loaded")] == [
        "audit",
        "audit",
        "events",
    ]


def test_load_to_warehouse_logs_an_error_line_before_raising(db: Conn, log_lines: Any) -> None:
    db.execute("CREATE TABLE payment_type (payment_type_id integer PRIMARY KEY, name text)")
    bad = pa.table({"payment_type_id": pa.array([1, 2**40], pa.int64()), "name": ["a", "b"]})
    with pytest.raises(BadFileError, match="does not fit integer"):
        load_to_warehouse(bad, "payment_type")
    [line] = log_lines.events("load_failed")
    assert (line["table"], line["column"]) == ("payment_type", "payment_type_id")
    with pytest.raises(TableError, match="does not exist"):
        load_to_warehouse(bad, "no_such_table")


# -- logging: once in Lambda, and never taken from anyone else -------------------------------


class LambdaLoggerHandler(logging.Handler):
    """The Lambda runtime's own root handler, as the Python runtime names it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_lines_appear_once_under_the_lambda_runtime_and_users_still_see_them(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    runtime, users = LambdaLoggerHandler(), Collect()
    root.addHandler(runtime)
    try:
        put_table(s3, bucket, "dimension/staff-2024-05-24 14:35:22.parquet", staff([1]))
        lambda_handler({}, None)
        root.addHandler(users)
        put_table(s3, bucket, "dimension/staff-2024-05-25 14:35:22.parquet", staff([1]))
        lambda_handler({}, None)
    finally:
        root.removeHandler(runtime)
        root.removeHandler(users)
    printed = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    loaded = [x for x in printed if x.get("event") == "file_loaded"]
    assert len(loaded) == 2  # one JSON line per file, printed once
    assert runtime.lines == []  # the runtime's handler passed over loadstar's records
    assert "file_loaded" in [r.getMessage() for r in users.records]
    assert logging.getLogger(logs.LOGGER_NAME).propagate


def _compact(f: SampleFile) -> str:
    from loadstar.source.keys import instant_from_key

    instant = instant_from_key(f.key)
    assert instant is not None
    return instant.strftime("%Y%m%dT%H%M%S") + f"{instant.microsecond:06d}Z"
