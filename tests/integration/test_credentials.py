"""Credentials: a URL, a Secrets Manager secret, or libpq's PG* variables; passwords never shown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from mypy_boto3_s3 import S3Client
from mypy_boto3_secretsmanager import SecretsManagerClient
from psycopg import sql

from loadstar import ConnectionFailedError, LoadFailedError, get_db_connection, lambda_handler
from loadstar.dev.local import LocalServices
from loadstar.dev.sample import dimension_files
from support import Conn, count, put_files

ROLE = "loadstar_pw_user"
PASSWORD = "correct-horse-battery-staple"
WRONG = "wrong-password-do-not-log"


@pytest.fixture(scope="module")
def password_role(stack: LocalServices) -> Iterator[str]:
    """A role that must authenticate with a password (the rest of the server trusts)."""
    hba = stack.workdir / "pgdata" / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text(f"local all {ROLE} scram-sha-256\n" + original)
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(PASSWORD)
            )
        )
        conn.execute("SELECT pg_reload_conf()")
    yield ROLE
    hba.write_text(original)
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(ROLE)))


def secret(stack: LocalServices, database: str, password: str) -> str:
    client: SecretsManagerClient = stack.client("secretsmanager")
    params = psycopg.conninfo.conninfo_to_dict(database)
    value = {
        "host": params["host"],
        "port": 5432,
        "dbname": params["dbname"],
        "username": ROLE,
        "password": password,
        "engine": "postgres",
    }
    name = f"loadstar/warehouse/{params['dbname']}/{password[:5]}"
    return client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]


@pytest.fixture
def use_secret(
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    stack: LocalServices,
    database: str,
    password_role: str,
) -> Any:
    def use(password: str) -> None:
        monkeypatch.delenv("LOADSTAR_DATABASE_URL")
        monkeypatch.setenv("LOADSTAR_DB_SECRET", secret(stack, database, password))

    return use


def test_credentials_from_a_secrets_manager_secret(
    use_secret: Any, s3: S3Client, bucket: str, db: Conn
) -> None:
    use_secret(PASSWORD)
    with get_db_connection() as conn:
        assert conn.execute("SELECT current_user").fetchone() == (ROLE,)
    put_files(s3, bucket, dimension_files())
    assert lambda_handler({}, None)["status"] == "loaded"
    assert count(db, "dim_staff") == 20


def test_a_wrong_password_fails_clearly_and_never_shows_it(
    use_secret: Any, log_lines: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    use_secret(WRONG)
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    # The run stopped at its scope: every table waits, none is blamed.
    assert isinstance(caught.value.__cause__, ConnectionFailedError)
    assert caught.value.summary["error"]["scope"] == "run"
    assert caught.value.summary["files_failed"] == 0
    assert len(caught.value.summary["tables_not_reached"]) == 7
    message = str(caught.value)
    assert "password authentication failed" in message
    assert ROLE in message
    failed = log_lines.events("db_connect_failed")
    assert failed
    assert "password authentication failed" in failed[0]["error"]
    out = capsys.readouterr()
    for text in (message, log_lines.text(), out.out, out.err, repr(caught.value.__cause__)):
        assert WRONG not in text


def test_pg_variables_are_the_last_resort(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], database: str
) -> None:
    params = psycopg.conninfo.conninfo_to_dict(database)
    monkeypatch.delenv("LOADSTAR_DATABASE_URL")
    monkeypatch.setenv("PGHOST", str(params["host"]))
    monkeypatch.setenv("PGDATABASE", str(params["dbname"]))
    monkeypatch.setenv("PGUSER", str(params["user"]))
    with get_db_connection() as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (params["dbname"],)


def test_an_unreachable_warehouse_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    monkeypatch.setenv(
        "LOADSTAR_DATABASE_URL", "postgresql://loader:pw-not-shown@127.0.0.1:1/warehouse"
    )
    with pytest.raises(ConnectionFailedError) as caught:
        get_db_connection()
    assert "loader@127.0.0.1:1/warehouse" in str(caught.value)
    assert "pw-not-shown" not in str(caught.value)


@pytest.mark.parametrize("via", ["url", "secret"])
def test_no_output_of_a_failing_run_contains_the_password(
    via: str,
    password_role: str,
    env: dict[str, str],
    stack: LocalServices,
    database: str,
    s3: S3Client,
    bucket: str,
) -> None:
    import os
    import subprocess
    import sys

    from loadstar.dev.sample import fact_files

    run_env = {**os.environ, **env, "LOADSTAR_LOG_LEVEL": "DEBUG"}
    if via == "url":
        run_env["LOADSTAR_DATABASE_URL"] = psycopg.conninfo.make_conninfo(
            database, user=ROLE, password=PASSWORD
        )
    else:
        run_env.pop("LOADSTAR_DATABASE_URL")
        run_env["LOADSTAR_DB_SECRET"] = secret(stack, database, PASSWORD)
    put_files(s3, bucket, fact_files(1, 5))  # no dimensions: the file fails
    outputs = []
    for password in (PASSWORD, WRONG):
        if via == "url":
            run_env["LOADSTAR_DATABASE_URL"] = psycopg.conninfo.make_conninfo(
                database, user=ROLE, password=password
            )
        elif password == WRONG:
            run_env["LOADSTAR_DB_SECRET"] = secret(stack, database, WRONG)
        done = subprocess.run(
            [sys.executable, "-m", "loadstar.cli", "run"],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        outputs.append((done.returncode, done.stdout + done.stderr))
    (ran, ran_output), (refused, refused_output) = outputs
    assert ran == 1, ran_output  # connected, and the file failed
    assert "foreign key" in ran_output
    assert refused == 2, refused_output
    assert "password authentication failed" in refused_output
    for _, text in outputs:
        assert PASSWORD not in text
        assert WRONG not in text


@pytest.mark.parametrize("password", ["", None], ids=["empty", "absent"])
def test_a_secret_without_a_password_connects_when_the_server_trusts_the_role(
    password: str | None,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    stack: LocalServices,
    database: str,
    s3: S3Client,
    bucket: str,
    db: Conn,
) -> None:
    # IAM or trust authentication: no password is a valid secret, and libpq
    # gets what is there for the server to decide.
    params = psycopg.conninfo.conninfo_to_dict(database)
    value: dict[str, object] = {
        "host": params["host"],
        "port": 5432,
        "dbname": params["dbname"],
        "username": params["user"],
    }
    if password is not None:
        value["password"] = password
    client: SecretsManagerClient = stack.client("secretsmanager")
    name = f"loadstar/trust/{params['dbname']}/{password is None}"
    arn = client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
    monkeypatch.delenv("LOADSTAR_DATABASE_URL")
    monkeypatch.setenv("LOADSTAR_DB_SECRET", arn)
    put_files(s3, bucket, dimension_files())
    assert lambda_handler({}, None)["status"] == "loaded"
    assert count(db, "dim_staff") == 20
