"""What is worth trying again, and how long to wait."""

from __future__ import annotations

import random

import psycopg
import pytest

from loadstar.errors import (
    BadFileError,
    StopRun,
    TableBusyError,
    TableError,
    TransientError,
    scope_of,
)
from loadstar.retry import Backoff
from loadstar.warehouse.errors import (
    TRANSIENT_STATES,
    classify,
    classify_ledger,
    hint_for,
    is_transient,
)


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    backoff = Backoff(attempts=6, base_seconds=0.5, cap_seconds=4.0)
    rng = random.Random(1)
    runs = [list(backoff.delays(rng)) for _ in range(200)]
    assert all(len(delays) == 5 for delays in runs)
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0]
    for retry, ceiling in enumerate(ceilings):
        waits = [delays[retry] for delays in runs]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8  # jitter spans the whole range...
        assert min(waits) < ceiling * 0.2  # ...from near nothing


def error_with_state(state: str) -> psycopg.Error:
    cls = psycopg.errors.lookup(state)
    return cls("injected")


TRANSIENT = [
    "08000",  # connection_exception
    "08001",  # sqlclient_unable_to_establish_sqlconnection
    "08003",  # connection_does_not_exist
    "08004",  # sqlserver_rejected_establishment_of_sqlconnection
    "08006",  # connection_failure
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "53300",  # too_many_connections
]


def test_the_transient_states_are_exactly_those_listed() -> None:
    assert {s for s in TRANSIENT if not s.startswith("08")} == TRANSIENT_STATES


@pytest.mark.parametrize("state", TRANSIENT)
def test_connection_restart_and_serialization_failures_are_transient(state: str) -> None:
    exc = error_with_state(state)
    assert is_transient(exc)
    found = classify(exc)
    assert isinstance(found, TransientError)
    assert found.sqlstate == state


@pytest.mark.parametrize(
    "state", ["22003", "22P02", "23502", "23503", "23505", "23514", "P0001", "21000", "44000"]
)
def test_bad_data_is_the_files_fault(state: str) -> None:
    exc = error_with_state(state)
    assert not is_transient(exc)
    found = classify(exc)
    assert isinstance(found, BadFileError)
    assert scope_of(found) == "file"
    assert found.sqlstate == state


@pytest.mark.parametrize(
    ("state", "hint"),
    [
        ("42501", "grant the loader role"),  # insufficient_privilege
        ("42P01", "table is missing"),  # undefined_table
        ("42703", "column is missing"),  # undefined_column
        ("42883", "function the table uses"),  # undefined_function, e.g. in a trigger
        ("25006", "read-only"),  # read_only_sql_transaction
        ("53100", "disk is full"),  # disk_full
        ("53200", "out of memory"),  # out_of_memory
        ("53400", "out of a resource"),  # configuration_limit_exceeded
        ("57014", "statement_timeout"),  # query_canceled: the same file would time out again
        ("58030", "I/O"),  # io_error
        ("XX000", "internal error"),  # internal_error
        ("XX001", "internal error"),  # data_corrupted
        ("0A000", "check the warehouse's log"),  # feature_not_supported: anything else
    ],
)
def test_what_no_file_can_fix_is_the_tables_problem(state: str, hint: str) -> None:
    exc = error_with_state(state)
    assert not is_transient(exc)
    found = classify(exc)
    assert isinstance(found, TableError)
    assert scope_of(found) == "table"
    assert found.sqlstate == state
    assert hint in (found.hint or "")
    assert hint in hint_for(state)


@pytest.mark.parametrize("state", ["42501", "25006", "53100", "XX000"])
def test_the_ledger_refusing_stops_the_run(state: str) -> None:
    found = classify_ledger(error_with_state(state), "loadstar")
    assert isinstance(found, StopRun)
    assert scope_of(found) == "run"
    assert "ledger in schema 'loadstar'" in str(found)


def test_a_lock_held_past_the_timeout_makes_the_table_busy_not_failed() -> None:
    found = classify(error_with_state("55P03"))
    assert isinstance(found, TableBusyError)
    assert scope_of(found) == "table"
    assert "locked by another session" in str(found)


def test_an_exception_nobody_foresaw_stops_the_table_not_the_file() -> None:
    assert scope_of(ZeroDivisionError()) == "table"


def test_a_lost_connection_without_sqlstate_is_transient() -> None:
    assert is_transient(psycopg.OperationalError("server closed the connection unexpectedly"))
