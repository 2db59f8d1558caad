"""A column of nulls only takes the Arrow type its warehouse column's values travel as."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from loadstar.config import table_from_entry
from loadstar.errors import BadFileError
from loadstar.shape import casting
from loadstar.shape.casting import CastFailure, cast_array
from loadstar.shape.mapping import plan_columns
from loadstar.shape.table import Column, TableInfo


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


def column(base: str, declared: str | None = None) -> Column:
    return Column("c", base, declared or base, False, False, False)


def failure(array: pa.Array[Any], target: Column) -> CastFailure:
    with pytest.raises(CastFailure) as caught:
        cast_array(array, target)
    return caught.value


NESTED = [
    pa.array([[1], None], pa.list_(pa.int64())),
    pa.array([[1], None], pa.large_list(pa.int64())),
    pa.array([[1], None], pa.list_(pa.int64(), 1)),
    pa.array([{"a": 1}, None], pa.struct([("a", pa.int64())])),
    pa.array([[("a", 1)], None], pa.map_(pa.string(), pa.int64())),
    pa.UnionArray.from_sparse(pa.array([0, 0], pa.int8()), [pa.array([1, 2])]),
    pa.array([[1], None], pa.list_view(pa.int64())),
]


@pytest.mark.parametrize("array", NESTED, ids=lambda a: str(a.type))
@pytest.mark.parametrize("base", ["text", "jsonb", "int8"])
def test_nested_values_are_refused_as_such_into_any_column(array: pa.Array[Any], base: str) -> None:
    found = failure(array, column(base))
    assert found.message == (
        f"holds {array.type} values, which loadstar cannot load (nested types are unsupported)"
    )


@pytest.mark.parametrize(
    "array",
    [
        pa.array(["a", None], pa.large_string()),
        pa.array(["a", None], pa.string_view()),
        pa.array(["a", None]).dictionary_encode(),
    ],
    ids=lambda a: str(a.type),
)
@pytest.mark.parametrize("base", ["text", "uuid", "json"])
def test_text_of_any_arrow_layout_travels_as_plain_strings(array: pa.Array[Any], base: str) -> None:
    out = cast_array(array, column(base))
    assert out.type == pa.string()
    assert out.to_pylist() == ["a", None]


BINARY = [
    pa.array([b"x"], pa.binary()),
    pa.array([b"x"], pa.large_binary()),
    pa.array([b"x"], pa.binary(1)),
]


@pytest.mark.parametrize(
    ("array", "base"),
    [
        *((array, base) for array in BINARY for base in ("bytea", "uuid", "inet")),
        (pa.array(["x"]), "bytea"),
    ],
    ids=str,
)
def test_binary_values_and_bytea_columns_are_refused_by_name(
    array: pa.Array[Any], base: str
) -> None:
    found = failure(array, column(base))
    shown = "binary" if pa.types.is_large_binary(array.type) else array.type
    assert found.message == f"holds {shown} values for {base}, which loadstar cannot load"


def test_a_value_refused_with_no_row_is_named_without_one() -> None:
    table = TableInfo("public", "dim_x", (column("c"),), ())
    batch = pa.record_batch({"c": NESTED[0]})
    plan = plan_columns(batch.schema, table_from_entry("dim_x", {}), table)
    with pytest.raises(BadFileError) as caught:
        casting.cast_batch(batch, plan, first_row=0)
    assert caught.value.detail == (
        "holds list<item: int64> values, which loadstar cannot load (nested types are unsupported)"
    )


def test_a_boolean_column_takes_booleans_as_they_are() -> None:
    out = cast_array(pa.array([True, None, False]), column("bool", "boolean"))
    assert out.type == pa.bool_()
    assert out.to_pylist() == [True, None, False]


@pytest.mark.parametrize(
    "array", [pa.array([None, 1, 0]), pa.array([None, "true", "false"])], ids=str
)
def test_a_boolean_column_refuses_other_values_at_the_first_one(array: pa.Array[Any]) -> None:
    found = failure(array, column("bool", "boolean"))
    assert found.message == f"holds {array.type} values but the column is boolean"
    assert found.index == 1


@pytest.mark.parametrize(
    ("raised", "shown"),
    [
        (pa.ArrowInvalid("first line\nsecond line"), "first line"),
        (ValueError("  \n"), "ValueError"),
        (OverflowError(), "OverflowError"),
    ],
)
def test_an_unforeseen_cast_error_is_named_by_its_first_line_or_its_type(
    raised: Exception, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cast_array(array: pa.Array[Any], column: Column) -> pa.Array[Any]:
        raise raised

    monkeypatch.setattr(casting, "cast_array", cast_array)
    table = TableInfo("public", "dim_x", (Column("c", "int4", "integer", False, False, False),), ())
    batch = pa.record_batch({"c": pa.array([1, 2])})
    plan = plan_columns(batch.schema, table_from_entry("dim_x", {}), table)
    with pytest.raises(BadFileError) as caught:
        casting.cast_batch(batch, plan, first_row=0)
    assert caught.value.detail == f"holds int64 values that cannot be cast to integer: {shown}"
    assert caught.value.table == "public.dim_x"
    assert caught.value.column == "c"
