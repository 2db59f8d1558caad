"""A short soak: a few rounds of landing files and faulted runs (``make soak`` runs 50)."""

from __future__ import annotations

import pytest

from loadstar.dev.local import LocalServices
from soak import run_soak


@pytest.mark.parametrize("seed", [7, 11])
def test_a_short_soak_loses_and_duplicates_nothing(stack: LocalServices, seed: int) -> None:
    result = run_soak(stack, rounds=4, seed=seed)
    assert result["duplicates"] == 0, result
    assert result["missing"] == 0, result
    assert result["unexpected"] == 0, result
    assert result["rows found"] == result["rows expected"], result
    assert result["ledger agrees"], result
    assert result["final run"] == "loaded", result
