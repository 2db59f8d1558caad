"""Text into text columns: whole characters PostgreSQL can store, within the length.

PostgreSQL text cannot hold a NUL character, and the server refuses invalid
UTF-8; both are found here, naming the row, rather than by the server in
the middle of a COPY.
"""

from __future__ import annotations

from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from loadstar.shape.failures import CastFailure, first_failure, first_true, safe_cast
from loadstar.shape.scalars import scalar
from loadstar.shape.table import Column

TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "name", "citext"})


def to_text(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    if not pa.types.is_string(array.type):
        array = stringify(array, column)
    check_storable(array)
    limit = column.max_length
    if limit is not None:
        lengths = pc.utf8_length(cast(pa.StringArray, array))
        index = first_true(pc.greater(lengths, scalar(limit, lengths.type)))
        if index is not None:
            raise CastFailure(f"is longer than {column.declared} allows", index=index)
    return array


def stringify(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
    t = array.type
    if pa.types.is_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_duration(t):
        raise CastFailure(f"holds {t} values but the column is {column.declared}")
    return safe_cast(array, pa.string(), f"cannot be written as {column.declared}")


def check_storable(array: pa.Array[Any]) -> None:
    """Valid UTF-8 without NUL characters, or `CastFailure` naming the first value that is not."""
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        index = first_failure(array, lambda a: a.validate(full=True))
        raise CastFailure("is not valid UTF-8 text", index=index) from None
    index = first_true(pc.match_substring(cast(pa.StringArray, array), "\x00"))
    if index is not None:
        raise CastFailure("holds a NUL character, which PostgreSQL text cannot store", index=index)
