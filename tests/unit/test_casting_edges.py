"""A column of nulls only takes the Arrow type its warehouse column's values travel as."""

from __future__ import annotations

import pyarrow as pa
import pytest

from loadstar.shape.casting import cast_array
from loadstar.shape.table import Column


@pytest.mark.parametrize(
    ("base", "declared", "expected"),
    [
        ("int2", "smallint", pa.int16()),
        ("float4", "real", pa.float32()),
        ("float8", "double precision", pa.float64()),
        ("bool", "boolean", pa.bool_()),
        ("date", "date", pa.date32()),
        ("time", "time without time zone", pa.time64("us")),
        ("timestamp", "timestamp without time zone", pa.timestamp("us")),
        ("timestamptz", "timestamp with time zone", pa.timestamp("us", tz="UTC")),
        ("text", "text", pa.string()),
        ("numeric", "numeric", pa.string()),
    ],
)
def test_a_column_of_nulls_only_takes_its_columns_type(
    base: str, declared: str, expected: pa.DataType
) -> None:
    out = cast_array(pa.nulls(2), Column("c", base, declared, False, False, False))
    assert out.type == expected
    assert out.to_pylist() == [None, None]
