"""Every value exact, or an error naming its column, row and value: never rounded, wrapped,
clamped, or a raw exception from the cast or from the error report itself."""

from __future__ import annotations

import datetime as dt
import io
import struct
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loadstar.config import table_from_entry
from loadstar.errors import BadFileError
from loadstar.shape.casting import cast_batch
from loadstar.shape.mapping import ColumnMap, LoadPlan
from loadstar.shape.table import Column, TableInfo
from loadstar.source.parquet import ParquetSource


def numeric(precision: int, scale: int) -> tuple[str, str, int]:
    # PostgreSQL's typmod: ((precision << 16) | (scale & 0x7ff)) + 4
    return "numeric", f"numeric({precision},{scale})", ((precision << 16) | (scale & 0x7FF)) + 4


def column(base: str, declared: str | None = None, typmod: int = -1) -> Column:
    return Column("v", base, declared or base, False, False, False, typmod)


def cast(values: pa.Array[Any], base: str, declared: str | None = None, typmod: int = -1) -> Any:
    col = column(base, declared, typmod)
    table = TableInfo("public", "t", (col,), ())
    plan = LoadPlan(table_from_entry("t", {"kind": "fact"}), table, (ColumnMap("v", col),))
    return cast_batch(pa.record_batch({"v": values}), plan, first_row=0).column(0).to_pylist()


def refused(values: pa.Array[Any], base: str, declared: str | None = None, typmod: int = -1) -> str:
    with pytest.raises(BadFileError) as caught:
        cast(values, base, declared, typmod)
    message = str(caught.value)
    assert "column v" in message
    assert "table public.t" in message
    return message


# -- numeric of any precision and scale -------------------------------------------------------


@pytest.mark.parametrize(
    ("typ", "values", "stored"),
    [
        (numeric(100, 2), pa.array([1.23, None]), ["1.23", None]),
        (numeric(100, 2), pa.array([Decimal(10**30)], pa.decimal128(38, 0)), ["1" + "0" * 30]),
        (numeric(5, -2), pa.array([12300, -400], pa.int64()), ["12300", "-400"]),
        (numeric(2, 5), pa.array([Decimal("0.00012")], pa.decimal128(5, 5)), ["0.00012"]),
        (numeric(10, 2), pa.array([19.99], pa.float32()), [Decimal("19.99")]),
        (numeric(20, 0), pa.array([1e16]), [Decimal(10**16)]),
        (numeric(38, 0), pa.array([1e37]), [Decimal(10**37)]),
        (numeric(20, 0), pa.array([2**64 - 1], pa.uint64()), [Decimal(2**64 - 1)]),
        (numeric(10, 2), pa.array([0.1 + 0.2]), [Decimal("0.30")]),
    ],
)
def test_numbers_that_fit_are_stored_exactly(
    typ: tuple[str, str, int], values: pa.Array[Any], stored: list[Any]
) -> None:
    assert cast(values, *typ) == stored


@pytest.mark.parametrize(
    ("typ", "values", "row", "problem"),
    [
        (numeric(100, 2), pa.array([1.5, 1.234]), 2, "more digits after the point"),
        (numeric(100, 2), pa.array([10**19], pa.uint64()), 0, None),
        (numeric(80, 2), pa.array([1e78]), 1, "does not fit"),
        (numeric(5, -2), pa.array([100, 123], pa.int64()), 2, "more digits after the point"),
        (numeric(5, -2), pa.array([10_000_000], pa.int64()), 1, "does not fit"),
        (numeric(2, 5), pa.array([Decimal("0.001")], pa.decimal128(5, 3)), 1, "does not fit"),
        (numeric(10, 2), pa.array([19.991], pa.float32()), 1, "more decimal places"),
        (numeric(19, 0), pa.array([2**64 - 1], pa.uint64()), 1, "does not fit"),
        (numeric(10, 2), pa.array([1e300]), 1, "does not fit"),
    ],
)
def test_numbers_that_do_not_fit_are_refused_naming_the_row(
    typ: tuple[str, str, int], values: pa.Array[Any], row: int, problem: str | None
) -> None:
    if problem is None:  # a control: the same shape, in range
        cast(values, *typ)
        return
    message = refused(values, *typ)
    assert problem in message
    assert f"at row {row} (value " in message


# -- money, integers, reals ---------------------------------------------------------------------


def test_money_keeps_two_decimal_places_exactly() -> None:
    assert cast(pa.array([1.01, 2.0, None]), "money") == ["1.01", "2.00", None]
    assert "more decimal places" in refused(pa.array([1.005]), "money")
    big = pa.array([Decimal("92233720368547758.08")], pa.decimal128(19, 2))
    assert "does not fit money" in refused(big, "money")


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (pa.array([Decimal("2.00"), Decimal("1.50")], pa.decimal128(5, 2)), "fractional part"),
        (pa.array([2.0, 1.5]), "fractional part"),
        (pa.array([1, 3_000_000_000], pa.int64()), "does not fit integer"),
        (pa.array([1, 2**64 - 1], pa.uint64()), "does not fit integer"),
    ],
)
def test_an_integer_column_says_whether_a_value_is_too_big_or_has_a_fraction(
    values: pa.Array[Any], problem: str
) -> None:
    assert problem in refused(values, "int4", "integer")


