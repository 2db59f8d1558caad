"""The operator's day: the local stack, one message per mistake, one JSON schema, output
people read — through the installed command, on a terminal and piped."""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client
from psycopg import sql

from loadstar.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, main
from loadstar.config import SETTINGS_HELP
from loadstar.dev.local import LocalServices
from loadstar.dev.sample import dimension_files, fact_files, terrific_totes
from support import Conn, count, ledger, put_files, put_table

LOADSTAR = Path(sys.executable).with_name("loadstar")
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
# An SGR sequence that sets a colour (30-38, 40-48, 90-97, 100-107), not bold or italic.
ANSI_ANY = re.compile(r"\x1b\[[0-9;]*m")
ANSI_COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def on_a_terminal(*argv: str, extra: dict[str, str] | None = None) -> tuple[int, str]:
    """The installed command run on a pseudo-terminal: its exit code and what it showed."""
    env = {**os.environ, "COLUMNS": "200", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    env.update(extra or {})
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command, on the terminal
        os.execve(str(LOADSTAR), [str(LOADSTAR), *argv], env)  # noqa: S606
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal closed: the command has ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode().replace("\r\n", "\n")


def piped(*argv: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LOADSTAR), *argv],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, **(extra or {})},
    )


def as_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


# -- the local stack -------------------------------------------------------------------------


