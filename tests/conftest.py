"""Shared fixtures: one embedded PostgreSQL and one S3 API server per session;
a fresh warehouse database and a fresh bucket for every test that asks."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from hypothesis import settings
from mypy_boto3_s3 import S3Client
from psycopg import sql

from loadstar.dev.local import LOCAL_AWS_ENV, LocalServices
from loadstar.telemetry.logs import LOGGER_NAME, JsonFormatter
from loadstar.warehouse.ledger import ensure_ledger
from loadstar.warehouse.schema import init_warehouse

# Property tests hold correctness, not speed: a first example that pays for
# Arrow's kernels warming up must not fail on a deadline.
settings.register_profile("loadstar", deadline=None)
settings.load_profile("loadstar")

TEMPLATE = "loadstar_template"
ROLE = "loadstar_loader"
"""The least-privilege role of the documented snippet, for tests that load as it."""
EVENTS = Path(__file__).parent / "events"


STACKS = "LOADSTAR_TEST_STACKS"
"""JSON list of running stacks ({"workdir", "database_url", "endpoint_url"}) a session
may use instead of starting its own; `tests/mutate.py` sets it for mutmut's sessions."""


class AttachedServices(LocalServices):
    """A stack started outside this session, held by it alone through a lock file."""

    def __init__(self, workdir: str, database_url: str, endpoint_url: str) -> None:
        super().__init__(workdir)
        self._database_url = urlsplit(database_url)
        self._endpoint_url = endpoint_url
        self._lock: int | None = None

    def start(self) -> Self:
        # flock, not a PID file: the kernel frees it however the session's process ends.
        self._lock = os.open(self.workdir / "session.lock", os.O_CREAT | os.O_RDWR)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        return self

    def try_start(self) -> Self | None:
        self._lock = os.open(self.workdir / "session.lock", os.O_CREAT | os.O_RDWR)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            self._lock = None
            return None
        return self

    def stop(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    @property
    def endpoint_url(self) -> str:
        return self._endpoint_url

    def database_url(self, dbname: str = "postgres") -> str:
        return urlunsplit(self._database_url._replace(path=f"/{dbname}"))


def attached_stack() -> AttachedServices | None:
    """A free stack of ``LOADSTAR_TEST_STACKS``, locked for this session; None if unset."""
    described = os.environ.get(STACKS)
    if not described:
        return None
    stacks = [AttachedServices(**s) for s in json.loads(described)]
    for candidate in stacks:
        if candidate.try_start():
            return candidate
    return stacks[os.getpid() % len(stacks)].start()  # all busy: wait for one


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under mutmut, a mutant runs only the tests its module's guarantees rest on
    (`tests/mutate.py`), not every end-to-end test that happens to reach it."""
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if "__mutmut_" not in mutant:
        return
    from mutate import tests_for

    wanted = tests_for(mutant)
    if wanted is None:
        return
    dropped = [item for item in items if not item.nodeid.startswith(wanted)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item.nodeid.startswith(wanted)]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServices]:
    services = attached_stack() or LocalServices(tmp_path_factory.mktemp("stack")).start()
    yield services
    services.stop()


TEMPLATE_READY = "loadstar warehouse template, complete"


@pytest.fixture(scope="session")
def template_db(stack: LocalServices) -> str:
    if isinstance(stack, AttachedServices) and _template_ready(stack):
        return TEMPLATE  # made by an earlier session on this stack, from the same DDL
    url = stack.create_database(TEMPLATE)
    with psycopg.connect(url, autocommit=True) as conn:
        init_warehouse(conn)
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(TEMPLATE), sql.Literal(TEMPLATE_READY)
            )
        )
    return TEMPLATE


def _template_ready(stack: LocalServices) -> bool:
    """Whether the stack holds a template a session finished making (it may have been killed)."""
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (TEMPLATE,),
        ).fetchone()
    return row is not None and row[0] == TEMPLATE_READY


@pytest.fixture
def database(stack: LocalServices, template_db: str) -> Iterator[str]:
    """URL of a new database holding the empty Terrific Totes warehouse."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = stack.create_database(name, template=template_db)
    yield url
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                psycopg.sql.Identifier(name)
            )
        )


@pytest.fixture(scope="session")
def s3(stack: LocalServices) -> S3Client:
    client: S3Client = stack.client("s3")
    return client


@pytest.fixture
def bucket(s3: S3Client) -> str:
    name = f"processed-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, stack: LocalServices, database: str, bucket: str
) -> dict[str, str]:
    """Point loadstar, through its environment, at this test's database and bucket."""
    values = {
        **LOCAL_AWS_ENV,
        "AWS_ENDPOINT_URL": stack.endpoint_url,
        "LOADSTAR_DATABASE_URL": database,
        "LOADSTAR_BUCKET": bucket,
    }
    for name in ("LOADSTAR_CONFIG", "LOADSTAR_DB_SECRET", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def db(database: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A connection for asserting what the warehouse holds."""
    with psycopg.connect(database, autocommit=True) as conn:
        yield conn


class LogLines(list[dict[str, Any]]):
    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self if line["event"] == name]

    def text(self) -> str:
        return "\n".join(json.dumps(line) for line in self)


class _Collect(logging.Handler):
    def __init__(self, into: LogLines) -> None:
        super().__init__()
        self.into = into
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """Every line loadstar logs during the test, parsed."""
    lines = LogLines()
    handler = _Collect(lines)
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.fixture
def scheduled_event() -> dict[str, Any]:
    with (EVENTS / "scheduled_event.json").open() as fh:
        event: dict[str, Any] = json.load(fh)
    return event


def grants() -> list[str]:
    """The statements of the documented role snippet, but the role's creation."""
    text = files("loadstar.warehouse").joinpath("sql/loader_role.sql").read_text()
    code = "\n".join(line.split("--")[0] for line in text.splitlines())
    statements = [s.strip() for s in code.split(";") if s.strip()]
    return [s for s in statements if not s.upper().startswith("CREATE ROLE")]


def drop_role(stack: LocalServices) -> None:
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'"):
            with psycopg.connect(stack.database_url(row[0]), autocommit=True) as other:
                other.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(ROLE)))
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(ROLE)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(ROLE)))


@pytest.fixture(scope="session")
def role(stack: LocalServices) -> Iterator[str]:
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone()
    if left and isinstance(stack, AttachedServices):
        drop_role(stack)  # left by a session killed on this stack
    with psycopg.connect(stack.database_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(ROLE)))
    yield ROLE
    drop_role(stack)


@pytest.fixture
def as_loader(
    role: str,
    db: psycopg.Connection[tuple[Any, ...]],
    database: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    ensure_ledger(db, "loadstar")  # what `loadstar init-db` does, as the administrator
    for statement in grants():
        db.execute(statement.encode())
    url = psycopg.conninfo.make_conninfo(database, user=role)
    monkeypatch.setenv("LOADSTAR_DATABASE_URL", url)
    return url
