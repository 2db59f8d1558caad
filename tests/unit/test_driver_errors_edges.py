"""Driver errors that carry no report from the server, turned into loadstar's errors."""

from __future__ import annotations

import psycopg
import pytest

from loadstar.errors import (
    BadFileError,
    LedgerError,
    TableBusyError,
    TableError,
    TransientError,
)
from loadstar.shape.table import Column, TableInfo
from loadstar.warehouse.errors import classify, classify_ledger, hint_for, is_transient

TABLE = TableInfo(
    "public", "dim_thing", (Column("id", "int4", "integer", True, False, False),), ("id",)
)
DEFAULT_HINT = "check the warehouse's log for this SQLSTATE"
LOCK_HINT = "the next run tries again; `SELECT * FROM pg_locks` shows who holds it"


def no_result() -> psycopg.Error:
    """What the driver raises itself, with no SQLSTATE, when a statement returned no rows."""
    return psycopg.ProgrammingError("the last operation didn't produce records")


@pytest.mark.parametrize(
    ("sqlstate", "hint"),
    [
        (None, DEFAULT_HINT),
        ("", DEFAULT_HINT),
        ("0A000", DEFAULT_HINT),
        ("42P01", "the table is missing: create it, or fix the catalogue"),
        (
            "42P10",
            "the table differs from what loading it needs: check the table and the catalogue",
        ),
        ("XX001", "the warehouse reported an internal error: check its log"),
    ],
)
def test_the_hint_is_the_sqlstates_then_its_classs_then_a_general_one(
    sqlstate: str | None, hint: str
) -> None:
    assert hint_for(sqlstate) == hint


def test_an_error_without_sqlstate_is_the_tables_problem_named_with_the_table() -> None:
    error = classify(no_result(), table=TABLE)
    assert type(error) is TableError
    assert str(error) == (
        "table public.dim_thing: the warehouse refused the load (no SQLSTATE): "
        "the last operation didn't produce records"
    )
    assert error.table == "public.dim_thing"
    assert error.hint == DEFAULT_HINT
    assert error.sqlstate is None


def test_an_error_without_sqlstate_outside_any_table_names_none() -> None:
    error = classify(no_result())
    assert type(error) is TableError
    assert str(error) == (
        "the warehouse refused the load (no SQLSTATE): the last operation didn't produce records"
    )
    assert error.table is None


def test_a_lock_timeout_names_the_table_and_says_the_next_run_tries_again() -> None:
    error = classify(psycopg.errors.LockNotAvailable("canceling statement"), table=TABLE)
    assert type(error) is TableBusyError
    assert str(error) == (
        "table public.dim_thing is locked by another session past the lock timeout"
    )
    assert error.table == "public.dim_thing"
    assert error.hint == LOCK_HINT
    assert error.sqlstate == "55P03"


def test_a_lock_timeout_outside_any_table_says_the_loads_table() -> None:
    error = classify(psycopg.errors.LockNotAvailable("canceling statement"))
    assert type(error) is TableBusyError
    assert str(error) == "table of the load is locked by another session past the lock timeout"
    assert error.table is None


def test_a_rejected_row_names_the_table_in_place_of_the_staging_table() -> None:
    raised = psycopg.errors.NotNullViolation(
        'null value in column "id" of relation "loadstar_stage" violates not-null constraint'
    )
    error = classify(raised, table=TABLE)
    assert type(error) is BadFileError
    assert error.detail == (
        "the warehouse rejected the rows: "
        'null value in column "id" of relation "public.dim_thing" violates not-null constraint'
    )
    assert error.table == "public.dim_thing"
    assert error.sqlstate == "23502"


def test_a_ledger_error_without_sqlstate_says_so() -> None:
    error = classify_ledger(no_result(), "loadstar")
    assert type(error) is LedgerError
    assert str(error) == (
        "the ledger in schema 'loadstar' refused a statement (no SQLSTATE): "
        "the last operation didn't produce records"
    )
    assert error.hint == DEFAULT_HINT
    assert error.sqlstate is None


def test_a_transient_ledger_error_keeps_its_sqlstate() -> None:
    error = classify_ledger(psycopg.errors.DeadlockDetected("deadlock detected"), "loadstar")
    assert type(error) is TransientError
    assert str(error) == "warehouse connection problem: deadlock detected"
    assert error.sqlstate == "40P01"


def test_a_loadstar_transient_error_is_transient_and_other_exceptions_are_not() -> None:
    assert is_transient(TransientError("connection reset"))
    assert not is_transient(ValueError("connection reset"))
    assert not is_transient(TimeoutError("08006"))


def test_an_error_naming_the_staging_table_names_the_table_when_none_is_known() -> None:
    exc = psycopg.errors.NotNullViolation(
        'null value in column "id" of relation "loadstar_stage" violates not-null constraint'
    )
    error = classify(exc)
    assert 'of relation "the table" violates' in str(error)
    assert "loadstar_stage" not in str(error)
    assert 'of relation "public.dim_thing" violates' in str(classify(exc, table=TABLE))
