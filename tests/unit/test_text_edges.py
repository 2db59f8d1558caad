"""Values into text columns and the types PostgreSQL reads from text, at their edges."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from loadstar.shape.casting import CastFailure, cast_array
from loadstar.shape.table import Column


def col(base: str, declared: str | None = None, typmod: int = -1) -> Column:
    return Column("c", base, declared or base, False, False, False, typmod)


VARCHAR_3 = col("varchar", "character varying(3)", typmod=3 + 4)
CHAR_2 = col("bpchar", "character(2)", typmod=2 + 4)


def refusal(array: pa.Array[Any], column: Column) -> tuple[str, int | None]:
    with pytest.raises(CastFailure) as caught:
        cast_array(array, column)
    return caught.value.message, caught.value.index


def test_numbers_into_a_text_column_are_written_as_their_digits() -> None:
    out = cast_array(pa.array([7, -12, None], pa.int64()), col("text"))
    assert out.type == pa.string()
    assert out.to_pylist() == ["7", "-12", None]


def test_dates_into_a_uuid_like_column_are_sent_as_text_for_postgresql_to_parse() -> None:
    out = cast_array(pa.array([dt.date(2024, 5, 24)]), col("uuid"))
    assert out.to_pylist() == ["2024-05-24"]


@pytest.mark.parametrize(
    "array",
    [
        pa.array([b"ab"], pa.binary()),
        pa.array([b"ab"], pa.binary(2)),
        pa.array([5], pa.duration("s")),
    ],
    ids=["binary", "fixed-size binary", "duration"],
)
def test_bytes_and_durations_are_not_turned_into_text(array: pa.Array[Any]) -> None:
    assert refusal(array, col("text")) == (
        f"holds {array.type} values but the column is text",
        None,
    )


def test_a_duration_into_a_json_column_is_not_turned_into_text() -> None:
    array = pa.array([5], pa.duration("ms"))
    assert refusal(array, col("json")) == ("holds duration[ms] values but the column is json", None)


def test_a_value_arrow_cannot_write_as_text_names_the_column_type() -> None:
    array = pa.array([(1, 2, 3)], pa.month_day_nano_interval())
    assert refusal(array, col("varchar", "character varying")) == (
        "cannot be written as character varying",
        0,
    )


def test_text_as_long_as_the_column_allows_fits() -> None:
    assert cast_array(pa.array(["abc", "ab", None]), VARCHAR_3).to_pylist() == ["abc", "ab", None]


def test_text_one_character_too_long_is_named() -> None:
    assert refusal(pa.array(["abc", "ab", "abcd"]), VARCHAR_3) == (
        "is longer than character varying(3) allows",
        2,
    )


def test_the_length_limit_counts_characters_not_bytes() -> None:
    assert cast_array(pa.array(["ééé"]), VARCHAR_3).to_pylist() == ["ééé"]


def test_a_fixed_length_character_column_limits_the_length_too() -> None:
    assert refusal(pa.array(["ab", "abc"]), CHAR_2) == ("is longer than character(2) allows", 1)


def test_numbers_written_as_text_are_held_to_the_length_limit() -> None:
    assert refusal(pa.array([123, 1234], pa.int64()), VARCHAR_3) == (
        "is longer than character varying(3) allows",
        1,
    )


def test_a_nul_character_in_text_is_named_with_its_row() -> None:
    assert refusal(pa.array(["a", None, "b\x00c"]), col("text")) == (
        "holds a NUL character, which PostgreSQL text cannot store",
        2,
    )


def test_a_nul_character_for_a_type_parsed_from_text_is_named_too() -> None:
    assert refusal(pa.array(["{}", "\x00"]), col("jsonb")) == (
        "holds a NUL character, which PostgreSQL text cannot store",
        1,
    )


def test_invalid_utf8_is_named_with_its_row() -> None:
    array = pa.array([b"ok", b"fine", b"\xc3("], pa.binary()).view(pa.string())
    assert refusal(array, col("text")) == ("is not valid UTF-8 text", 2)
