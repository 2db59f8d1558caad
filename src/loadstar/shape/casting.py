"""Arrow values to the warehouse column's type: exactly, or a loud error.

Every cast either keeps the value (round-trips) or raises `BadFileError`
naming the column, the first offending row and its value. The documented
conversions that do drop information on purpose are: a timestamp into a
``date`` keeps its UTC date; a timestamp into a ``time`` keeps its UTC time of
day. Time zone-aware timestamps are converted to UTC first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from loadstar.errors import BadFileError
from loadstar.shape.mapping import ColumnMap, LoadPlan
from loadstar.shape.table import Column

_INTEGERS = {"int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64()}
_FLOATS = {"float4": pa.float32(), "float8": pa.float64()}
_TEXT = {"text", "varchar", "bpchar", "name", "citext"}

# A double is taken as the decimal it approximates when it lies within this
# relative distance of it; binary floating point cannot hold most decimals
# exactly, and arithmetic upstream adds a few units in the last place.
_DECIMAL_TOLERANCE = 2.0**-40
_MAX_EXACT_FLOAT_INTEGER = 2.0**53


class CastFailure(Exception):
    """A value that does not fit; turned into `BadFileError` with its row and column."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


def cast_batch(batch: pa.RecordBatch, plan: LoadPlan, *, first_row: int) -> pa.RecordBatch:
    """The batch's mapped columns, cast to the table's types, in plan order.

    ``first_row`` is the batch's offset in the file, so errors name file rows.
    """
    arrays = []
    for mapped in plan.columns:
        arrays.append(_cast_mapped(batch.column(mapped.source), mapped, plan, first_row))
    return pa.RecordBatch.from_arrays(arrays, names=list(plan.target_names))


def _cast_mapped(
    array: pa.Array[Any], mapped: ColumnMap, plan: LoadPlan, first_row: int
) -> pa.Array[Any]:
    column = mapped.column
    try:
        result = cast_array(array, column)
        if column.not_null:
            _check_no_nulls(result, "NULL in a NOT NULL column")
        elif column.name in plan.key_columns:
            _check_no_nulls(result, "NULL in a key column (rows are matched on it)")
    except CastFailure as exc:
        where = ""
        if exc.index is not None:
            where = f" at row {first_row + exc.index + 1}"
            if array[exc.index].is_valid:
                where += f" (value {_show(array, exc.index)})"
        source = "" if mapped.source == column.name else f" (file column {mapped.source!r})"
        raise BadFileError(
            f"{exc.message}{where}{source}",
            table=plan.table.qualified_name,
            column=column.name,
        ) from None
    return result


