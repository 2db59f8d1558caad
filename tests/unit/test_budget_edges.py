"""The Lambda time budget at its edges: exact arithmetic, odd contexts, odd measurements."""

from __future__ import annotations

import pytest

from loadstar.run.budget import Budget
from support import FakeContext


class NotCallableContext:
    """A context whose remaining-time attribute is a value, not a method."""

    get_remaining_time_in_millis = 5_000


def test_a_context_without_a_remaining_time_method_means_no_limit() -> None:
    budget = Budget(NotCallableContext(), reserve_seconds=1)
    assert budget.left() is None
    assert budget.allows(10**12)


def test_the_time_left_is_the_remaining_milliseconds_less_the_reserve() -> None:
    budget = Budget(FakeContext(remaining_ms=12_500), reserve_seconds=10)
    assert budget.left() == 2.5


def test_without_a_deadline_no_time_is_left_to_count() -> None:
    assert Budget(None, reserve_seconds=10).left() is None


def test_before_any_file_the_assumed_rate_is_two_megabytes_a_second() -> None:
    assert Budget(None, reserve_seconds=0).estimate(3_000_000) == 1.5


def test_a_file_that_exactly_fits_the_time_left_may_start() -> None:
    budget = Budget(FakeContext(remaining_ms=11_000), reserve_seconds=10)
    assert budget.allows(2_000_000)  # 1 s at the assumed rate, 1 s left
    assert not budget.allows(2_000_001)


def test_the_time_left_given_is_used_instead_of_asking_the_context() -> None:
    context = FakeContext(remaining_ms=900_000)
    budget = Budget(context, reserve_seconds=10)
    assert budget.allows(2_000_000, left=1.0)
    assert not budget.allows(2_000_002, left=1.0)
    assert context.calls == 0


def test_the_measured_rate_is_the_bytes_over_the_seconds_of_every_file() -> None:
    budget = Budget(None, reserve_seconds=0)
    budget.spent(1_000_000, 0.5)
    budget.spent(3_000_000, 1.5)
    assert budget.estimate(6_000_000) == 3.0


def test_a_measured_rate_replaces_the_assumed_one_even_from_under_a_second() -> None:
    budget = Budget(None, reserve_seconds=0)
    budget.spent(4_000_000, 0.5)  # 8 MB/s, faster than assumed
    assert budget.estimate(8_000_000) == 1.0


def test_a_measured_rate_of_one_byte_a_second_is_believed() -> None:
    budget = Budget(None, reserve_seconds=0)
    budget.spent(1, 1.0)
    assert budget.estimate(10) == 10.0


@pytest.mark.parametrize(("size", "seconds"), [(1_000_000, 0.0), (0, 2.0), (0, 0.0)])
def test_a_measurement_with_no_bytes_or_no_time_keeps_the_assumed_rate(
    size: int, seconds: float
) -> None:
    budget = Budget(None, reserve_seconds=0)
    budget.spent(size, seconds)
    assert budget.estimate(2_000_000) == 1.0
