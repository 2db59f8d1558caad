"""Arrow values into warehouse column types: exact, or a loud error naming the value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from loadstar.config import table_from_entry
from loadstar.errors import BadFileError
from loadstar.shape.casting import CastFailure, cast_array, cast_batch
from loadstar.shape.mapping import ColumnMap, LoadPlan
from loadstar.shape.table import Column, TableInfo


def col(base: str, declared: str | None = None, typmod: int = -1, **kw: Any) -> Column:
    return Column(
        name=kw.pop("name", "c"),
        base_type=base,
        declared=declared or base,
        not_null=kw.pop("not_null", False),
        has_default=False,
        generated=False,
        typmod=typmod,
    )


NUMERIC_10_2 = col("numeric", "numeric(10,2)", typmod=((10 << 16) | 2) + 4)
VARCHAR_5 = col("varchar", "character varying(5)", typmod=5 + 4)


def values(array: pa.Array[Any]) -> list[Any]:
    return array.to_pylist()


def test_int64_into_integer() -> None:
    out = cast_array(pa.array([1, -2, None], pa.int64()), col("int4", "integer"))
    assert out.type == pa.int32()
    assert values(out) == [1, -2, None]


def test_int64_beyond_integer_names_the_value() -> None:
    with pytest.raises(CastFailure, match="does not fit integer") as caught:
        cast_array(pa.array([1, 3_000_000_000], pa.int64()), col("int4", "integer"))
    assert caught.value.index == 1


def test_string_into_integer_is_refused() -> None:
    with pytest.raises(CastFailure, match="holds string values but the column is integer"):
        cast_array(pa.array(["12"]), col("int4", "integer"))


def test_integral_floats_into_integer_but_not_fractions() -> None:
    assert values(cast_array(pa.array([3.0, 4.0]), col("int4", "integer"))) == [3, 4]
    with pytest.raises(CastFailure) as caught:
        cast_array(pa.array([3.0, 4.5]), col("int4", "integer"))
    assert caught.value.index == 1


def test_double_into_numeric_keeps_the_decimal_it_approximates() -> None:
    out = cast_array(pa.array([3.94, 0.1 + 0.2, 12345678.99, None]), NUMERIC_10_2)
    assert out.type == pa.decimal128(10, 2)
    assert values(out) == [Decimal("3.94"), Decimal("0.30"), Decimal("12345678.99"), None]


def test_double_with_more_decimals_than_the_scale_is_an_error() -> None:
    with pytest.raises(CastFailure, match="more decimal places") as caught:
        cast_array(pa.array([1.5, 3.945]), NUMERIC_10_2)
    assert caught.value.index == 1


def test_double_beyond_precision_is_an_error() -> None:
    with pytest.raises(CastFailure, match=r"does not fit numeric\(10,2\)") as caught:
        cast_array(pa.array([1.0, 123456789.0]), NUMERIC_10_2)
    assert caught.value.index == 1


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_into_numeric_are_errors(bad: float) -> None:
    with pytest.raises(CastFailure, match="NaN or infinity") as caught:
        cast_array(pa.array([1.0, bad]), NUMERIC_10_2)
    assert caught.value.index == 1


def test_decimal_beyond_numeric_is_an_error() -> None:
    array = pa.array([Decimal("1.00"), Decimal("123456789.00")], pa.decimal128(12, 2))
    with pytest.raises(CastFailure, match="does not fit"):
        cast_array(array, NUMERIC_10_2)


def test_decimal_with_more_scale_is_an_error_not_rounded() -> None:
    array = pa.array([Decimal("1.234")], pa.decimal128(10, 3))
    with pytest.raises(CastFailure, match=r"more decimal places than numeric\(10,2\) keeps"):
        cast_array(array, NUMERIC_10_2)


def test_integers_into_numeric() -> None:
    out = cast_array(pa.array([5, None], pa.int64()), NUMERIC_10_2)
    assert values(out) == [Decimal("5.00"), None]
    with pytest.raises(CastFailure):
        cast_array(pa.array([10**9], pa.int64()), NUMERIC_10_2)


def test_timestamps_into_date_keep_the_utc_date() -> None:
    aware = pa.array(
        [dt.datetime(2024, 5, 25, 1, 30, tzinfo=dt.UTC)], pa.timestamp("us", tz="America/New_York")
    )
    naive = pa.array([dt.datetime(2024, 5, 24, 23, 30)], pa.timestamp("ns"))
    assert values(cast_array(aware, col("date"))) == [dt.date(2024, 5, 25)]
    assert values(cast_array(naive, col("date"))) == [dt.date(2024, 5, 24)]


def test_strings_into_date() -> None:
    assert values(cast_array(pa.array(["2024-05-24", None]), col("date"))) == [
        dt.date(2024, 5, 24),
        None,
    ]
    with pytest.raises(CastFailure, match="ISO 8601") as caught:
        cast_array(pa.array(["2024-05-24", "24/05/2024"]), col("date"))
    assert caught.value.index == 1


def test_time_strings_into_time() -> None:
    out = cast_array(pa.array(["14:35:22.123", "01:02:03", None]), col("time"))
    assert values(out) == [dt.time(14, 35, 22, 123000), dt.time(1, 2, 3), None]


def test_bad_time_string_is_named() -> None:
    with pytest.raises(CastFailure, match="time of day") as caught:
        cast_array(pa.array(["14:35:22", "25:00:00"]), col("time"))
    assert caught.value.index == 1


def test_aware_timestamps_into_time_are_utc() -> None:
    zone = dt.timezone(dt.timedelta(hours=2))
    array = pa.array(
        [dt.datetime(2024, 5, 24, 14, 0, tzinfo=zone)], pa.timestamp("us", tz="+02:00")
    )
    assert values(cast_array(array, col("time"))) == [dt.time(12, 0)]


def test_nanosecond_digits_are_not_dropped_silently() -> None:
    array = pa.array([1_000_000_001], pa.time64("ns"))
    with pytest.raises(CastFailure, match="sub-microsecond"):
        cast_array(array, col("time"))


def test_timestamptz_keeps_the_instant() -> None:
    zone = dt.timezone(dt.timedelta(hours=-5))
    array = pa.array([dt.datetime(2024, 5, 24, 9, 0, tzinfo=zone)], pa.timestamp("ms", tz="-05:00"))
    out = cast_array(array, col("timestamptz"))
    assert values(out) == [dt.datetime(2024, 5, 24, 14, 0, tzinfo=dt.UTC)]


def test_text_length_is_checked() -> None:
    assert values(cast_array(pa.array(["abcde"]), VARCHAR_5)) == ["abcde"]
    with pytest.raises(CastFailure, match="longer than") as caught:
        cast_array(pa.array(["abc", "abcdef"]), VARCHAR_5)
    assert caught.value.index == 1


def test_dictionary_and_large_string_columns_load_as_text() -> None:
    dictionary = pa.array(["a", "b", "a", None]).dictionary_encode()
    large = pa.array(["x", None], pa.large_string())
    assert values(cast_array(dictionary, col("varchar"))) == ["a", "b", "a", None]
    assert cast_array(large, col("text")).type == pa.string()


@pytest.mark.parametrize(
    "array",
    [
        pa.array([[1, 2]], pa.list_(pa.int64())),
        pa.array([{"a": 1}], pa.struct([("a", pa.int64())])),
    ],
)
def test_nested_columns_are_unsupported(array: pa.Array[Any]) -> None:
    with pytest.raises(CastFailure, match="nested types are unsupported"):
        cast_array(array, col("text"))


def test_all_null_column_takes_the_target_type() -> None:
    out = cast_array(pa.nulls(3), col("int4", "integer"))
    assert out.type == pa.int32()
    assert out.null_count == 3


def plan_for(*columns: Column, kind: str = "dimension") -> LoadPlan:
    table = TableInfo(schema="public", name="dim_thing", columns=columns, primary_key=("id",))
    spec = table_from_entry("dim_thing", {"kind": kind})
    return LoadPlan(spec=spec, table=table, columns=tuple(ColumnMap(c.name, c) for c in columns))


def test_null_in_not_null_column_names_table_column_row_and_value() -> None:
    plan = plan_for(
        col("int4", "integer", name="id", not_null=True), col("text", name="name", not_null=True)
    )
    data: dict[str, pa.Array[Any]] = {"id": pa.array([1, 2, 3]), "name": pa.array(["a", "b", None])}
    batch = pa.record_batch(data)
    with pytest.raises(BadFileError) as caught:
        cast_batch(batch, plan, first_row=100)
    message = str(caught.value)
    assert "table public.dim_thing" in message
    assert "column name" in message
    assert "row 103" in message
    assert "NULL" in message


def test_overflow_error_names_the_example_value() -> None:
    plan = plan_for(col("int4", "integer", name="id", not_null=True))
    batch = pa.record_batch({"id": pa.array([7, 2**40], pa.int64())})
    with pytest.raises(
        BadFileError, match=r"column id: does not fit integer at row 2 \(value 1099511627776\)"
    ):
        cast_batch(batch, plan, first_row=0)
