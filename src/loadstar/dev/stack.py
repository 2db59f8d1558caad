"""``loadstar local up|status|down``: the local stack, kept running between commands.

``up`` starts this module as a background process that holds an embedded
PostgreSQL and the local S3 API server (`loadstar.dev.local`) until ``down``
sends it SIGTERM. Everything lives in one directory the user can see
(``./loadstar-local`` unless told otherwise): the database files, the server's
log, and ``stack.json``, which says where the servers listen.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from loadstar.dev.local import LOCAL_AWS_ENV, LocalServices, client_for

DEFAULT_DIR = Path("loadstar-local")
BUCKET = "processed"
STATE_FILE = "stack.json"
LOG_FILE = "stack.log"
MARKER = "LOADSTAR-LOCAL-STACK"
"""Written by ``up`` in a directory it made or may use; ``down`` deletes no directory without it."""
START_SECONDS = 120.0


class StackError(RuntimeError):
    """The local stack could not be started, or is not running."""


@dataclass(frozen=True)
class Stack:
    """Where a running local stack listens."""

    dir: str
    pid: int
    database_url: str
    endpoint_url: str
    bucket: str
    started_at: str

    def environment(self) -> dict[str, str]:
        """What points boto3 and loadstar at this stack."""
        return {
            **LOCAL_AWS_ENV,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "LOADSTAR_DATABASE_URL": self.database_url,
            "LOADSTAR_BUCKET": self.bucket,
        }

    def exports(self) -> str:
        """The environment as ``export`` lines a shell can ``eval``."""
        return "\n".join(
            f"export {name}={shlex.quote(value)}" for name, value in self.environment().items()
        )

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "environment": self.environment()}


def up(workdir: Path, *, bucket: str = BUCKET, sample: bool = False) -> tuple[Stack, bool]:
    """The running stack in ``workdir``, started if it was not; True when started now.

    A new stack has the warehouse's tables and the ledger, and an empty bucket
    (or, with ``sample``, one of Terrific Totes files).
    """
    running = status(workdir)
    if running is not None:
        return running, False
    if any(c.isspace() for c in str(workdir.resolve())):
        # The embedded server's start script splits its socket path on spaces.
        raise StackError(
            f"the embedded PostgreSQL cannot run under a path with spaces ({workdir.resolve()}); "
            "choose another --dir"
        )
    if workdir.exists() and any(workdir.iterdir()) and not (workdir / MARKER).exists():
        raise StackError(
            f"{workdir} holds files that are not a loadstar local stack's; "
            "choose an empty or new directory with --dir"
        )
    _stop_orphan_postgres(workdir)
    (workdir / STATE_FILE).unlink(missing_ok=True)  # left by a stack that did not stop cleanly
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("loadstar local stack: `loadstar local down` deletes this\n")
    with (workdir / LOG_FILE).open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 (this very interpreter and module)
            [sys.executable, "-m", "loadstar.dev.stack", str(workdir.resolve()), bucket],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # it outlives the command that started it
        )
    deadline = time.monotonic() + START_SECONDS
    while (stack := _read(workdir)) is None:
        if process.poll() is not None:
            raise StackError(
                f"the local stack stopped while starting (exit {process.returncode}): "
                f"{_last_line(workdir / LOG_FILE)}"
            )
        if time.monotonic() > deadline:
            process.terminate()
            raise StackError(f"the local stack did not start in {START_SECONDS:.0f} s")
        time.sleep(0.1)
    try:
        _prepare(stack, sample=sample)
    except Exception as exc:
        down(workdir)  # not half a stack that later `up`s would take as ready
        raise StackError(f"the local stack could not be prepared: {exc}") from exc
    return stack, True


def status(workdir: Path) -> Stack | None:
    """The stack running in ``workdir``, or None."""
    stack = _read(workdir)
    if stack is None or not _is_stack(stack.pid):
        return None
    return stack


def down(workdir: Path) -> Stack | None:
    """Stop the stack in ``workdir`` and delete the directory; the stack it stopped, if any."""
    import shutil

    stack = status(workdir)
    if stack is not None:
        os.kill(stack.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _is_stack(stack.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_stack(stack.pid):
            os.kill(stack.pid, signal.SIGKILL)
    if (workdir / MARKER).exists():
        _stop_orphan_postgres(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    return stack


def _prepare(stack: Stack, *, sample: bool) -> None:
    from loadstar.config import load_settings
    from loadstar.dev.sample import terrific_totes, write_files
    from loadstar.warehouse import Warehouse

    # The stack's own warehouse: not whatever catalogue the shell points at.
    settings = load_settings(bucket=stack.bucket, database_url=stack.database_url, environ={})
    with closing(Warehouse(settings)) as warehouse:
        warehouse.connect()
        warehouse.create_tables(settings.schema)
        warehouse.ensure_ledger()
    s3 = client_for(stack.endpoint_url, "s3")
    s3.create_bucket(Bucket=stack.bucket)
    if sample:
        write_files(s3, stack.bucket, terrific_totes())


def _last_line(log: Path) -> str:
    """The log's last line, which says why a start failed."""
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log was written"
    return lines[-1] if lines else "the log is empty"


def _read(workdir: Path) -> Stack | None:
    try:
        return Stack(**json.loads((workdir / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _is_stack(pid: int) -> bool:
    """Whether ``pid`` is a live stack process, not another that took a dead stack's pid."""
    return _runs(pid, "loadstar.dev.stack")


def _runs(pid: int, program: str) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.exists():
        return program in proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    found = subprocess.run(  # noqa: S603
        ["/bin/ps", "-p", str(pid), "-o", "command="],  # where there is no /proc (macOS)
        capture_output=True,
        text=True,
        check=False,
    )
    return program in found.stdout


def _stop_orphan_postgres(workdir: Path) -> None:
    """Stop a PostgreSQL left on the stack's data when the stack itself was killed."""
    try:
        pid = int((workdir / "pgdata" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if not _runs(pid, "postgres"):
        return
    os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
    deadline = time.monotonic() + 30
    while _runs(pid, "postgres") and time.monotonic() < deadline:
        time.sleep(0.1)


def serve(workdir: Path, bucket: str) -> None:
    """Hold both servers until SIGTERM or SIGINT; the background process's whole life."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    services = LocalServices(workdir).start()
    try:
        stack = Stack(
            dir=str(workdir),
            pid=os.getpid(),
            database_url=services.database_url(),
            endpoint_url=services.endpoint_url,
            bucket=bucket,
            started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        partial = workdir / f"{STATE_FILE}.tmp"
        partial.write_text(json.dumps(asdict(stack), indent=2))
        partial.replace(workdir / STATE_FILE)  # whole or absent, never half-written
        stop.wait()
    finally:
        (workdir / STATE_FILE).unlink(missing_ok=True)
        services.stop()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), sys.argv[2])
