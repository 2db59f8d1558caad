"""Naming the value a cast refuses: the first offending row, and how it is shown."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from loadstar.shape.failures import first_failure, first_true, show


def digits_as_integers(array: pa.Array[Any]) -> object:
    return pc.cast(array, pa.int64())


def test_the_first_failure_is_found_beyond_the_first_chunks_of_a_long_array() -> None:
    values = ["1"] * 10_000
    values[9_000] = "x"
    values[9_500] = "y"
    assert first_failure(pa.array(values), digits_as_integers) == 9_000


def test_no_failure_in_a_long_array_is_none() -> None:
    assert first_failure(pa.array(["7"] * 5_000), digits_as_integers) is None


def test_a_value_of_eighty_characters_is_shown_whole() -> None:
    text = "a" * 78  # its repr has the two quotes too
    assert show(pa.array([text]), 0) == repr(text)


def test_a_longer_value_is_cut_to_eighty_characters_ending_in_an_ellipsis() -> None:
    text = "b" * 79
    shown = show(pa.array(["short", text]), 1)
    assert shown == "'" + "b" * 76 + "..."
    assert len(shown) == 80


def test_nan_and_infinity_are_shown_as_python_writes_them() -> None:
    array = pa.array([float("nan"), float("-inf"), 2.5])
    assert [show(array, i) for i in range(3)] == ["nan", "-inf", "2.5"]


def test_text_that_is_not_utf8_is_shown_as_the_bytes_of_its_own_row() -> None:
    array = pa.array([b"ok", b"\xffno", b"\xfe"], pa.binary()).view(pa.string())
    assert show(array, 1) == r"b'\xffno'"
    assert show(array, 2) == r"b'\xfe'"


def test_long_bytes_that_are_not_utf8_are_cut_to_eighty_characters() -> None:
    array = pa.array([b"\xff" * 40], pa.binary()).view(pa.string())
    assert show(array, 0) == repr(b"\xff" * 40)[:80]


def beyond_python(values: list[int], storage: pa.DataType, t: pa.DataType) -> pa.Array[Any]:
    """Stored counts that Python's date, time and timedelta cannot hold."""
    return pa.array(values, storage).view(t)


def test_a_timestamp_beyond_python_is_shown_as_its_count_and_unit() -> None:
    array = beyond_python([0, 2**62], pa.int64(), pa.timestamp("s"))
    assert show(array, 1) == f"{2**62} s from 1970-01-01"


def test_a_zoned_timestamp_beyond_python_is_shown_as_its_count_and_unit() -> None:
    array = beyond_python([-(2**62), 0], pa.int64(), pa.timestamp("ms", tz="UTC"))
    assert show(array, 0) == f"{-(2**62)} ms from 1970-01-01"


def test_a_time_of_day_python_cannot_hold_is_shown_as_its_count_and_unit() -> None:
    array = beyond_python([0, -(2**63)], pa.int64(), pa.time64("ns"))
    assert show(array, 1) == f"{-(2**63)} ns from 1970-01-01"


def test_a_duration_beyond_python_is_shown_as_its_count_and_unit() -> None:
    array = beyond_python([1, 2**62], pa.int64(), pa.duration("s"))
    assert show(array, 1) == f"{2**62} s from 1970-01-01"


def test_a_date64_beyond_python_is_shown_in_milliseconds() -> None:
    array = beyond_python([0, 2**62], pa.int64(), pa.date64())
    assert show(array, 1) == f"{2**62} ms from 1970-01-01"


def test_a_date32_beyond_python_is_shown_in_days() -> None:
    array = beyond_python([0, 2**30], pa.int32(), pa.date32())
    assert show(array, 1) == f"{2**30} days from 1970-01-01"


@pytest.mark.parametrize(
    ("mask", "found"),
    [
        ([None, False, True, None, True], 2),
        ([None, None], None),
        ([], None),
        ([False, None], None),
        ([True], 0),
    ],
)
def test_the_first_true_value_passes_over_nulls(mask: list[bool | None], found: int | None) -> None:
    assert first_true(pa.array(mask, pa.bool_())) == found
