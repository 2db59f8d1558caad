"""Numbers into numeric, money, real and double precision columns, at their edges."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from loadstar.shape.casting import CastFailure, cast_array
from loadstar.shape.table import Column


def col(base: str, declared: str | None = None, typmod: int = -1) -> Column:
    return Column("c", base, declared or base, False, False, False, typmod)


def numeric(precision: int, scale: int) -> Column:
    typmod = ((precision << 16) | (scale & 0x7FF)) + 4
    return col("numeric", f"numeric({precision},{scale})", typmod)


REAL = col("float4", "real")
DOUBLE = col("float8", "double precision")
MONEY = col("money")


def refusal(array: pa.Array[Any], column: Column) -> tuple[str, int | None]:
    with pytest.raises(CastFailure) as caught:
        cast_array(array, column)
    return caught.value.message, caught.value.index


# -- real and double precision ------------------------------------------------------------


def test_a_double_beyond_a_reals_range_is_named_by_its_row() -> None:
    array = pa.array([0.5, 2.0, -1e300])
    assert refusal(array, REAL) == ("is beyond the range of real", 2)


def test_a_double_a_real_would_turn_into_zero_is_named_by_its_row() -> None:
    array = pa.array([0.0, 0.5, 1e-50])
    assert refusal(array, REAL) == ("is too small for real (it would be 0)", 2)


def test_integers_a_real_holds_exactly_load_as_reals() -> None:
    out = cast_array(pa.array([3, -16_777_216, None], pa.int64()), REAL)
    assert out.type == pa.float32()
    assert out.to_pylist() == [3.0, -16_777_216.0, None]


def test_an_integer_a_real_cannot_hold_exactly_is_named() -> None:
    array = pa.array([1, 16_777_217], pa.int64())
    assert refusal(array, REAL) == ("cannot be held exactly by real", 1)


def test_decimals_a_double_holds_exactly_load() -> None:
    array = pa.array([Decimal("1.5"), Decimal("-0.25"), None], pa.decimal128(5, 2))
    out = cast_array(array, DOUBLE)
    assert out.type == pa.float64()
    assert out.to_pylist() == [1.5, -0.25, None]


def test_a_decimal_a_double_cannot_hold_exactly_is_named() -> None:
    array = pa.array([Decimal(1), Decimal(2**53 + 1)], pa.decimal128(20, 0))
    assert refusal(array, DOUBLE) == ("cannot be held exactly by double precision", 1)


def test_a_decimal_a_double_rounds_up_past_its_precision_is_named() -> None:
    # 99999999999999999 is nearest the double 1e17, which has one digit more.
    array = pa.array([Decimal(1), Decimal("9" * 17)], pa.decimal128(17, 0))
    assert refusal(array, DOUBLE) == ("cannot be held exactly by double precision", 1)


def test_a_decimal_a_real_cannot_hold_exactly_is_named() -> None:
    array = pa.array([Decimal("2.5"), Decimal(16_777_217)], pa.decimal128(10, 1))
    assert refusal(array, REAL) == ("cannot be held exactly by real", 1)


# -- money ------------------------------------------------------------------------------------


def test_money_holds_its_whole_range() -> None:
    array = pa.array(
        [Decimal("92233720368547758.07"), Decimal("-92233720368547758.08")], pa.decimal128(19, 2)
    )
    assert cast_array(array, MONEY).to_pylist() == ["92233720368547758.07", "-92233720368547758.08"]


@pytest.mark.parametrize("beyond", ["92233720368547758.08", "-92233720368547758.09"])
def test_money_beyond_its_range_is_named_by_its_row(beyond: str) -> None:
    array = pa.array([Decimal("1.00"), Decimal("2.00"), Decimal(beyond)], pa.decimal128(19, 2))
    assert refusal(array, MONEY) == ("does not fit money", 2)


# -- numeric beyond what Arrow holds ------------------------------------------------------------


def test_a_wide_numeric_keeps_a_null_before_its_values() -> None:
    out = cast_array(pa.array([None, 1.5, None, 2.25]), numeric(100, 2))
    assert out.to_pylist() == [None, "1.5", None, "2.25"]


def test_a_wide_numeric_of_nulls_only_is_still_text() -> None:
    out = cast_array(pa.array([None, None], pa.float64()), numeric(100, 2))
    assert out.type == pa.string()
    assert out.to_pylist() == [None, None]


@pytest.mark.parametrize(
    ("value", "column", "text"),
    [
        (1e30, numeric(100, 2), "1" + "0" * 30),
        (1e-7, numeric(100, 10), "0.0000001"),
        (-2.5e-5, numeric(100, 6), "-0.000025"),
    ],
)
def test_a_wide_numeric_is_sent_as_plain_digits_never_an_exponent(
    value: float, column: Column, text: str
) -> None:
    assert cast_array(pa.array([value]), column).to_pylist() == [text]


def test_a_wide_numeric_names_a_value_with_too_many_decimal_places() -> None:
    array = pa.array([1.25, 1.5, 0.125])
    assert refusal(array, numeric(100, 2)) == (
        "has more digits after the point than numeric(100,2) keeps (it would be rounded)",
        2,
    )


def test_the_first_value_beyond_moneys_range_is_named_before_a_later_wider_one() -> None:
    array = pa.array([95_000_000_000_000_000, 200_000_000_000_000_000], pa.int64())
    assert refusal(array, MONEY) == ("does not fit money", 0)


# -- integers and floats into numerics of every width -------------------------------------------


def test_an_integer_into_a_numeric_with_many_decimal_places_keeps_its_value() -> None:
    out = cast_array(pa.array([10**18, -7], pa.int64()), numeric(70, 30))
    assert out.to_pylist() == [Decimal(10**18), Decimal(-7)]


def test_the_largest_unsigned_integer_fits_a_wide_numeric_with_nineteen_places() -> None:
    out = cast_array(pa.array([2**64 - 1], pa.uint64()), numeric(50, 19))
    assert out.to_pylist() == [Decimal(2**64 - 1)]


@pytest.mark.parametrize("precision", [20, 38, 39, 40, 76])
def test_a_float_into_a_numeric_of_any_precision_arrow_holds_is_exact(precision: int) -> None:
    out = cast_array(pa.array([1.25, -0.5, None]), numeric(precision, 2))
    assert out.to_pylist() == [Decimal("1.25"), Decimal("-0.50"), None]


def test_float_noise_around_zero_is_zero() -> None:
    noise = 0.1 + 0.2 - 0.3  # 5.55e-17, not 0
    out = cast_array(pa.array([noise, -noise]), numeric(10, 2))
    assert out.to_pylist() == [Decimal("0.00"), Decimal("0.00")]


def test_a_decimal_with_more_places_loads_when_they_are_zeros() -> None:
    array = pa.array([Decimal("1.250"), Decimal("-3.000")], pa.decimal128(10, 3))
    assert cast_array(array, numeric(10, 2)).to_pylist() == [Decimal("1.25"), Decimal("-3.00")]


def test_a_float_into_a_numeric_of_only_decimal_places_is_exact() -> None:
    out = cast_array(pa.array([0.125, -0.5]), numeric(3, 3))
    assert out.to_pylist() == [Decimal("0.125"), Decimal("-0.500")]


# -- integers from decimals and from what is not a number ----------------------------------

INTEGER = col("int4", "integer")
BIGINT = col("int8", "bigint")


@pytest.mark.parametrize(
    "array",
    [pa.array([None, "1"]), pa.array([None, True]), pa.array([None, b"1"])],
    ids=str,
)
@pytest.mark.parametrize("target", [INTEGER, REAL, numeric(10, 2), MONEY], ids=str)
def test_a_value_that_is_not_a_number_is_named_at_its_first_row(
    array: pa.Array[Any], target: Column
) -> None:
    assert refusal(array, target) == (
        f"holds {array.type} values but the column is {target.declared}",
        1,
    )


@pytest.mark.parametrize(
    "decimal_type",
    [pa.decimal128(5, 1), pa.decimal128(20, 3), pa.decimal256(40, 1), pa.decimal256(76, 2)],
    ids=str,
)
def test_a_decimal_with_a_fraction_is_refused_by_an_integer_at_its_row(
    decimal_type: pa.DataType,
) -> None:
    array = pa.array([Decimal(2), None, Decimal("1.5")], decimal_type)
    assert refusal(array, INTEGER) == ("has a fractional part, which integer cannot keep", 2)


@pytest.mark.parametrize(
    "decimal_type",
    [pa.decimal128(5, 1), pa.decimal128(38, 0), pa.decimal256(40, 1), pa.decimal256(76, 2)],
    ids=str,
)
def test_a_whole_decimal_becomes_an_integer_exactly(decimal_type: pa.DataType) -> None:
    out = cast_array(pa.array([Decimal(-7), None, Decimal(123)], decimal_type), INTEGER)
    assert out.type == pa.int32()
    assert out.to_pylist() == [-7, None, 123]


@pytest.mark.parametrize("scale", [0, 2])
def test_a_whole_decimal256_wider_than_38_digits_does_not_fit_rather_than_has_a_fraction(
    scale: int,
) -> None:
    array = pa.array([Decimal(1), Decimal(10) ** 50], pa.decimal256(60, scale))
    assert refusal(array, BIGINT) == ("does not fit bigint", 1)
