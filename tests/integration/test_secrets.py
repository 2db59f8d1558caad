"""No password ever shows: every way a connection string can be wrong, through every door.

Each case sets a sentinel password in a broken setting, runs the handler and
each command, and searches everything they said (exceptions, summaries, log
lines, stdout and stderr) for the sentinel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mypy_boto3_secretsmanager import SecretsManagerClient

from loadstar import (
    ConfigError,
    ConnectionFailedError,
    LoadFailedError,
    get_db_connection,
    lambda_handler,
)
from loadstar.cli import EXIT_CONFIG, main
from loadstar.config import load_settings
from loadstar.dev.local import LocalServices

SENTINEL = "Sentinel-Pw-93c1"
LOADSTAR = Path(sys.executable).with_name("loadstar")

BROKEN_URLS = [
    pytest.param(f"http://loader:{SENTINEL}@db.invalid/warehouse", id="an http URL"),
    pytest.param(f"mysql://loader:{SENTINEL}@db.invalid/warehouse", id="another database"),
    pytest.param(f"postgresql://loader:{SENTINEL}@db.invalid/w?bogus=1", id="unknown parameter"),
    pytest.param(f"postgresql://loader:{SENTINEL}@db.invalid:notaport/w", id="a bad port"),
    pytest.param(f"host=db.invalid password={SENTINEL} bogus=1", id="key=value, unknown key"),
    pytest.param(f"host=db.invalid password='{SENTINEL}' port=", id="key=value, no port"),
    pytest.param(f"postgresql://loader:{SENTINEL}@127.0.0.1:1/w", id="nothing listening"),
    pytest.param(f"postgresql+psycopg://loader:{SENTINEL}@127.0.0.1:1/w", id="SQLAlchemy form"),
    pytest.param(f"postgresql://loader:{SENTINEL}@x@127.0.0.1:1/w", id="an unescaped @"),
    pytest.param(f"postgresql://loader@127.0.0.1:1/w?password={SENTINEL}", id="in the query"),
]


@pytest.fixture
def fast_connect(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Refused connections fail at once: no backoff to wait through."""
    monkeypatch.setenv("LOADSTAR_CONNECT_ATTEMPTS", "1")


def assert_hidden(*texts: Any) -> None:
    for text in texts:
        assert SENTINEL not in str(text), text


@pytest.mark.usefixtures("fast_connect")
@pytest.mark.parametrize("url", BROKEN_URLS)
def test_the_handler_never_shows_the_password(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    log_lines: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LOADSTAR_DATABASE_URL", url)
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    out = capsys.readouterr()
    summary = caught.value.summary
    assert summary["error"]["scope"] == "run"
    assert summary["error"]["type"] in ("ConfigError", "ConnectionFailedError")
    assert "warehouse" in summary["error"]["message"]
    assert_hidden(
        caught.value,
        repr(caught.value),
        repr(caught.value.__cause__),
        json.dumps(summary),
        log_lines.text(),
        out.out,
        out.err,
        repr(load_settings()),
    )
    with pytest.raises((ConfigError, ConnectionFailedError)) as direct:
        get_db_connection()
    assert_hidden(direct.value, repr(direct.value))


@pytest.mark.usefixtures("fast_connect")
@pytest.mark.parametrize("url", BROKEN_URLS)
@pytest.mark.parametrize("command", ["run", "status", "plan", "history", "init-db"])
def test_every_command_refuses_a_bad_url_with_exit_two_and_no_password(
    command: str,
    url: str,
    env: dict[str, str],
    log_lines: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main([command, "--database-url", url])
    out = capsys.readouterr()
    assert code == EXIT_CONFIG
    assert_hidden(out.out, out.err, log_lines.text())


def test_the_installed_command_with_a_bad_url_shows_no_password(env: dict[str, str]) -> None:
    for url in (p.values[0] for p in BROKEN_URLS[:6]):
        done = subprocess.run(
            [str(LOADSTAR), "run", "--json"],
            env={**os.environ, **env, "LOADSTAR_DATABASE_URL": str(url)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == EXIT_CONFIG, done.stderr
        assert_hidden(done.stdout, done.stderr)
        assert "Traceback" not in done.stderr


@pytest.mark.usefixtures("fast_connect")
@pytest.mark.parametrize(
    "fields",
    [
        {"host": "127.0.0.1", "port": 1, "username": "loader", "password": SENTINEL},
        {"host": "127.0.0.1", "port": "x", "username": "loader", "password": SENTINEL},
        {"host": "", "username": "loader", "password": SENTINEL},
        {"host": "h", "username": "loader", "password": SENTINEL, "sslmode": "bogus"},
    ],
    ids=["unreachable", "a bad port", "no host", "a bad sslmode"],
)
def test_a_secret_with_a_bad_field_never_shows_its_password(
    fields: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    stack: LocalServices,
    log_lines: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client: SecretsManagerClient = stack.client("secretsmanager")
    name = f"loadstar/sentinel/{env['LOADSTAR_BUCKET']}"
    arn = client.create_secret(Name=name, SecretString=json.dumps(fields))["ARN"]
    monkeypatch.delenv("LOADSTAR_DATABASE_URL")
    monkeypatch.setenv("LOADSTAR_DB_SECRET", arn)
    with pytest.raises(LoadFailedError) as caught:
        lambda_handler({}, None)
    code = main(["status"])
    out = capsys.readouterr()
    assert code == EXIT_CONFIG
    assert_hidden(
        caught.value, json.dumps(caught.value.summary), log_lines.text(), out.out, out.err
    )
