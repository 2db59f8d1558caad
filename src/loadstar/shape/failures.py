"""Finding and naming the value a cast refuses: the first offending row, shown safely."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loadstar.shape.scalars import scalar

_TRUE = scalar(True, pa.bool_())


class CastFailure(Exception):
    """A value that does not fit; turned into `BadFileError` with its row and column."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


def first_true(mask: pa.Array[Any]) -> int | None:
    """Index of the first true value of a boolean mask (nulls count as false)."""
    # any() and index() pass over nulls: a null is never the true value sought.
    if not pc.any(mask).as_py():
        return None
    return int(pc.index(mask, _TRUE).as_py())


def first_valid(array: pa.Array[Any]) -> int | None:
    return first_true(pc.is_valid(array))


def first_failure(array: pa.Array[Any], convert: Callable[[pa.Array[Any]], object]) -> int | None:
    """The first element ``convert`` rejects; the error path only, so it may be slow."""
    step = 4096
    for start in range(0, len(array), step):
        chunk = array.slice(start, step)
        try:
            convert(chunk)
        except (pa.ArrowException, ValueError, OverflowError):
            for i in range(len(chunk)):
                try:
                    convert(chunk.slice(i, 1))
                except (pa.ArrowException, ValueError, OverflowError):
                    return start + i
    return None


def safe_cast(array: pa.Array[Any], target: pa.DataType, problem: str) -> pa.Array[Any]:
    """``array`` as ``target`` when every value survives exactly; else `CastFailure`."""
    try:
        return pc.cast(array, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        index = first_failure(array, lambda a: pc.cast(a, target, safe=True))
        raise CastFailure(problem, index=index) from None


def show(array: pa.Array[Any], index: int) -> str:
    """The value at ``index`` for a message; never raises, whatever the value."""
    try:
        value = array[index].as_py()
    except Exception:
        return _raw(array, index)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _raw(array: pa.Array[Any], index: int) -> str:
    """A value Python cannot hold: a temporal one beyond its range as its stored
    number and unit, text that is not UTF-8 as its bytes."""
    t = array.type
    if pa.types.is_string(t):
        raw = array.slice(index, 1).cast(pa.binary())[0].as_py()
        return repr(raw)[:80]
    storage: pa.DataType
    if pa.types.is_timestamp(t) or pa.types.is_time64(t) or pa.types.is_duration(t):
        storage, unit = pa.int64(), str(t.unit)
    elif pa.types.is_date64(t):
        storage, unit = pa.int64(), "ms"
    elif pa.types.is_date32(t):
        storage, unit = pa.int32(), "days"
    elif pa.types.is_time32(t):
        storage, unit = pa.int32(), str(t.unit)
    else:
        return f"<a {t} value>"
    number = array.slice(index, 1).view(storage)[0].as_py()
    return f"{number} {unit} from 1970-01-01"
