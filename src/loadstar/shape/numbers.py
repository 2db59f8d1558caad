"""Numbers into integer, real, double precision, numeric and money columns.

Every value arrives exactly or the cast names the first that cannot: a
fraction where an integer is wanted, a value beyond the column's range, more
decimal places than a numeric keeps. A double is taken as the decimal it
approximates: the nearest decimal of the column's scale when the double lies
within ``2**-40`` of it (binary floating point holds most decimals only
approximately, and arithmetic upstream adds a few units in the last place),
and its shortest decimal form when it is too large to carry a fraction. A
float (float32) is read as its own shortest decimal (``19.99``, not
``19.9899997711…``), as PostgreSQL reads a ``real``.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loadstar.shape.failures import CastFailure, first_true, first_valid, safe_cast
from loadstar.shape.scalars import scalar, strings
from loadstar.shape.table import Column

INTEGERS = {"int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64()}
FLOATS = {"float4": pa.float32(), "float8": pa.float64()}

_DECIMAL_TOLERANCE = 2.0**-40
_EXACT_FLOAT_INTEGER = 2.0**53
_ARROW_MAX_PRECISION = 76
_MONEY = (Decimal("-92233720368547758.08"), Decimal("92233720368547758.07"))
# PostgreSQL's numeric holds up to 131072 digits before the point; Python's
# Decimal arithmetic must not round any of what it checks.
_EXACT = decimal.Context(prec=200_000, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def is_number(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def require_number(array: pa.Array[Any], column: Column) -> None:
    if not is_number(array.type):
        raise CastFailure(
            f"holds {array.type} values but the column is {column.declared}",
            index=first_valid(array),
        )


def check_finite(array: pa.Array[Any], column: Column) -> None:
    index = first_true(pc.invert(pc.is_finite(array)))
    if index is not None:
        raise CastFailure(f"NaN or infinity cannot be stored in {column.declared}", index=index)


def to_integer(array: pa.Array[Any], target: pa.DataType, column: Column) -> pa.Array[Any]:
    t = array.type
    require_number(array, column)
    fraction = f"has a fractional part, which {column.declared} cannot keep"
    if pa.types.is_floating(t):
        check_finite(array, column)
        index = first_true(pc.not_equal(array, pc.trunc(array)))
        if index is not None:
            raise CastFailure(fraction, index=index)
    elif pa.types.is_decimal(t) and t.scale > 0:
        whole = pa.decimal128(38, 0) if pa.types.is_decimal128(t) else pa.decimal256(76, 0)
        safe_cast(array, whole, fraction)
    if t == target:
        return array
    return safe_cast(array, target, f"does not fit {column.declared}")


def to_float(array: pa.Array[Any], target: pa.DataType, column: Column) -> pa.Array[Any]:
    t = array.type
    require_number(array, column)
    if t == target:
        return array
    if pa.types.is_floating(t) and target == pa.float32():
        narrowed = pc.cast(array, target, safe=False)
        # PostgreSQL refuses a double that a real turns into Infinity or 0.
        index = first_true(pc.and_(pc.is_finite(array), pc.invert(pc.is_finite(narrowed))))
        if index is not None:
            raise CastFailure(f"is beyond the range of {column.declared}", index=index)
        zero = scalar(0.0, pa.float64())
        index = first_true(pc.and_(pc.not_equal(array, zero), pc.equal(narrowed, zero)))
        if index is not None:
            raise CastFailure(f"is too small for {column.declared} (it would be 0)", index=index)
        return narrowed
    if pa.types.is_decimal(t):
        converted = pc.cast(array, target, safe=False)
        index = first_true(pc.not_equal(pc.cast(converted, t, safe=False), array))
        if index is not None:
            raise CastFailure(f"cannot be held exactly by {column.declared}", index=index)
        return converted
    return safe_cast(array, target, f"cannot be held exactly by {column.declared}")


def to_numeric(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    t = array.type
    require_number(array, column)
    if pa.types.is_floating(t):
        check_finite(array, column)
    precision, scale = column.precision, column.scale
    if precision is None or scale is None:
        return array  # unconstrained: every number is kept as it is
    if precision > _ARROW_MAX_PRECISION or not 0 <= scale <= precision:
        return _exotic_numeric(array, column, precision, scale)
    return _to_decimal(array, column, precision, scale)


def to_money(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    """Money keeps two decimal places; its text form is what PostgreSQL reads."""
    require_number(array, column)
    if pa.types.is_floating(array.type):
        check_finite(array, column)
    # Wide first, so that the first value beyond money's range is the one named.
    cents = _to_decimal(array, column, 76, 2)
    low, high = (scalar(v, cents.type) for v in _MONEY)
    index = first_true(pc.or_(pc.less(cents, low), pc.greater(cents, high)))
    if index is not None:
        raise CastFailure(f"does not fit {column.declared}", index=index)
    return pc.cast(cents, pa.string())


def _to_decimal(array: pa.Array[Any], column: Column, precision: int, scale: int) -> pa.Array[Any]:
    t = array.type
    wide = pa.decimal128(38, scale) if scale <= 18 else pa.decimal256(76, scale)
    target = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    overflow = f"does not fit {column.declared}"
    if pa.types.is_decimal(t):
        if t.scale > scale:
            rescaled = pa.decimal256(76, scale)
            safe_cast(
                array,
                rescaled,
                f"has more decimal places than {column.declared} keeps (it would be rounded)",
            )
        return safe_cast(array, target, overflow)
    if pa.types.is_integer(t):
        return safe_cast(safe_cast(array, wide, overflow), target, overflow)
    if pa.types.is_float32(t):
        # A float's own shortest decimal, then as a double: 19.99, not 19.9899997711.
        array = pc.cast(pc.cast(array, pa.string()), pa.float64())
    return _float_to_decimal(array.cast(pa.float64()), column, target, precision, scale)


def _float_to_decimal(
    array: pa.Array[Any], column: Column, target: pa.DataType, precision: int, scale: int
) -> pa.Array[Any]:
    scaled = pc.multiply(array, scalar(float(10**scale), pa.float64()))
    rounded = pc.round(scaled)
    tolerance = pc.max_element_wise(
        pc.multiply(pc.abs(scaled), scalar(_DECIMAL_TOLERANCE, pa.float64())),
        scalar(1e-9, pa.float64()),
    )
    index = first_true(pc.greater(pc.abs(pc.subtract(scaled, rounded)), tolerance))
    if index is not None:
        raise CastFailure(
            f"has more decimal places than {column.declared} keeps (it would be rounded)",
            index=index,
        )
    index = first_true(
        pc.greater_equal(pc.abs(rounded), scalar(float(10**precision), pa.float64()))
    )
    if index is not None:
        raise CastFailure(f"does not fit {column.declared}", index=index)
    largest = pc.max(pc.abs(rounded)).as_py()
    if largest is not None and largest >= _EXACT_FLOAT_INTEGER:
        # Too large to carry a fraction: the shortest decimal form, as PostgreSQL reads it.
        return safe_cast(pc.cast(array, pa.string()), target, f"does not fit {column.declared}")
    # The scaled value is an exact integer: its digits, read at the column's scale.
    unscaled_type = pa.decimal128(38, 0) if precision <= 38 else pa.decimal256(76, 0)
    unscaled = pc.cast(rounded, unscaled_type, safe=False)
    storage = pa.decimal128(38, scale) if precision <= 38 else pa.decimal256(76, scale)
    return safe_cast(unscaled.view(storage), target, f"does not fit {column.declared}")


def _exotic_numeric(
    array: pa.Array[Any], column: Column, precision: int, scale: int
) -> pa.Array[Any]:
    """A numeric Arrow cannot hold (over 76 digits, or a scale below 0 or above the
    precision): every value checked as a Python decimal, sent as its text."""
    values = array.to_pylist()
    quantum = Decimal(1).scaleb(-scale)
    bound = Decimal(10) ** (precision - scale)
    out: list[str | None] = []
    for index, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if _EXACT.quantize(exact, quantum) != exact:
            raise CastFailure(
                f"has more digits after the point than {column.declared} keeps "
                "(it would be rounded)",
                index=index,
            )
        if abs(exact) >= bound:
            raise CastFailure(f"does not fit {column.declared}", index=index)
        out.append(format(exact, "f"))
    return strings(out)
