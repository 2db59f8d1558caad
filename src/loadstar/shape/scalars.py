"""Arrow scalars and string arrays built from their bytes, not from Python values.

pyarrow converts a Python value (``pa.scalar``, ``pa.array``, a plain number
passed to a compute function) only after asking whether it is a pandas
object, and asking imports pandas when it is installed: a third of a second
and tens of megabytes in a load that never sees a DataFrame. Building the
few constants the casts need from their bytes asks nothing.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa


def scalar(value: int | float | Decimal | bool, type_: pa.DataType) -> pa.Scalar[Any]:
    """``value`` as a scalar of a fixed-width ``type_`` (integers, floats, decimals,
    booleans, and the temporal types stored as integers)."""
    array = pa.Array.from_buffers(type_, 1, [None, pa.py_buffer(_bytes(value, type_))])
    return array[0]


def strings(values: Sequence[str | None]) -> pa.Array[Any]:
    """A ``string`` array of ``values``, None as null."""
    offsets, data, valid = [0], bytearray(), bytearray((len(values) + 7) // 8)
    for i, value in enumerate(values):
        if value is not None:
            data += value.encode()
            valid[i // 8] |= 1 << (i % 8)
        offsets.append(len(data))
    nulls = values.count(None)
    return pa.Array.from_buffers(
        pa.string(),
        len(values),
        [
            pa.py_buffer(bytes(valid)) if nulls else None,
            pa.py_buffer(struct.pack(f"<{len(offsets)}i", *offsets)),
            pa.py_buffer(bytes(data)),
        ],
        null_count=nulls,
    )


def _bytes(value: int | float | Decimal | bool, type_: pa.DataType) -> bytes:
    if pa.types.is_boolean(type_):
        return bytes([1 if value else 0])
    if pa.types.is_floating(type_):
        return struct.pack("<d" if type_.bit_width == 64 else "<f", float(value))
    if pa.types.is_decimal(type_):
        unscaled = Decimal(value).scaleb(type_.scale)
        if unscaled != unscaled.to_integral_value():
            raise ValueError(f"{value} has more than {type_.scale} decimal places")
        return int(unscaled).to_bytes(type_.byte_width, "little", signed=True)
    if not isinstance(value, int):
        raise TypeError(f"{value!r} is no integer, for {type_}")
    signed = not pa.types.is_unsigned_integer(type_)
    return value.to_bytes(type_.bit_width // 8, "little", signed=signed)