def cast_array(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    """``array`` as the Arrow type that carries ``column``'s values exactly."""
    array = _plain(array)
    source = array.type
    base = column.base_type
    if pa.types.is_null(source):
        target = _null_target(column)
        return array.cast(target) if target is not None else array
    if _is_nested(source):
        raise CastFailure(
            f"holds {source} values, which loadstar cannot load (nested types are unsupported)"
        )
    if base in _INTEGERS:
        return _to_integer(array, _INTEGERS[base], column)
    if base in _FLOATS:
        return _to_float(array, _FLOATS[base], column)
    if base == "numeric":
        return _to_numeric(array, column)
    if base == "bool":
        _require(array, column, pa.types.is_boolean)
        return array
    if base in _TEXT:
        return _to_text(array, column)
    if base == "date":
        return _to_date(array, column)
    if base == "time":
        return _to_time(array, column)
    if base in ("timestamp", "timestamptz"):
        return _to_timestamp(array, column, aware=base == "timestamptz")
    if base == "bytea" or pa.types.is_binary(source) or pa.types.is_fixed_size_binary(source):
        raise CastFailure(
            f"holds {source} values for {column.declared}, which loadstar cannot load"
        )
    # uuid, json, inet, enums and the like: PostgreSQL parses their text form.
    return array if pa.types.is_string(source) else _stringify(array, column)


def _plain(array: pa.Array[Any]) -> pa.Array[Any]:
    """Dictionary-encoded and 64-bit-offset arrays as their plain equivalents."""
    if pa.types.is_dictionary(array.type):
        array = cast("pa.DictionaryArray[Any, Any]", array).dictionary_decode()
    if pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        array = array.cast(pa.string())
    elif pa.types.is_large_binary(array.type):
        array = array.cast(pa.binary())
    return array


def _is_nested(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_struct(t)
        or pa.types.is_map(t)
        or pa.types.is_union(t)
        or getattr(pa.types, "is_list_view", lambda _: False)(t)
    )


def _null_target(column: Column) -> pa.DataType | None:
    base = column.base_type
    if base in _INTEGERS:
        return _INTEGERS[base]
    if base in _FLOATS:
        return _FLOATS[base]
    others: dict[str, pa.DataType] = {
        "bool": pa.bool_(),
        "date": pa.date32(),
        "time": pa.time64("us"),
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }
    return others.get(base, pa.string())


def _require(array: pa.Array[Any], column: Column, accepts: Callable[[pa.DataType], bool]) -> None:
    if not accepts(array.type):
        raise CastFailure(
            f"holds {array.type} values but the column is {column.declared}",
            index=_first_valid(array),
        )


def _is_number(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _to_integer(array: pa.Array[Any], target: pa.DataType, column: Column) -> pa.Array[Any]:
    t = array.type
    _require(array, column, _is_number)
    if pa.types.is_floating(t):
        _check_finite(array, column)
    if t == target:
        return array
    return _safe_cast(array, target, f"does not fit {column.declared}")


def _to_float(array: pa.Array[Any], target: pa.DataType, column: Column) -> pa.Array[Any]:
    _require(array, column, _is_number)
    if array.type == target:
        return array
    return _safe_cast(array, target, f"cannot be held exactly by {column.declared}")


def _to_numeric(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    t = array.type
    _require(array, column, _is_number)
    if pa.types.is_floating(t):
        _check_finite(array, column)
    precision, scale = column.precision, column.scale
    if precision is None or scale is None:
        return array
    if precision > 76 or scale < 0:
        return array
    target = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    overflow = f"does not fit {column.declared}"
    if pa.types.is_decimal(t):
        return _safe_cast(array, target, f"{overflow} without rounding")
    if pa.types.is_integer(t):
        wide = pa.decimal128(38, scale) if scale <= 19 else pa.decimal256(76, scale)
        return _safe_cast(_safe_cast(array.cast(pa.int64()), wide, overflow), target, overflow)
    return _float_to_decimal(array.cast(pa.float64()), target, column)


def _float_to_decimal(array: pa.Array[Any], target: pa.DataType, column: Column) -> pa.Array[Any]:
    scale, precision = column.scale or 0, column.precision or 0
    scaled = pc.multiply(array, pa.scalar(float(10**scale)))
    rounded = pc.round(scaled)
    magnitude = pc.abs(scaled)
    tolerance = pc.max_element_wise(
        pc.multiply(magnitude, pa.scalar(_DECIMAL_TOLERANCE)), pa.scalar(1e-9)
    )
    inexact = pc.greater(pc.abs(pc.subtract(scaled, rounded)), tolerance)
    index = _first_true(inexact)
    if index is not None:
        raise CastFailure(
            f"has more decimal places than {column.declared} keeps (it would be rounded)",
            index=index,
        )
    limit = min(float(10**precision), _MAX_EXACT_FLOAT_INTEGER)
    index = _first_true(pc.greater_equal(pc.abs(rounded), pa.scalar(limit)))
    if index is not None:
        raise CastFailure(f"does not fit {column.declared}", index=index)
    return pc.cast(array, target, safe=False)


def _to_text(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    if not pa.types.is_string(array.type):
        array = _stringify(array, column)
    limit = column.max_length
    if limit is not None:
        lengths = pc.utf8_length(cast(pa.StringArray, array))
        index = _first_true(pc.greater(lengths, pa.scalar(limit)))
        if index is not None:
            raise CastFailure(f"is longer than {column.declared} allows", index=index)
    return array


def _stringify(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    t = array.type
    if pa.types.is_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_duration(t):
        raise CastFailure(f"holds {t} values but the column is {column.declared}")
    return _safe_cast(array, pa.string(), f"cannot be written as {column.declared}")


def _to_date(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    t = array.type
    if pa.types.is_date32(t):
        return array
    if pa.types.is_date64(t):
        return array.cast(pa.date32())
    if pa.types.is_timestamp(t):
        return _utc_naive(array).cast(pa.date32())
    if pa.types.is_string(t):
        try:
            return pc.cast(array, pa.date32())
        except pa.ArrowInvalid:
            stamps = _parse_timestamps(array, column)
            return stamps.cast(pa.date32())
    raise CastFailure(
        f"holds {t} values but the column is {column.declared}", index=_first_valid(array)
    )


def _to_time(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    t = array.type
    target = pa.time64("us")
    if pa.types.is_time(t):
        return array if t == target else _safe_cast(array, target, "has sub-microsecond digits")
    if pa.types.is_timestamp(t):
        naive = _safe_cast(_utc_naive(array), pa.timestamp("us"), "has sub-microsecond digits")
        return naive.cast(target)
    if pa.types.is_string(t):
        # Arrow has no string-to-time cast; parsing "HH:MM:SS[.ffffff]" as a
        # time of day on the epoch date gives the same checks (hours < 24 …).
        stamped = pc.utf8_replace_slice(
            cast(pa.StringArray, array), start=0, stop=0, replacement="1970-01-01T"
        )
        try:
            return pc.cast(stamped, pa.timestamp("us")).cast(target)
        except pa.ArrowInvalid:
            index = _first_failure(stamped, lambda a: pc.cast(a, pa.timestamp("us")))
            raise CastFailure("is not a time of day (HH:MM:SS[.ffffff])", index=index) from None
    raise CastFailure(
        f"holds {t} values but the column is {column.declared}", index=_first_valid(array)
    )


def _to_timestamp(array: pa.Array[Any], column: Column, *, aware: bool) -> pa.Array[Any]:
    t = array.type
    if pa.types.is_timestamp(t):
        naive = _safe_cast(_utc_naive(array), pa.timestamp("us"), "has sub-microsecond digits")
    elif pa.types.is_date(t):
        naive = array.cast(pa.timestamp("us"))
    elif pa.types.is_string(t):
        naive = _parse_timestamps(array, column)
    else:
        raise CastFailure(
            f"holds {t} values but the column is {column.declared}", index=_first_valid(array)
        )
    # Arrow keeps UTC instants under any zone; naming the zone only labels them.
    return naive.cast(pa.timestamp("us", tz="UTC")) if aware else naive


_STAMP_TYPES = (pa.timestamp("us"), pa.timestamp("us", tz="UTC"))


def _parse_timestamps(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    """ISO 8601 strings, all without a zone (taken as UTC) or all with an offset."""
    for target in _STAMP_TYPES:
        try:
            return _utc_naive(pc.cast(array, target))
        except pa.ArrowInvalid:
            continue
    index = _first_failure(array, _parse_any)
    raise CastFailure(f"is not an ISO 8601 date or timestamp for {column.declared}", index=index)


def _parse_any(array: pa.Array[Any]) -> object:
    for target in _STAMP_TYPES:
        try:
            return pc.cast(array, target)
        except pa.ArrowInvalid:
            continue
    raise pa.ArrowInvalid("no timestamp form fits")


def _utc_naive(array: pa.Array[Any]) -> pa.Array[Any]:
    """A timestamp array without its zone label: the same UTC instants, naive."""
    t = array.type
    if t.tz is None:
        return array
    return array.cast(pa.timestamp(t.unit))


def _check_finite(array: pa.Array[Any], column: Column) -> None:
    index = _first_true(pc.invert(pc.is_finite(array)))
    if index is not None:
        raise CastFailure(f"NaN or infinity cannot be stored in {column.declared}", index=index)


def _check_no_nulls(array: pa.Array[Any], problem: str) -> None:
    if array.null_count:
        raise CastFailure(problem, index=_first_true(pc.is_null(array)))


def _safe_cast(array: pa.Array[Any], target: pa.DataType, problem: str) -> pa.Array[Any]:
    try:
        return pc.cast(array, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        index = _first_failure(array, lambda a: pc.cast(a, target, safe=True))
        raise CastFailure(problem, index=index) from None


def _first_true(mask: pa.Array[Any]) -> int | None:
    """Index of the first true value of a boolean mask (nulls count as false)."""
    if mask.null_count:
        mask = mask.fill_null(False)
    if not pc.any(mask).as_py():
        return None
    return int(pc.index(mask, True).as_py())


def _first_valid(array: pa.Array[Any]) -> int | None:
    return _first_true(pc.is_valid(array))


def _first_failure(array: pa.Array[Any], convert: Callable[[pa.Array[Any]], object]) -> int | None:
    """The first element ``convert`` rejects; the error path only, so it may be slow."""
    step = 4096
    for start in range(0, len(array), step):
        chunk = array.slice(start, step)
        try:
            convert(chunk)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for i in range(len(chunk)):
                try:
                    convert(chunk.slice(i, 1))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    return start + i
    return None


def _show(array: pa.Array[Any], index: int) -> str:
    try:
        value = array[index].as_py()
    except (ValueError, OverflowError, pa.ArrowException):
        value = str(array[index])
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
