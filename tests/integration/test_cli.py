"""The command line: the same runs, with exit codes a scheduler can act on."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from mypy_boto3_s3 import S3Client

from loadstar.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, main
from loadstar.config import default_catalogue
from loadstar.sample import dimension_files, fact_files
from support import Conn, count, put_files


@pytest.mark.usefixtures("env")
def test_run_prints_the_summary_and_exits_zero(
    s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(s3, bucket, dimension_files())
    assert main(["run"]) == EXIT_OK
    summary = json.loads(capsys.readouterr().out)
    assert summary["files_loaded"] == 6
    assert count(db, "dim_currency") == 3


@pytest.mark.usefixtures("env")
def test_run_exits_one_when_a_file_failed(
    s3: S3Client, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_files(s3, bucket, fact_files(1, 3))
    assert main(["run"]) == EXIT_FAILED
    assert json.loads(capsys.readouterr().out)["status"] == "failed"


def test_bad_settings_exit_two_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LOADSTAR_BUCKET", raising=False)
    monkeypatch.delenv("LOADSTAR_CONFIG", raising=False)
    assert main(["run"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "LOADSTAR_BUCKET" in err
    assert "hint:" in err


@pytest.mark.usefixtures("env")
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


@pytest.mark.usefixtures("env")
def test_skip_refuses_a_key_the_ledger_does_not_hold(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["skip", "dimension/staff-2024.parquet"]) == EXIT_FAILED
    assert "not a failed or pending file" in capsys.readouterr().err


def test_the_demo_runs_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadstar.demo"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "demo: OK" in done.stdout
    assert "units sold by country and month" in done.stdout