def test_a_whole_decimal_fits_an_integer() -> None:
    assert cast(pa.array([Decimal("2.00")], pa.decimal128(5, 2)), "int4", "integer") == [2]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (1e300, "beyond the range of real"),
        (-1e300, "beyond the range of real"),
        (1e-50, "too small for real"),
        (-1e-50, "too small for real"),
    ],
)
def test_a_double_a_real_cannot_hold_is_refused_as_postgresql_would(
    value: float, problem: str
) -> None:
    assert problem in refused(pa.array([0.5, value]), "float4", "real")


def test_doubles_a_real_can_hold_load() -> None:
    assert cast(pa.array([0.5, float("inf"), 0.0]), "float4", "real") == [0.5, float("inf"), 0.0]


# -- instants PostgreSQL cannot hold --------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "base"),
    [
        (pa.array([0, 2**62], pa.timestamp("s")), "timestamp"),
        (pa.array([0, 2**62], pa.timestamp("s")), "date"),
        (pa.array([0, 2**62], pa.timestamp("ms")), "timestamptz"),
        (pa.array([0, -(2**63) + 1], pa.timestamp("us")), "timestamp"),
        (pa.array([0, -(2**63) + 1], pa.timestamp("us", tz="UTC")), "time"),
        (pa.array([0, 2_147_483_000], pa.date32()), "date"),
        (pa.array([0, 2_147_483_000], pa.date32()), "timestamp"),
    ],
)
def test_instants_beyond_postgresqls_range_are_named_not_wrapped(
    values: pa.Array[Any], base: str
) -> None:
    message = refused(values, base)
    assert "outside the range of dates PostgreSQL holds" in message
    assert "at row 2 (value " in message


def test_a_date64_with_a_time_of_day_is_not_a_date() -> None:
    values = pa.array([86_400_000, 86_400_000 + 5], pa.date64())
    assert "date64 with a time of day" in refused(values, "date")


def test_far_but_valid_instants_load() -> None:
    far = dt.datetime(9999, 12, 31, 23, 59, 59)
    assert cast(pa.array([far], pa.timestamp("ms")), "timestamp") == [far]
    assert cast(pa.array([far], pa.timestamp("ms")), "date") == [far.date()]


def test_int96_timestamps_beyond_the_nanosecond_range_are_read_whole() -> None:
    far = dt.datetime(9999, 12, 31)
    table = pa.table({"v": pa.array([far, dt.datetime(1500, 1, 1)], pa.timestamp("us"))})
    sink = io.BytesIO()
    pq.write_table(table, sink, use_deprecated_int96_timestamps=True)
    sink.seek(0)
    source = ParquetSource(sink, key="k")
    read = pa.Table.from_batches(list(source.batches()))
    assert read.column("v").to_pylist() == [far, dt.datetime(1500, 1, 1)]


# -- text PostgreSQL cannot store -----------------------------------------------------------


@pytest.mark.parametrize("base", ["text", "varchar", "uuid", "jsonb"])
def test_a_nul_character_is_named(base: str) -> None:
    message = refused(pa.array(["fine", "nul\x00inside"]), base)
    assert "NUL character" in message
    assert "at row 2" in message


def test_invalid_utf8_is_named_with_its_bytes() -> None:
    raw = pa.array([b"fine", b"bad \xff byte"], pa.binary())
    message = refused(raw.view(pa.string()), "text")
    assert "not valid UTF-8" in message
    assert "at row 2 (value b'bad \\xff byte')" in message


# -- a file with rows and nothing to load -------------------------------------------------


def rows_without_columns(rows: int) -> bytes:
    """A Parquet file whose footer says ``rows`` rows and no columns, as some writers make."""
    sink = io.BytesIO()
    pq.write_table(pa.table({"x": [1]}).drop_columns(["x"]), sink)
    data = bytearray(sink.getvalue())
    length = struct.unpack("<i", data[-8:-4])[0]
    footer = len(data) - 8 - length
    # FileMetaData's field 3 (num_rows, an i64 in Thrift's compact protocol) follows
    # the schema list: header 0x16, then the zigzag varint of the count.
    at = data.index(b"\x16\x00", footer)
    assert rows < 64  # one varint byte
    data[at + 1] = rows * 2
    return bytes(data)


@pytest.mark.parametrize("rows", [1, 3, 40])
def test_a_file_with_rows_and_no_columns_is_a_bad_file(rows: int) -> None:
    with pytest.raises(BadFileError, match=f"has {rows} rows but no columns"):
        ParquetSource(io.BytesIO(rows_without_columns(rows)), key="k")


def test_a_file_with_no_rows_and_no_columns_is_empty_not_bad() -> None:
    assert ParquetSource(io.BytesIO(rows_without_columns(0)), key="k").num_rows == 0
