"""PostgreSQL's own error reports, turned into loadstar's errors: scope, table, column, row."""

from __future__ import annotations

from types import MappingProxyType

import psycopg
import pytest

from loadstar.errors import BadFileError, LoadstarError, TableBusyError, TableError
from loadstar.shape.table import Column, ForeignKey, TableInfo
from loadstar.warehouse.errors import classify
from support import Conn

SCHEMA = """
    CREATE TABLE dim_region (
        country text, code text, name text NOT NULL, PRIMARY KEY (country, code)
    );
    CREATE TABLE fact_visit (
        visit_id integer PRIMARY KEY,
        country text,
        code text,
        visits integer NOT NULL,
        CONSTRAINT visit_region FOREIGN KEY (country, code) REFERENCES dim_region (country, code)
    );
    INSERT INTO dim_region VALUES ('GB', 'LDS', 'Leeds');
"""


def text(name: str, not_null: bool = False) -> Column:
    return Column(name, "text", "text", not_null, False, False)


def integer(name: str, not_null: bool = False) -> Column:
    return Column(name, "int4", "integer", not_null, False, False)


VISIT = TableInfo(
    "public",
    "fact_visit",
    (integer("visit_id", True), text("country"), text("code"), integer("visits", True)),
    ("visit_id",),
    foreign_keys=MappingProxyType(
        {
            "visit_region": ForeignKey(
                "visit_region",
                ("country", "code"),
                "public",
                "dim_region",
                ("country", "code"),
                True,
            )
        }
    ),
)


@pytest.fixture
def visits(db: Conn) -> Conn:
    db.execute(SCHEMA)
    return db


def refused(conn: Conn, statement: str, table: TableInfo | None = VISIT) -> LoadstarError:
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(statement)
    return classify(caught.value, table=table)


def copy_refused(conn: Conn, rows: str) -> LoadstarError:
    """What loading ``rows`` (COPY's text format) into fact_visit through a stage becomes."""
    conn.execute("CREATE TEMPORARY TABLE loadstar_stage (LIKE fact_visit INCLUDING ALL)")
    with (
        pytest.raises(psycopg.Error) as caught,
        conn.cursor().copy("COPY loadstar_stage FROM STDIN") as copy,
    ):
        copy.write(rows)
    return classify(caught.value, table=VISIT)


def test_a_value_copy_cannot_read_names_its_row_column_and_value(visits: Conn) -> None:
    error = copy_refused(visits, "1\tGB\tLDS\t3\n2\tGB\tLDS\tmany\n")
    assert isinstance(error, BadFileError)
    assert error.column == "visits"
    assert error.detail == (
        'the warehouse rejected the rows: invalid input syntax for type integer: "many" '
        'at row 2 (value "many")'
    )
    assert error.sqlstate == "22P02"


def test_a_rejected_row_carries_the_servers_detail(visits: Conn) -> None:
    visits.execute("INSERT INTO fact_visit VALUES (1, 'GB', 'LDS', 3)")
    error = refused(visits, "INSERT INTO fact_visit VALUES (1, 'GB', 'LDS', 4)")
    assert isinstance(error, BadFileError)
    assert error.detail == (
        "the warehouse rejected the rows: duplicate key value violates unique constraint "
        '"fact_visit_pkey" (Key (visit_id)=(1) already exists.)'
    )
    assert error.column is None
    assert error.table == "public.fact_visit"


def test_a_missing_reference_names_the_foreign_keys_columns(visits: Conn) -> None:
    error = refused(visits, "INSERT INTO fact_visit VALUES (1, 'GB', 'LON', 3)")
    assert isinstance(error, BadFileError)
    assert error.column == "country, code"
    assert error.sqlstate == "23503"


def test_a_null_in_a_not_null_column_names_the_column(visits: Conn) -> None:
    error = refused(visits, "INSERT INTO fact_visit VALUES (1, 'GB', 'LDS', NULL)")
    assert isinstance(error, BadFileError)
    assert error.column == "visits"


def test_a_missing_column_of_the_stage_is_named_as_the_tables(visits: Conn) -> None:
    visits.execute("CREATE TEMPORARY TABLE loadstar_stage (LIKE fact_visit)")
    error = refused(visits, "INSERT INTO loadstar_stage (visit_id, nope) VALUES (1, 2)")
    assert type(error) is TableError
    assert str(error) == (
        "table public.fact_visit: the warehouse refused the load (42703): "
        'column "nope" of relation "public.fact_visit" does not exist'
    )
    assert error.table == "public.fact_visit"
    assert error.hint == "a column is missing: add it to the table, or fix the catalogue"


def test_a_lock_held_past_the_lock_timeout_makes_the_table_busy(
    visits: Conn, database: str
) -> None:
    with psycopg.connect(database) as holder:
        holder.execute("LOCK TABLE fact_visit IN ACCESS EXCLUSIVE MODE")
        visits.execute("SET lock_timeout = '20ms'")
        with pytest.raises(psycopg.Error) as caught, visits.transaction():
            visits.execute("LOCK TABLE fact_visit IN ROW EXCLUSIVE MODE")
    error = classify(caught.value, table=VISIT)
    assert type(error) is TableBusyError
    assert str(error) == (
        "table public.fact_visit is locked by another session past the lock timeout"
    )
    assert error.sqlstate == "55P03"
