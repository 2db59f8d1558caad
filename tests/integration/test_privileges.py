"""The whole load as the least-privilege role, not a superuser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from mypy_boto3_s3 import S3Client
from psycopg import sql

from conftest import ROLE
from loadstar import LoadFailedError, lambda_handler
from loadstar.cli import EXIT_CONFIG, EXIT_OK, main
from loadstar.config import default_catalogue
from loadstar.dev.sample import dimension_files, fact_files, terrific_totes
from loadstar.errors import LedgerError
from loadstar.warehouse.ledger import ensure_ledger
from support import Conn, count, expected_facts, ledger, put_files, warehouse_facts


def test_the_documented_role_loads_everything(
    as_loader: str, s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    files = terrific_totes(3, 40)
    put_files(s3, bucket, files)
    summary = lambda_handler({}, None)
    assert summary["status"] == "loaded"
    assert warehouse_facts(db) == expected_facts(files)
    with psycopg.connect(as_loader) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    assert row == (False,)
    assert not log_lines.events("ledger_outdated")  # a current ledger needs nothing added
    facts = [
        line for line in log_lines.events("file_loaded") if line["table"] == "fact_sales_order"
    ]
    assert {line["foreign_keys"] for line in facts} == {"per_row"}
    assert {line["copy_format"] for line in facts} == {"binary"}


def test_without_the_replica_grant_foreign_keys_are_checked_row_by_row(
    as_loader: str, s3: S3Client, bucket: str, db: Conn
) -> None:
    files = fact_files(2, 20)
    table = files[1].data
    staff = table.column("sales_staff_id").to_pylist()
    staff[3] = 4242
    import pyarrow as pa

    bad = table.set_column(
        table.schema.get_field_index("sales_staff_id"),
        "sales_staff_id",
        pa.array(staff, pa.int64()),
    )
    from support import put_table

    put_files(s3, bucket, [*dimension_files(), files[0]])
    put_table(s3, bucket, files[1].key, bad)
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    reason = caught.value.summary["tables"]["fact_sales_order"]["failed"][0]["reason"]
    assert "sales_staff_id" in reason
    assert "4242" in reason
    assert "is not present in table" in reason  # PostgreSQL's own per-row check said so
    # the foreign key's constraint named back to its column, which only the table knows
    assert "table public.fact_sales_order, column sales_staff_id: the warehouse rejected" in reason
    assert warehouse_facts(db) == expected_facts(files[:1])
    assert ledger(db)[files[1].key]["status"] == "failed"


def test_with_the_replica_grant_foreign_keys_are_checked_per_file(
    as_loader: str, s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    grant = sql.SQL("GRANT SET ON PARAMETER session_replication_role TO {}")
    revoke = sql.SQL("REVOKE SET ON PARAMETER session_replication_role FROM {}")
    db.execute(grant.format(sql.Identifier(ROLE)))
    try:
        files = fact_files(2, 20)
        put_files(s3, bucket, [*dimension_files(), *files])
        assert lambda_handler({}, None)["status"] == "loaded"
    finally:
        db.execute(revoke.format(sql.Identifier(ROLE)))  # the grant is server-wide
    assert warehouse_facts(db) == expected_facts(files)
    facts = [
        line for line in log_lines.events("file_loaded") if line["table"] == "fact_sales_order"
    ]
    assert {line["foreign_keys"] for line in facts} == {"per_file"}


def test_a_ledger_from_an_older_loadstar_does_not_stop_the_role(
    as_loader: str,
    database: str,
    s3: S3Client,
    bucket: str,
    db: Conn,
    log_lines: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db.execute("ALTER TABLE loadstar.load_ledger DROP COLUMN replays, DROP COLUMN replayed_at")
    put_files(s3, bucket, dimension_files())
    # the role may not alter the ledger: runs go on without the replay columns
    assert lambda_handler({}, None)["status"] == "loaded"
    outdated = log_lines.events("ledger_outdated")
    assert [(line["level"], line["advice"]) for line in outdated] == [
        ("warning", "run `loadstar init-db` as the ledger's owner to add what this loadstar needs")
    ]
    # the commands that need them say what to do
    assert main(["history"]) == EXIT_CONFIG
    assert "run `loadstar init-db` as its owner" in capsys.readouterr().err
    # which the owner does
    assert main(["init-db", "--database-url", database]) == EXIT_OK
    capsys.readouterr()
    assert main(["history", "--json"]) == EXIT_OK
    assert len(json.loads(capsys.readouterr().out)["files"]) == 6


@pytest.mark.parametrize("table", ["key_versions", "table_state"])
def test_a_ledger_without_versions_or_watermarks_stops_the_role_with_what_to_do(
    as_loader: str,
    database: str,
    s3: S3Client,
    bucket: str,
    db: Conn,
    table: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier("loadstar", table)))
    put_files(s3, bucket, dimension_files())
    assert main(["run"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "predates per-key versions and listing watermarks" in err
    assert "run `loadstar init-db` as the ledger's owner" in err
    assert ledger(db) == {}
    with psycopg.connect(as_loader) as conn, pytest.raises(LedgerError) as caught:
        ensure_ledger(conn, "loadstar")
    assert str(caught.value) == (
        "the ledger in schema 'loadstar' predates per-key versions and listing watermarks "
        "(key_versions, table_state), and this role may not add them"
    )
    assert caught.value.hint == (
        "run `loadstar init-db` as the ledger's owner, then grant the loader role "
        "the privileges in docs/deploying/iam.md"
    )
    assert caught.value.sqlstate == "42501"
    assert caught.value.__cause__ is None
    # which the owner does, and grants the new tables
    assert main(["init-db", "--database-url", database]) == EXIT_OK
    db.execute(
        sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(
            sql.Identifier("loadstar", table), sql.Identifier(ROLE)
        )
    )
    capsys.readouterr()
    assert main(["run"]) == EXIT_OK
    assert {row["status"] for row in ledger(db).values()} == {"loaded"}


def test_a_statement_the_warehouse_refuses_is_a_clean_error(
    as_loader: str, s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
) -> None:
    db.execute(
        sql.SQL("REVOKE SELECT ON loadstar.load_ledger FROM {}").format(sql.Identifier(ROLE))
    )
    put_files(s3, bucket, dimension_files())
    assert main(["history"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith("loadstar: error: the ledger in schema 'loadstar' refused a statement")
    assert "(42501): permission denied" in err
    assert "Traceback" not in err
    assert "hint: grant the loader role the privileges in docs/deploying/iam.md" in err


def test_a_fact_without_a_version_key_is_copied_straight_into_its_table_by_the_role(
    as_loader: str,
    s3: S3Client,
    bucket: str,
    db: Conn,
    log_lines: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dims = [s.name for s in default_catalogue() if s.kind == "dimension"]
    config = tmp_path / "loadstar.toml"
    config.write_text(
        "".join(f"[tables.{name}]\n" for name in dims)
        + "[tables.fact_sales_order]\nversion_key = []\n"
    )
    monkeypatch.setenv("LOADSTAR_CONFIG", str(config))
    # a fact kept as an append-only log: no version, so nothing keeps a row unique
    db.execute("ALTER TABLE fact_sales_order DROP CONSTRAINT IF EXISTS fact_sales_order_version")
    db.execute("DROP INDEX IF EXISTS fact_sales_order_version")
    files = terrific_totes(2, 10)
    put_files(s3, bucket, files)
    assert lambda_handler({}, None)["status"] == "loaded"
    facts = [
        line for line in log_lines.events("file_loaded") if line["table"] == "fact_sales_order"
    ]
    assert len(facts) == 2
    assert {(line["copy_format"], line["foreign_keys"]) for line in facts} == {
        ("binary", "per_row")
    }
    fact_rows = sum(f.data.num_rows for f in files if f.table == "fact_sales_order")
    assert count(db, "fact_sales_order") == fact_rows  # appended whole: no version key
