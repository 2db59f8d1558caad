"""Creating the Terrific Totes warehouse from loadstar's packaged DDL."""

from __future__ import annotations

from importlib.resources import files

from psycopg import sql

from loadstar.warehouse.connection import Connection


def warehouse_ddl() -> str:
    return files("loadstar.warehouse").joinpath("sql/warehouse.sql").read_text(encoding="utf-8")


def init_warehouse(conn: Connection, schema: str | None = None) -> None:
    """Create the star schema's tables (idempotent), in ``schema`` when given."""
    with conn.transaction(), conn.cursor() as cur:
        if schema:
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        cur.execute(warehouse_ddl().encode())
