"""What is worth trying again, and how long to wait."""

from __future__ import annotations

import random

import psycopg
import pytest

from loadstar.errors import BadFileError, TransientError
from loadstar.retry import Backoff
from loadstar.warehouse.errors import classify, is_transient


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


@pytest.mark.parametrize(
    "state", ["08006", "08001", "57P01", "57P02", "57P03", "40001", "40P01", "53300"]
)
def test_connection_restart_and_serialization_failures_are_transient(state: str) -> None:
    exc = error_with_state(state)
    assert is_transient(exc)
    assert isinstance(classify(exc), TransientError)


@pytest.mark.parametrize("state", ["22003", "23502", "23503", "23505", "P0001", "21000"])
def test_bad_data_is_terminal(state: str) -> None:
    exc = error_with_state(state)
    assert not is_transient(exc)
    assert isinstance(classify(exc), BadFileError)


def test_a_lost_connection_without_sqlstate_is_transient() -> None:
    assert is_transient(psycopg.OperationalError("server closed the connection unexpectedly"))