def test_the_local_stack_stays_up_for_the_cli_and_goes_down(tmp_path: Path) -> None:
    where = tmp_path / "stack"
    up = piped("local", "up", "--sample", "--dir", str(where))
    assert up.returncode == EXIT_OK, up.stderr
    try:
        # stdout is only export lines, so `eval "$(loadstar local up)"` works
        exported = {}
        for line in up.stdout.splitlines():
            name, value = line.removeprefix("export ").split("=", 1)
            exported[name] = shlex.split(value)[0]
        assert set(exported) >= {"AWS_ENDPOINT_URL", "LOADSTAR_DATABASE_URL", "LOADSTAR_BUCKET"}
        assert f"local stack started in {where}" in up.stderr
        shell = subprocess.run(
            ["/bin/sh", "-c", f'eval "$({LOADSTAR} local up --dir {where})" && {LOADSTAR} run'],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert shell.returncode == EXIT_OK, shell.stderr
        assert "already running" in shell.stderr  # the second `up` started nothing new
        files = len(terrific_totes())
        assert f"{files} files loaded" in shell.stdout
        status = piped("status", "--json", extra=exported)
        assert status.returncode == EXIT_OK, status.stdout
        assert json.loads(status.stdout)["totals"]["files_loaded"] == files
        running = piped("local", "status", "--dir", str(where), "--json")
        assert running.returncode == EXIT_OK
        assert json.loads(running.stdout)["running"] is True
    finally:
        down = piped("local", "down", "--dir", str(where))
    assert down.returncode == EXIT_OK
    assert "stopped and deleted" in down.stdout
    assert not where.exists()
    gone = piped("local", "status", "--dir", str(where))
    assert gone.returncode == EXIT_CONFIG
    assert "no local stack running" in gone.stdout


# -- one message per mistake, and the right exit code ----------------------------------------


@pytest.fixture
def empty_database(stack: LocalServices) -> Iterator[str]:
    """A database with no warehouse tables: as before `loadstar init-db`."""
    name = f"e_{uuid.uuid4().hex[:12]}"
    url = stack.create_database(name)
    yield url
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.usefixtures("env")
def test_a_bucket_that_does_not_exist_is_one_message_and_exit_two() -> None:
    code, shown = on_a_terminal("run", extra={"LOADSTAR_BUCKET": "nope"})
    assert code == EXIT_CONFIG
    assert shown.splitlines() == [
        "loadstar: error: s3://nope: listing prefix 'dimension/date': bucket 'nope' does "
        "not exist; check LOADSTAR_BUCKET or --bucket",
        "hint: `loadstar --help` lists the settings; the docs' configuration page explains each",
    ]


@pytest.mark.usefixtures("env")
def test_a_warehouse_without_the_tables_is_one_message_and_exit_two(
    empty_database: str, s3: S3Client, bucket: str
) -> None:
    put_files(s3, bucket, dimension_files())
    code, shown = on_a_terminal("run", extra={"LOADSTAR_DATABASE_URL": empty_database})
    assert code == EXIT_CONFIG
    # the fact table waits behind its dimensions, so the run names the six it tried
    names = "dim_date, dim_staff, dim_location, dim_currency, dim_design, dim_counterparty"
    assert shown.splitlines() == [
        f"loadstar: error: 6 tables of the catalogue do not exist in any schema of the search "
        f"path: {names}",
        "hint: `loadstar init-db` creates the Terrific Totes warehouse's tables; create other "
        "tables yourself, or fix the table catalogue",
    ]
    piped_run = piped("run", "--json", extra={"LOADSTAR_DATABASE_URL": empty_database})
    assert piped_run.returncode == EXIT_CONFIG
    assert json.loads(piped_run.stdout)["error"]["type"] == "MissingTableError"
    # piped, the log lines are JSON on stderr for whatever collects them
    events = [json.loads(line)["event"] for line in piped_run.stderr.splitlines()]
    assert events.count("table_failed") == 6


@pytest.mark.usefixtures("env")
def test_on_a_terminal_log_lines_show_only_when_asked(s3: S3Client, bucket: str) -> None:
    put_files(s3, bucket, dimension_files())
    code, quiet = on_a_terminal("run", "--dimensions-only")
    assert code == EXIT_OK
    assert "file_loaded" not in quiet
    code, asked = on_a_terminal("run", "--full-listing", "--log-level", "INFO")
    assert code == EXIT_OK
    assert "run_finished" in asked


def test_the_top_level_help_lists_every_setting_with_its_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    for setting in SETTINGS_HELP:
        for way in (setting.flag, setting.env, setting.toml and f"[{setting.toml}]"):
            if way:
                assert way in shown
        assert setting.meaning in shown


def test_demo_refuses_flags_it_would_ignore(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in (["--json"], ["--database-url", "postgresql://elsewhere"], ["--bucket", "b"]):
        with pytest.raises(SystemExit) as refused:
            main(["demo", *flag])
        assert refused.value.code == EXIT_CONFIG
        assert f"unrecognized arguments: {flag[0]}" in capsys.readouterr().err


# -- hints that fit the problem --------------------------------------------------------------


def test_an_unknown_column_offers_every_way_out_and_ignore_is_one(
    env: dict[str, str],
    s3: S3Client,
    bucket: str,
    db: Conn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    [currency] = [f for f in dimension_files() if f.table == "dim_currency"]
    extra = currency.data.append_column("_ingested_by", [["etl"] * currency.data.num_rows])
    put_table(s3, bucket, currency.key, extra)
    code, summary = as_json(capsys, "run")
    assert code == EXIT_FAILED
    [table] = [t for t in summary["tables"] if t["name"] == "dim_currency"]
    reason = table["failed"][0]["reason"]
    assert "unknown column '_ingested_by'" in reason
    assert 'rename = { "_ingested_by" = "<column>" } in [tables.dim_currency]' in reason
    assert 'ignore = ["_ingested_by"] in [tables.dim_currency]' in reason
    assert 'ALTER TABLE "public"."dim_currency" ADD COLUMN "_ingested_by" <type>' in reason
    assert "loadstar skip KEY --reason" in reason
    config = tmp_path / "loadstar.toml"
    config.write_text('[tables.dim_currency]\nignore = ["_ingested_by"]\n')
    code, summary = as_json(capsys, "run", "--config", str(config))
    assert code == EXIT_OK
    assert count(db, "dim_currency") == currency.data.num_rows
    assert ledger(db)[currency.key]["status"] == "loaded"


@pytest.mark.usefixtures("env")
def test_history_of_a_table_not_catalogued_or_without_files_says_which(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(s3, bucket, [f for f in dimension_files() if f.table == "dim_date"])
    assert main(["run"]) == EXIT_OK
    capsys.readouterr()
    assert main(["history", "--table", "dim_stafff"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "no table 'dim_stafff' in the catalogue (did you mean 'dim_staff'?)" in err
    assert main(["history", "--table", "dim_staff"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == (
        f"the ledger holds no files of table dim_staff from s3://{bucket} yet"
    )
    _, found = as_json(capsys, "history", "--table", "dim_date")
    assert [f["name"] for f in found["files"]] == ["dim_date"]


# -- skip and status -------------------------------------------------------------------------


@pytest.mark.usefixtures("env")
def test_skipping_twice_keeps_every_reason_and_status_shows_the_skips(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = fact_files(2, 5)
    put_files(s3, bucket, [*dimension_files(), *facts])
    key = facts[1].key
    for reason in ("hold for review", "reissued upstream as -v2"):
        assert main(["skip", key, "--reason", reason]) == EXIT_OK
    trail = ledger(db)[key]["reason"].split("\n")
    assert [line.split(": ", 1)[1] for line in trail] == [
        "hold for review",
        "reissued upstream as -v2",
    ]
    for line in trail:
        stamp, by = line.split(": ", 1)[0].removeprefix("skipped ").split(" by ")
        assert INSTANT.fullmatch(stamp)
        assert by
    assert main(["run"]) == EXIT_OK
    capsys.readouterr()
    _, status = as_json(capsys, "status")
    [fact] = [t for t in status["tables"] if t["name"] == "fact_sales_order"]
    assert (fact["skipped"], fact["newest_skipped"]["key"]) == (1, key)
    assert INSTANT.fullmatch(fact["newest_skipped"]["skipped_at"])
    assert main(["status"]) == EXIT_OK
    text = capsys.readouterr().out
    assert (
        f"fact_sales_order: 1 file skipped; newest {key}: {trail[0]}; {trail[1]}"
        in text.splitlines()
    )


# -- one JSON schema -------------------------------------------------------------------------


def check_schema(document: Any, path: str = "") -> None:
    """Times are ISO 8601 UTC with Z; tables are lists of objects with a name."""
    if isinstance(document, dict):
        for name, value in document.items():
            where = f"{path}.{name}"
            if name.endswith(("_at", "instant", "_listing")) and value is not None:
                assert isinstance(value, str), where
                assert INSTANT.fullmatch(value), (where, value)
            if name == "tables":
                assert isinstance(value, list), where
                assert all(isinstance(t, dict) and isinstance(t["name"], str) for t in value)
            check_schema(value, where)
    elif isinstance(document, list):
        for i, item in enumerate(document):
            check_schema(item, f"{path}[{i}]")


@pytest.mark.usefixtures("env")
def test_every_command_speaks_one_json_schema(
    s3: S3Client, bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = fact_files(2, 5)
    put_files(s3, bucket, [*dimension_files(), *facts])
    commands = [
        ["plan"],
        ["run"],
        ["status"],
        ["history"],
        ["init-db"],
        ["report", "--html", str(tmp_path / "report.html")],
        ["replay", dimension_files()[0].key],
    ]
    for argv in commands:
        code, document = as_json(capsys, *argv)
        assert code == EXIT_OK, (argv, document)
        assert isinstance(document, dict), argv
        check_schema(document)
    # history's entries carry instants
    code, history = as_json(capsys, "history")
    assert INSTANT.fullmatch(history["files"][0]["updated_at"])
    assert INSTANT.fullmatch(history["files"][0]["file_instant"])


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    ("argv", "kind", "code"),
    [
        (["run", "--bucket", "nope"], "ConfigError", EXIT_CONFIG),
        (["skip", "fact/nothing-2024-05-24.parquet", "--reason", "x"], "RefusedError", EXIT_CONFIG),
        (["history", "--table", "nosuch"], "ConfigError", EXIT_CONFIG),
        (["replay", "dimension/staff-2024-05-24.parquet"], "RefusedError", EXIT_CONFIG),
    ],
)
def test_an_error_is_json_on_stdout_with_the_same_exit_code(
    argv: list[str], kind: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    found, document = as_json(capsys, *argv)
    assert found == code
    assert document["error"]["type"] == kind
    assert document["error"]["message"]
    assert capsys.readouterr().err == ""


# -- output people read ----------------------------------------------------------------------


@pytest.mark.usefixtures("env")
def test_counts_read_in_the_singular_and_sizes_in_their_unit(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    [dates] = [f for f in dimension_files() if f.table == "dim_date"]
    put_files(s3, bucket, [dates])
    assert main(["plan"]) == EXIT_OK
    planned = capsys.readouterr().out
    assert re.search(r"^dim_date +1 file to load \(\d+\.\d kB\)$", planned, re.MULTILINE)
    assert " 0.0 MB" not in planned
    assert main(["run", "--dimensions-only"]) == EXIT_OK
    first = capsys.readouterr().out.splitlines()[0]
    assert f": loaded, 1 file loaded, {dates.data.num_rows:,} rows written" in first
    assert main(["init-db"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == (
        "warehouse tables ready in schema public; ledger ready in schema loadstar"
    )


@pytest.mark.usefixtures("env")
def test_a_terminal_gets_tables_and_colour_unless_no_color_and_a_pipe_plain_text(
    s3: S3Client, bucket: str
) -> None:
    put_files(s3, bucket, dimension_files())
    assert piped("run").returncode == EXIT_OK
    code, drawn = on_a_terminal("status")
    assert code == EXIT_OK
    assert "┃" in drawn or "│" in drawn  # a drawn table
    assert ANSI_COLOUR.search(drawn)
    code, plain_colour = on_a_terminal("status", extra={"NO_COLOR": "1"})
    assert code == EXIT_OK
    assert "│" in plain_colour or "┃" in plain_colour
    assert not ANSI_COLOUR.search(plain_colour)
    text = piped("status").stdout
    assert "│" not in text
    assert "┃" not in text
    assert not ANSI_COLOUR.search(text)
    assert text.splitlines()[1].split()[:3] == ["table", "loaded", "rows"]


# -- what the stack never does ---------------------------------------------------------------


def test_local_down_deletes_no_directory_that_is_not_a_stacks(tmp_path: Path) -> None:
    (tmp_path / "pgdata").mkdir()
    (tmp_path / "important.txt").write_text("keep me")
    down = piped("local", "down", "--dir", str(tmp_path))
    assert down.returncode == EXIT_OK
    assert "nothing to stop" in down.stdout
    assert (tmp_path / "important.txt").read_text() == "keep me"
    up = piped("local", "up", "--dir", str(tmp_path), "--json")
    assert up.returncode == EXIT_CONFIG
    error = json.loads(up.stdout)["error"]
    assert error["type"] == "StackError"
    assert "not a loadstar local stack's" in error["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["important.txt", "pgdata"]


def test_a_stale_state_file_whose_pid_another_process_took_is_no_stack(tmp_path: Path) -> None:
    other = subprocess.Popen(["/bin/sleep", "60"])
    try:
        (tmp_path / "LOADSTAR-LOCAL-STACK").write_text("")
        state = {
            "dir": str(tmp_path),
            "pid": other.pid,
            "database_url": "postgresql://nowhere",
            "endpoint_url": "http://127.0.0.1:9",
            "bucket": "processed",
            "started_at": "2026-01-01T00:00:00Z",
        }
        (tmp_path / "stack.json").write_text(json.dumps(state))
        found = piped("local", "status", "--dir", str(tmp_path))
        assert found.returncode == EXIT_CONFIG
        assert piped("local", "down", "--dir", str(tmp_path)).returncode == EXIT_OK
        assert other.poll() is None  # not signalled: it was never the stack
        assert not tmp_path.exists()  # the stack's own leftovers are gone
    finally:
        other.kill()
        other.wait()


def test_a_stack_that_cannot_be_prepared_is_stopped_and_says_why(tmp_path: Path) -> None:
    where = tmp_path / "stack"
    up = piped("local", "up", "--dir", str(where), "--bucket", "Bad_Bucket!", "--json")
    assert up.returncode == EXIT_CONFIG
    error = json.loads(up.stdout)["error"]
    assert error["type"] == "StackError"
    assert "could not be prepared" in error["message"]
    assert "Bad_Bucket!" in error["message"]
    assert not where.exists()
    assert piped("local", "status", "--dir", str(where)).returncode == EXIT_CONFIG


@pytest.mark.usefixtures("env")
def test_keys_and_reasons_that_look_like_markup_are_shown_as_written(
    s3: S3Client, bucket: str
) -> None:
    facts = fact_files(1, 3)
    put_files(s3, bucket, [*dimension_files(), *facts])
    reason = "ticket [/oops] [bold]red[/bold]"
    assert piped("skip", facts[0].key, "--reason", reason).returncode == EXIT_OK
    code, shown = on_a_terminal("history")
    assert code == EXIT_OK, shown
    assert "[/oops] [bold]red[/bold]" in ANSI_ANY.sub("", shown)


@pytest.mark.usefixtures("env")
def test_a_table_the_warehouse_lacks_is_the_set_up_to_fix_for_status_and_plan(
    s3: S3Client, bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(s3, bucket, dimension_files())
    config = tmp_path / "loadstar.toml"
    config.write_text('[warehouse]\nschema = "nosuch"\n')
    for command in ("status", "plan"):
        code, document = as_json(capsys, command, "--config", str(config))
        assert code == EXIT_CONFIG, command
        errors = {t["name"]: t.get("error_type") for t in document["tables"] if "error" in t}
        assert set(errors.values()) == {"MissingTableError"}, command
        assert {f.table for f in dimension_files()} <= set(errors), command
    code, document = as_json(capsys, "run", "--config", str(config))
    assert code == EXIT_CONFIG
    assert document["error"]["type"] == "MissingTableError"
    assert "schema 'nosuch'" in document["error"]["message"]


@pytest.mark.usefixtures("env")
def test_ignore_never_drops_a_column_the_table_has(
    s3: S3Client, bucket: str, db: Conn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [location] = [f for f in dimension_files() if f.table == "dim_location"]
    put_files(s3, bucket, [location])
    config = tmp_path / "loadstar.toml"
    for written in ("district", "District"):  # file columns match in any case
        config.write_text(f'[tables.dim_location]\nignore = ["{written}"]\n')
        code, summary = as_json(capsys, "run", "--config", str(config))
        assert code != EXIT_OK
        [table] = [t for t in summary["tables"] if t["name"] == "dim_location"]
        names = f"ignore of dim_location names {written!r}, which public.dim_location has"
        assert names in table["error"]
        assert count(db, "dim_location") == 0


@pytest.mark.usefixtures("env")
def test_ignored_columns_of_any_type_leave_every_other_value_exact(
    s3: S3Client, bucket: str, db: Conn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [staff] = [f for f in dimension_files() if f.table == "dim_staff"]
    rows = staff.data.num_rows
    extra = (
        staff.data.append_column("tags", pa.array([["a", "b"]] * rows, pa.list_(pa.string())))
        .append_column("meta", pa.array([{"x": 1}] * rows, pa.struct([("x", pa.int64())])))
        .append_column("src", pa.array(["etl"] * rows).dictionary_encode())
    )
    put_table(s3, bucket, staff.key, extra)
    config = tmp_path / "loadstar.toml"
    config.write_text('[tables.dim_staff]\nignore = ["tags", "meta", "src"]\n')
    code, _ = as_json(capsys, "run", "--config", str(config))
    assert code == EXIT_OK
    columns = staff.data.column_names
    query = sql.SQL("SELECT {} FROM dim_staff ORDER BY staff_id").format(
        sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    stored = [dict(zip(columns, row, strict=True)) for row in db.execute(query).fetchall()]
    assert stored == sorted(staff.data.to_pylist(), key=lambda r: r["staff_id"])


def test_a_stack_directory_the_embedded_server_cannot_use_is_refused_before_starting(
    tmp_path: Path,
) -> None:
    where = tmp_path / "with space" / "stack"
    up = piped("local", "up", "--dir", str(where), "--json")
    assert up.returncode == EXIT_CONFIG
    error = json.loads(up.stdout)["error"]
    assert error["type"] == "StackError"
    assert "cannot run under a path with spaces" in error["message"]
    assert not where.exists()
