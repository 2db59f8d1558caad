"""Properties that must hold for every input, not only the examples we thought of."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadstar.shape.casting import CastFailure, cast_array
from loadstar.shape.table import Column
from loadstar.source.claims import KeyRule

UTC = dt.UTC
instants = st.datetimes(
    min_value=dt.datetime(2001, 9, 9, 2, 0),
    max_value=dt.datetime(2286, 11, 20),
    timezones=st.just(UTC),
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: dt.timezone(dt.timedelta(minutes=m))
)


def seconds(t: dt.datetime) -> dt.datetime:
    return t.replace(microsecond=0)


def millis(t: dt.datetime) -> dt.datetime:
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


# Each supported key format: how to write an instant, and the precision it keeps.
FORMATS: dict[
    str, tuple[Callable[[dt.datetime, dt.timezone], str], Callable[[dt.datetime], dt.datetime]]
] = {
    "seed": (lambda t, z: f"-{t:%Y-%m-%d %H:%M:%S.%f}", lambda t: t),
    "seed, whole seconds": (lambda t, z: f"-{t:%Y-%m-%d %H:%M:%S}", seconds),
    "ISO Z millis": (lambda t, z: f"-{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z", millis),
    "ISO with offset": (
        lambda t, z: "-" + t.astimezone(z).isoformat(timespec="microseconds"),
        lambda t: t,
    ),
    "compact T": (lambda t, z: f"-{t:%Y%m%dT%H%M%S}", seconds),
    "compact TZ": (lambda t, z: f"_{t:%Y%m%dT%H%M%S}Z", seconds),
    "compact digits": (lambda t, z: f"-{t:%Y%m%d%H%M%S}", seconds),
    "date folders": (lambda t, z: f"/{t:%Y/%m/%d/%H:%M:%S}", seconds),
    "date and time folders": (lambda t, z: f"/{t:%Y-%m-%d/%H%M%S}", seconds),
    "epoch seconds": (lambda t, z: f"-{int(t.timestamp())}", seconds),
    "epoch millis": (lambda t, z: f"-{_millis(t)}", millis),
}


def _millis(t: dt.datetime) -> int:
    delta = t - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


@pytest.mark.parametrize("name", list(FORMATS))
@given(a=instants, b=instants, zone=offsets)
@settings(max_examples=60, deadline=None)
def test_any_instant_in_any_format_orders_as_the_instants(
    name: str, a: dt.datetime, b: dt.datetime, zone: dt.timezone
) -> None:
    write, precision = FORMATS[name]
    key_a, key_b = (f"fact/sales_order{write(t, zone)}.parquet" for t in (a, b))
    rule = KeyRule(prefix="fact/sales_order")
    claim_a, claim_b = rule.claim(key_a), rule.claim(key_b)
    assert claim_a is not None
    assert claim_b is not None
    parsed_a, parsed_b = claim_a.instant, claim_b.instant
    assert parsed_a == precision(a)
    assert parsed_b == precision(b)
    assert (parsed_a < parsed_b) == (precision(a) < precision(b))


def column(base: str, declared: str, typmod: int = -1) -> Column:
    return Column("c", base, declared, False, False, False, typmod)


INTEGER = column("int4", "integer")
NUMERIC = column("numeric", "numeric(10,2)", ((10 << 16) | 2) + 4)


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=20))
def test_int64_into_integer_round_trips_or_fails(values: list[int]) -> None:
    array = pa.array(values, pa.int64())
    if all(-(2**31) <= v < 2**31 for v in values):
        assert cast_array(array, INTEGER).to_pylist() == values
        return
    with pytest.raises(CastFailure) as caught:
        cast_array(array, INTEGER)
    index = caught.value.index
    assert index is not None
    assert not -(2**31) <= values[index] < 2**31  # the first value that does not fit
    assert all(-(2**31) <= v < 2**31 for v in values[:index])


cents = st.decimals(
    min_value=Decimal("-99999999.99"),
    max_value=Decimal("99999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@given(st.lists(cents, min_size=1, max_size=20))
def test_doubles_of_two_place_decimals_round_trip_into_numeric(values: list[Decimal]) -> None:
    out = cast_array(pa.array([float(v) for v in values], pa.float64()), NUMERIC)
    assert out.to_pylist() == values


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_double_into_numeric_is_exact_or_an_error(value: float) -> None:
    try:
        out = cast_array(pa.array([value], pa.float64()), NUMERIC)
    except CastFailure:
        return
    stored = out.to_pylist()[0]
    assert stored is not None
    # never silently rounded: the stored decimal is the one the double stands for
    assert abs(stored - Decimal(value)) <= Decimal("1e-9") + abs(Decimal(value)) * Decimal(2**-40)
    assert abs(stored) < Decimal("100000000")


@given(st.times())
def test_time_strings_round_trip(value: dt.time) -> None:
    out = cast_array(pa.array([value.isoformat()]), column("time", "time"))
    assert out.to_pylist() == [value]


@given(
    st.datetimes(
        timezones=st.sampled_from(
            [UTC, dt.timezone(dt.timedelta(hours=5)), dt.timezone(dt.timedelta(hours=-7))]
        )
    )
)
def test_aware_timestamps_become_their_utc_date(value: dt.datetime) -> None:
    array = pa.array([value], pa.timestamp("us", tz="UTC"))
    out = cast_array(array, column("date", "date"))
    assert out.to_pylist() == [value.astimezone(UTC).date()]
