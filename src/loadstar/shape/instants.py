"""Dates, times and timestamps into date, time, timestamp and timestamptz columns.

Zone-aware timestamps are converted to UTC first. The documented conversions
that drop information on purpose: a timestamp into a ``date`` keeps its UTC
date; a timestamp into a ``time`` keeps its UTC time of day. Everything else is
exact: sub-microsecond digits, dates with a time of day, and instants beyond
what PostgreSQL holds (4713 BC to 294276 AD for timestamps, 5874897 AD for
dates) are refused with the value named.
"""

from __future__ import annotations

from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from loadstar.shape.failures import CastFailure, first_failure, first_true, first_valid, safe_cast
from loadstar.shape.scalars import scalar
from loadstar.shape.table import Column

# PostgreSQL's limits, counted from 1970-01-01: Julian day 0 (4714-11-24 BC) is
# the first day of both; 5874897-12-31 the last date, 294276-12-31 the last
# timestamp, which every 64-bit count of microseconds is below.
_FIRST_DAY = -2_440_588
_LAST_DAY = 2_145_042_905
_FIRST_MICROSECOND = _FIRST_DAY * 86_400_000_000
_LAST_TIMESTAMP_DAY = (2**63 - 1) // 86_400_000_000
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_OUT_OF_RANGE = "is outside the range of dates PostgreSQL holds (4713 BC to 294276 AD)"

STAMP_TYPES = (pa.timestamp("us"), pa.timestamp("us", tz="UTC"))


def to_date(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    t = array.type
    if pa.types.is_date32(t):
        days = array
    elif pa.types.is_date64(t):
        days = safe_cast(array, pa.date32(), "is a date64 with a time of day, not a date")
    elif pa.types.is_timestamp(t):
        days = utc_naive(to_microseconds(array)).cast(pa.date32())
    elif pa.types.is_string(t):
        try:
            days = pc.cast(array, pa.date32())
        except pa.ArrowInvalid:
            days = parse_timestamps(array, column).cast(pa.date32())
    else:
        raise CastFailure(
            f"holds {t} values but the column is {column.declared}", index=first_valid(array)
        )
    _check_range(days.view(pa.int32()), _FIRST_DAY, _LAST_DAY, _OUT_OF_RANGE)
    return days


def to_time(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    t = array.type
    target = pa.time64("us")
    if pa.types.is_time(t):
        return array if t == target else safe_cast(array, target, "has sub-microsecond digits")
    if pa.types.is_timestamp(t):
        return utc_naive(to_microseconds(array)).cast(target)
    if pa.types.is_string(t):
        # Arrow has no string-to-time cast; parsing "HH:MM:SS[.ffffff]" as a
        # time of day on the epoch date gives the same checks (hours < 24 …).
        stamped = pc.utf8_replace_slice(
            cast(pa.StringArray, array), start=0, stop=0, replacement="1970-01-01T"
        )
        try:
            return pc.cast(stamped, pa.timestamp("us")).cast(target)
        except pa.ArrowInvalid:
            index = first_failure(stamped, lambda a: pc.cast(a, pa.timestamp("us")))
            raise CastFailure("is not a time of day (HH:MM:SS[.ffffff])", index=index) from None
    raise CastFailure(
        f"holds {t} values but the column is {column.declared}", index=first_valid(array)
    )


def to_timestamp(array: pa.Array[Any], column: Column, *, aware: bool) -> pa.Array[Any]:
    t = array.type
    if pa.types.is_timestamp(t):
        naive = utc_naive(to_microseconds(array))
    elif pa.types.is_date(t):
        days = to_date(array, column)
        _check_range(days.view(pa.int32()), _FIRST_DAY, _LAST_TIMESTAMP_DAY, _OUT_OF_RANGE)
        naive = days.cast(pa.timestamp("us"))
    elif pa.types.is_string(t):
        naive = parse_timestamps(array, column)
    else:
        raise CastFailure(
            f"holds {t} values but the column is {column.declared}", index=first_valid(array)
        )
    # Arrow keeps UTC instants under any zone; naming the zone only labels them.
    return naive.cast(pa.timestamp("us", tz="UTC")) if aware else naive


def to_microseconds(array: pa.Array[Any]) -> pa.Array[Any]:
    """A timestamp array in microseconds, within PostgreSQL's range, zone kept."""
    t = array.type
    counts = array.view(pa.int64())
    per_second = _PER_SECOND[t.unit]
    # The first microsecond PostgreSQL holds, in this array's own unit (rounded up):
    # a coarser unit would overflow before Arrow's own cast could say so.
    first = max(-(2**63), -(-_FIRST_MICROSECOND * per_second // 1_000_000))
    last = min(2**63 - 1, (2**63 - 1) * per_second // 1_000_000)
    _check_range(counts, first, last, _OUT_OF_RANGE)
    target = pa.timestamp("us", tz=t.tz)
    if t.unit == "us":
        return array
    return safe_cast(array, target, "has sub-microsecond digits")


def parse_timestamps(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    """ISO 8601 strings, all without a zone (taken as UTC) or all with an offset."""
    for target in STAMP_TYPES:
        try:
            parsed = pc.cast(array, target)
        except pa.ArrowInvalid:
            continue
        return utc_naive(to_microseconds(parsed))
    index = first_failure(array, _parse_any)
    raise CastFailure(f"is not an ISO 8601 date or timestamp for {column.declared}", index=index)


def utc_naive(array: pa.Array[Any]) -> pa.Array[Any]:
    """A timestamp array without its zone label: the same UTC instants, naive."""
    t = array.type
    if t.tz is None:
        return array
    return array.cast(pa.timestamp(t.unit))


def _parse_any(array: pa.Array[Any]) -> object:
    for target in STAMP_TYPES:
        try:
            return pc.cast(array, target)
        except pa.ArrowInvalid:
            continue
    raise pa.ArrowInvalid("no timestamp form fits")


def _check_range(counts: pa.Array[Any], first: int, last: int, problem: str) -> None:
    low, high = scalar(first, counts.type), scalar(last, counts.type)
    outside = pc.or_(pc.less(counts, low), pc.greater(counts, high))
    index = first_true(outside)
    if index is not None:
        raise CastFailure(problem, index=index)
