"""Dates, times and timestamps into date, time, timestamp and timestamptz columns, at their
edges."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from loadstar.shape.casting import CastFailure, cast_array
from loadstar.shape.table import Column

OUTSIDE = "is outside the range of dates PostgreSQL holds (4713 BC to 294276 AD)"
LAST_TIMESTAMP_DAY = (2**63 - 1) // 86_400_000_000
"""The last day whose midnight a 64-bit count of microseconds since 1970 holds."""


def col(base: str) -> Column:
    return Column("c", base, base, False, False, False)


def refusal(array: pa.Array[Any], column: Column) -> tuple[str, int | None]:
    with pytest.raises(CastFailure) as caught:
        cast_array(array, column)
    return caught.value.message, caught.value.index


# -- dates into timestamps ----------------------------------------------------------------------


@pytest.mark.parametrize("base", ["timestamp", "timestamptz"])
def test_a_date_into_a_timestamp_is_its_midnight_in_utc(base: str) -> None:
    out = cast_array(pa.array([dt.date(2024, 5, 24), None]), col(base))
    zone = dt.UTC if base == "timestamptz" else None
    assert out.type == pa.timestamp("us", tz="UTC" if zone else None)
    assert out.to_pylist() == [dt.datetime(2024, 5, 24, tzinfo=zone), None]


def test_a_date64_into_a_timestamp_is_its_midnight() -> None:
    out = cast_array(pa.array([dt.date(2024, 5, 24)], pa.date64()), col("timestamp"))
    assert out.to_pylist() == [dt.datetime(2024, 5, 24)]


def test_the_last_date_a_timestamp_holds_loads() -> None:
    array = pa.array([LAST_TIMESTAMP_DAY], pa.int32()).view(pa.date32())
    out = cast_array(array, col("timestamp"))
    assert out.cast(pa.int64()).to_pylist() == [LAST_TIMESTAMP_DAY * 86_400_000_000]


def test_a_date_a_date_column_holds_but_a_timestamp_does_not_is_named() -> None:
    array = pa.array([0, LAST_TIMESTAMP_DAY + 1], pa.int32()).view(pa.date32())
    assert cast_array(array, col("date")).cast(pa.int32()).to_pylist() == [
        0,
        LAST_TIMESTAMP_DAY + 1,
    ]
    assert refusal(array, col("timestamp")) == (OUTSIDE, 1)


# -- types that are not instants ----------------------------------------------------------------


@pytest.mark.parametrize("base", ["date", "time", "timestamp", "timestamptz"])
def test_a_value_that_is_no_instant_is_named_by_its_first_row_with_a_value(base: str) -> None:
    array = pa.array([None, None, True])
    assert refusal(array, col(base)) == (f"holds bool values but the column is {base}", 2)


# -- text into timestamps -----------------------------------------------------------------------


def test_timestamps_with_offsets_load_as_their_utc_instants() -> None:
    array = pa.array(["2024-05-24T10:00:00+02:00", "2024-05-24T11:00:00Z", None])
    out = cast_array(array, col("timestamp"))
    assert out.to_pylist() == [dt.datetime(2024, 5, 24, 8), dt.datetime(2024, 5, 24, 11), None]


def test_text_with_offsets_into_a_date_keeps_the_utc_date() -> None:
    array = pa.array(["2024-05-24T01:00:00+02:00"])
    assert cast_array(array, col("date")).to_pylist() == [dt.date(2024, 5, 23)]


def test_text_that_is_no_timestamp_among_ones_with_offsets_is_named() -> None:
    array = pa.array(["2024-05-24T10:00:00+02:00", "2024-05-24T11:00:00Z", "soon"])
    assert refusal(array, col("timestamptz")) == (
        "is not an ISO 8601 date or timestamp for timestamptz",
        2,
    )


def test_text_mixing_timestamps_with_and_without_offsets_names_the_first_misfit() -> None:
    # Each form alone parses; the file must keep to one of them.
    array = pa.array(["2024-05-24T10:00:00Z", "2024-05-24T11:00:00", "later"])
    assert refusal(array, col("timestamp")) == (
        "is not an ISO 8601 date or timestamp for timestamp",
        2,
    )


def test_text_that_is_not_a_time_of_day_is_named_by_its_row() -> None:
    column = Column("c", "time", "time without time zone", False, False, False)
    with pytest.raises(CastFailure) as caught:
        cast_array(pa.array(["10:00:00", "25:00:00"]), column)
    assert (caught.value.message, caught.value.index) == (
        "is not a time of day (HH:MM:SS[.ffffff])",
        1,
    )


def test_a_time_with_nanoseconds_is_refused_and_one_in_microseconds_kept() -> None:
    column = Column("c", "time", "time without time zone", False, False, False)
    exact = pa.array([0, 1_000], pa.int64()).view(pa.time64("ns"))
    assert cast_array(exact, column).to_pylist() == [dt.time(0), dt.time(0, 0, 0, 1)]
    finer = pa.array([1_000, 1_001], pa.int64()).view(pa.time64("ns"))
    with pytest.raises(CastFailure) as caught:
        cast_array(finer, column)
    assert (caught.value.message, caught.value.index) == ("has sub-microsecond digits", 1)


TIMESTAMP = Column("c", "timestamp", "timestamp without time zone", False, False, False)
OUT_OF_RANGE = "is outside the range of dates PostgreSQL holds (4713 BC to 294276 AD)"
FIRST_MICROSECOND = -210866803200000000  # 4713-11-24 BC, PostgreSQL's first instant


def refused(array: pa.Array[Any], column: Column = TIMESTAMP) -> tuple[str, int | None]:
    with pytest.raises(CastFailure) as caught:
        cast_array(array, column)
    return caught.value.message, caught.value.index


@pytest.mark.parametrize(("unit", "per_second"), [("s", 1), ("ms", 1_000), ("us", 1_000_000)])
def test_a_timestamp_at_either_end_of_the_range_loads_and_one_beyond_is_named(
    unit: str, per_second: int
) -> None:
    first = -(-FIRST_MICROSECOND * per_second // 1_000_000)
    last = min(2**63 - 1, (2**63 - 1) * per_second // 1_000_000)
    ends = pa.array([first, last], pa.int64()).view(pa.timestamp(unit))
    microseconds = cast_array(ends, TIMESTAMP).cast(pa.int64()).to_pylist()
    assert microseconds == [first * 1_000_000 // per_second, last * 1_000_000 // per_second]
    assert refused(pa.array([first, first - 1], pa.int64()).view(pa.timestamp(unit))) == (
        OUT_OF_RANGE,
        1,
    )
    if last < 2**63 - 1:
        beyond = pa.array([last, last + 1], pa.int64()).view(pa.timestamp(unit))
        assert refused(beyond) == (OUT_OF_RANGE, 1)


def test_a_timestamp_with_nanoseconds_is_refused_by_row() -> None:
    array = pa.array([1_000, 2**63 - 1_808, 2**63 - 1], pa.int64()).view(pa.timestamp("ns"))
    assert refused(array) == ("has sub-microsecond digits", 2)
    aware = pa.array([5_000, 5_001], pa.int64()).view(pa.timestamp("ns", tz="UTC"))
    assert refused(aware) == ("has sub-microsecond digits", 1)


def test_a_date64_with_a_time_of_day_is_refused_by_row() -> None:
    column = Column("c", "date", "date", False, False, False)
    array = pa.array([86_400_000, 86_400_001], pa.int64()).view(pa.date64())
    assert refused(array, column) == ("is a date64 with a time of day, not a date", 1)
