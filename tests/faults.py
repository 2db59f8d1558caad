"""Fault injection from outside loadstar: an HTTP proxy in front of the S3 server,
a TCP proxy in front of PostgreSQL, and a loader running as a real process.

loadstar is pointed at the proxies through its ordinary settings
(``AWS_ENDPOINT_URL``, ``LOADSTAR_DATABASE_URL``); nothing of it is patched.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote_plus, urlsplit

import psycopg
from psycopg import sql

S3_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    "<Error><Code>{code}</Code><Message>injected by the test</Message></Error>"
)


@dataclass
class Rule:
    """What to do to requests that match: method, a pattern over the path and query."""

    method: str | None
    pattern: str
    action: str
    """``status`` (an S3 error), ``truncate`` (cut the body and drop the connection),
    ``hold`` (block until released) or ``call`` (run ``callback``, then forward)."""
    times: int | None = 1
    """How many matching requests it applies to; None: every one."""
    status: int = 503
    code: str = "SlowDown"
    callback: Callable[[], object] | None = None
    hits: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def matches(self, method: str, target: str) -> bool:
        if self.method is not None and method != self.method:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return re.search(self.pattern, target) is not None


class S3FaultProxy:
    """Forwards S3 HTTP requests to the real server, applying the rules on the way."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.rules: list[Rule] = []
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client killed mid-response is what these tests do

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port!s}"

    def start(self) -> S3FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        for rule in self.rules:
            rule.release.set()
        self._server.shutdown()
        self._server.server_close()

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def _match(self, method: str, target: str) -> Rule | None:
        with self._lock:
            self.requests.append((method, target))
            for rule in self.rules:
                if rule.matches(method, target):
                    rule.hits += 1
                    return rule
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        method, target = handler.command, handler.path
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        rule = self._match(method, target)
        if rule is not None and rule.action == "status":
            payload = S3_ERROR.format(code=rule.code).encode()
            handler.send_response(rule.status)
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            if method != "HEAD":
                handler.wfile.write(payload)
            return
        if rule is not None and rule.action == "hold":
            rule.reached.set()
            rule.release.wait(timeout=120)
        if rule is not None and rule.action == "call" and rule.callback is not None:
            rule.callback()
        upstream = http.client.HTTPConnection(
            self.upstream.hostname or "127.0.0.1", self.upstream.port, timeout=60
        )
        headers = {k: v for k, v in handler.headers.items() if k.lower() != "connection"}
        upstream.request(method, target, body=body, headers=headers)
        response = upstream.getresponse()
        payload = response.read()
        handler.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if rule is not None and rule.action == "truncate":
            handler.wfile.write(payload[: len(payload) // 3])
            handler.wfile.flush()
            # Drop the connection mid-body, as a network reset does.
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
            return
        if method != "HEAD":
            handler.wfile.write(payload)
        upstream.close()


class PgProxy:
    """A TCP port in front of PostgreSQL's socket that can refuse, or drop, connections.

    It can also lose a COMMIT's reply: once a statement matching a pattern has
    gone through, the next COMMIT reaches the server (which commits) and the
    connection drops before the client sees the answer, as when a network
    fails at exactly the wrong moment.
    """

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.refusing = threading.Event()
        self.refused = 0
        self._to_refuse = 0
        self._commit_after: bytes | None = None
        self.commit_reply_lost = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self, dbname: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> PgProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.sever()
        self._listener.close()

    def sever(self) -> None:
        """Drop every connection through the proxy, as a network failure does."""
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
            self._connections.clear()

    def refuse_next(self, count: int) -> None:
        """Refuse exactly the next ``count`` connections, then accept again: no timing."""
        with self._lock:
            self._to_refuse = count

    def lose_commit_reply_after(self, statement: bytes) -> None:
        """Arm once: the first COMMIT after a statement containing ``statement`` loses its reply."""
        self._commit_after = statement

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = self.refusing.is_set() or self._to_refuse > 0
                self._to_refuse = max(0, self._to_refuse - 1)
                self.refused += refuse
            if refuse:
                client.close()
                continue
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.socket_path)
            with self._lock:
                self._connections += [client, server]
            link = _Link(self, client, server)
            threading.Thread(target=link.upstream, daemon=True).start()
            threading.Thread(target=link.downstream, daemon=True).start()


# psycopg ends a transaction with a simple-protocol query: 'Q', its length, the text.
_COMMIT = b"Q" + (4 + len(b"COMMIT\x00")).to_bytes(4, "big") + b"COMMIT\x00"


class _Link:
    """One client connection through the proxy: both directions, and the COMMIT trap."""

    def __init__(self, proxy: PgProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy, self.client, self.server = proxy, client, server
        self.seen_statement = False
        self.commit_sent = threading.Event()

    def upstream(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.client.recv(65536):
                trap = self.proxy._commit_after
                if trap is not None and not self.proxy.commit_reply_lost.is_set():
                    self.seen_statement = self.seen_statement or trap in data
                    if self.seen_statement and _COMMIT in data:
                        self.commit_sent.set()
                self.server.sendall(data)
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_WR)

    def downstream(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.server.recv(65536):
                if self.commit_sent.is_set():
                    # The server has committed and answered: the answer is lost.
                    self.proxy.commit_reply_lost.set()
                    for end in (self.client, self.server):
                        with contextlib.suppress(OSError):
                            end.shutdown(socket.SHUT_RDWR)
                            end.close()
                    return
                self.client.sendall(data)
        with contextlib.suppress(OSError):
            self.client.shutdown(socket.SHUT_WR)


def pg_socket_path(database_url: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(database_url)
    return f"{params['host']}/.s.PGSQL.{params.get('port') or 5432}"


class Loader:
    """``loadstar run`` as a separate process, to be killed at will."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "loadstar.cli", "run", "--json", *args],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def wait(self, timeout: float = 120) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err


class EventLoader(Loader):
    """The Lambda handler invoked with ``event`` (S3 notifications), as a process of its own."""

    def __init__(self, env: dict[str, str], event: dict[str, Any]) -> None:
        code = (
            "import json, sys\n"
            "from loadstar import lambda_handler\n"
            "print(json.dumps(lambda_handler(json.loads(sys.argv[1]), None)))\n"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(event)],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def s3_notification(bucket: str, keys: Iterable[str]) -> dict[str, Any]:
    """S3's event for new objects, delivered straight to the function."""
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key)}},
            }
            for key in keys
        ]
    }


def wait_for(predicate: Callable[[], bool], timeout: float = 60, every: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the awaited state never came")
        time.sleep(every)


def backend_running(database_url: str, pattern: str) -> Callable[[], bool]:
    """True once a loadstar backend is running a statement whose text matches ``pattern``."""

    def check() -> bool:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'loadstar' "
                "AND state = 'active' AND query ~* %s",
                (pattern,),
            ).fetchone()
        return bool(row and row[0])

    return check


@contextlib.contextmanager
def slow_ledger_writes(db: psycopg.Connection[Any], seconds: float) -> Iterator[None]:
    """Every ledger update sleeps first: a window between a file's rows and its commit."""
    db.execute(
        sql.SQL("""
            CREATE FUNCTION loadstar.slow_down() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_sleep({seconds}); RETURN NEW; END $$;
            CREATE TRIGGER slow_down BEFORE UPDATE ON loadstar.load_ledger
                FOR EACH ROW EXECUTE FUNCTION loadstar.slow_down();
        """).format(seconds=sql.Literal(float(seconds)))
    )
    try:
        yield
    finally:
        db.execute("DROP TRIGGER slow_down ON loadstar.load_ledger")
        db.execute("DROP FUNCTION loadstar.slow_down()")
