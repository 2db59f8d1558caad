"""The Lambda time budget."""

from __future__ import annotations

from loadstar.run.budget import Budget
from support import FakeContext


def test_no_context_means_no_limit() -> None:
    assert Budget(None, 10).allows(10**12)


def test_a_file_starts_only_when_it_fits_before_the_reserve() -> None:
    context = FakeContext(remaining_ms=12_000)
    budget = Budget(context, reserve_seconds=10)
    assert budget.allows(1_000_000)  # ~0.5 s at the assumed rate
    assert not budget.allows(10_000_000)  # ~5 s


def test_the_estimate_learns_from_files_already_loaded() -> None:
    budget = Budget(FakeContext(remaining_ms=20_000), reserve_seconds=5)
    budget.spent(1_000_000, 10.0)  # a slow warehouse: 100 kB/s
    assert not budget.allows(2_000_000)  # would need ~20 s
    assert budget.allows(1_000_000)
