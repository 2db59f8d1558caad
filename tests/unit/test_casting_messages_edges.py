"""A value a column refuses is named whole: the reason, the row in the file, the value, the
file's own column name when it differs."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from loadstar.config import table_from_entry
from loadstar.errors import BadFileError
from loadstar.shape.casting import cast_batch
from loadstar.shape.mapping import plan_columns
from loadstar.shape.table import Column, TableInfo


def integer(name: str, *, not_null: bool = False) -> Column:
    return Column(name, "int4", "integer", not_null, False, False)


DIM = TableInfo(
    schema="public",
    name="dim_counterparty",
    columns=(integer("counterparty_id", not_null=True), integer("phone")),
    primary_key=("counterparty_id",),
)
FACT = TableInfo(
    schema="public",
    name="fact_visit",
    columns=(integer("visit_id", not_null=True), integer("note")),
    primary_key=("visit_id",),
)


def refusal(rows: dict[str, Any], table: TableInfo, entry: dict[str, Any]) -> str:
    batch = pa.record_batch({name: pa.array(values, pa.int64()) for name, values in rows.items()})
    plan = plan_columns(batch.schema, table_from_entry(table.name, entry), table)
    with pytest.raises(BadFileError) as caught:
        cast_batch(batch, plan, first_row=10)
    return str(caught.value)


def test_a_null_in_a_not_null_column_is_named_by_its_row_in_the_file() -> None:
    assert refusal({"counterparty_id": [1, None], "phone": [1, 2]}, DIM, {}) == (
        "table public.dim_counterparty, column counterparty_id: NULL in a NOT NULL column at row 12"
    )


def test_a_null_in_a_version_key_column_is_named_as_such() -> None:
    rows = {"visit_id": [1, 2, 3], "note": [5, None, 6]}
    assert refusal(rows, FACT, {"version_key": ["note"]}) == (
        "table public.fact_visit, column note: "
        "NULL in a key column (rows are matched on it) at row 12"
    )


def test_a_value_from_a_renamed_file_column_names_the_files_column_and_the_value() -> None:
    rows = {"counterparty_id": [1, 2], "phone_number": [7, 2**40]}
    assert refusal(rows, DIM, {"rename": {"phone_number": "phone"}}) == (
        "table public.dim_counterparty, column phone: "
        f"does not fit integer at row 12 (value {2**40}) (file column 'phone_number')"
    )


def test_a_refusal_with_no_row_names_none() -> None:
    columns: dict[str, Any] = {"counterparty_id": pa.array([1], pa.int64()), "phone": [[2]]}
    batch = pa.record_batch(columns)
    plan = plan_columns(batch.schema, table_from_entry("dim_counterparty", {}), DIM)
    with pytest.raises(BadFileError) as caught:
        cast_batch(batch, plan, first_row=0)
    assert str(caught.value).startswith("table public.dim_counterparty, column phone: holds list")
    assert " at row " not in str(caught.value)
