"""Arrow values to the warehouse column's type: exactly, or a loud error.

Every cast either keeps the value (round-trips) or raises `BadFileError`
naming the table, the column, the first offending row and its value; never a
raw Arrow, Python or driver exception. Numbers are `loadstar.shape.numbers`'
business, dates and times `loadstar.shape.instants`', text
`loadstar.shape.text`'s; this module dispatches on the column's type.
"""

from __future__ import annotations

from typing import Any, cast

import pyarrow as pa

from loadstar.errors import BadFileError
from loadstar.shape import instants, numbers, text
from loadstar.shape.failures import CastFailure, first_true, first_valid, show
from loadstar.shape.mapping import ColumnMap, LoadPlan
from loadstar.shape.table import Column

__all__ = ["CastFailure", "cast_array", "cast_batch"]


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
        result = _guarded(array, column)
        if column.not_null:
            _check_no_nulls(result, "NULL in a NOT NULL column")
        elif column.name in plan.key_columns:
            _check_no_nulls(result, "NULL in a key column (rows are matched on it)")
    except CastFailure as exc:
        where = ""
        if exc.index is not None:
            where = f" at row {first_row + exc.index + 1}"
            if array[exc.index].is_valid:
                where += f" (value {show(array, exc.index)})"
        source = "" if mapped.source == column.name else f" (file column {mapped.source!r})"
        raise BadFileError(
            f"{exc.message}{where}{source}",
            table=plan.table.qualified_name,
            column=column.name,
        ) from None
    return result


def _guarded(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    """`cast_array`, with anything unforeseen about a value still named as a cast failure."""
    try:
        return cast_array(array, column)
    except CastFailure:
        raise
    except (pa.ArrowException, ValueError, OverflowError, ArithmeticError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CastFailure(
            f"holds {array.type} values that cannot be cast to {column.declared}: {first}"
        ) from None


def cast_array(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    """``array`` as the Arrow type that carries ``column``'s values exactly."""
    array = _plain(array)
    source = array.type
    base = column.base_type
    if pa.types.is_null(source):
        return array.cast(_null_target(column))
    if _is_nested(source):
        raise CastFailure(
            f"holds {source} values, which loadstar cannot load (nested types are unsupported)"
        )
    if base in numbers.INTEGERS:
        return numbers.to_integer(array, numbers.INTEGERS[base], column)
    if base in numbers.FLOATS:
        return numbers.to_float(array, numbers.FLOATS[base], column)
    if base == "numeric":
        return numbers.to_numeric(array, column)
    if base == "money":
        return numbers.to_money(array, column)
    if base == "bool":
        if not pa.types.is_boolean(source):
            raise CastFailure(
                f"holds {source} values but the column is {column.declared}",
                index=first_valid(array),
            )
        return array
    if base in text.TEXT_TYPES:
        return text.to_text(array, column)
    if base == "date":
        return instants.to_date(array, column)
    if base == "time":
        return instants.to_time(array, column)
    if base in ("timestamp", "timestamptz"):
        return instants.to_timestamp(array, column, aware=base == "timestamptz")
    if base == "bytea" or pa.types.is_binary(source) or pa.types.is_fixed_size_binary(source):
        raise CastFailure(
            f"holds {source} values for {column.declared}, which loadstar cannot load"
        )
    # uuid, json, inet, enums and the like: PostgreSQL parses their text form.
    if not pa.types.is_string(source):
        array = text.stringify(array, column)
    text.check_storable(array)
    return array


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


def _null_target(column: Column) -> pa.DataType:
    base = column.base_type
    if base in numbers.INTEGERS:
        return numbers.INTEGERS[base]
    if base in numbers.FLOATS:
        return numbers.FLOATS[base]
    others: dict[str, pa.DataType] = {
        "bool": pa.bool_(),
        "date": pa.date32(),
        "time": pa.time64("us"),
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }
    return others.get(base, pa.string())


def _check_no_nulls(array: pa.Array[Any], problem: str) -> None:
    if array.null_count:
        index = first_true(array.is_null())
        raise CastFailure(problem, index=index)
