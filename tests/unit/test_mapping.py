"""File columns to warehouse columns, by name, from the warehouse's own description."""

from __future__ import annotations

import pyarrow as pa
import pytest

from loadstar.config import table_from_entry
from loadstar.errors import BadFileError, TableError
from loadstar.shape.mapping import check_table, index_advice, plan_columns
from loadstar.shape.table import Column, TableInfo


def column(
    name: str, *, not_null: bool = False, generated: bool = False, default: bool = False
) -> Column:
    return Column(name, "int4", "integer", not_null, default or generated, generated)


FACT = TableInfo(
    schema="public",
    name="fact_sales_order",
    columns=(
        column("sales_record_id", not_null=True, generated=True),
        column("sales_order_id", not_null=True),
        column("units_sold", not_null=True),
        column("note"),
    ),
    primary_key=("sales_record_id",),
)
DIM = TableInfo(
    schema="public",
    name="dim_counterparty",
    columns=(column("counterparty_id", not_null=True), column("counterparty_legal_phone_number")),
    primary_key=("counterparty_id",),
)
FACT_SPEC = table_from_entry("fact_sales_order", {"version_key": ["sales_order_id"]})
DIM_SPEC = table_from_entry("dim_counterparty", {})


def schema(*names: str) -> pa.Schema:
    return pa.schema([(n, pa.int64()) for n in names])


def test_columns_match_by_name_in_any_order() -> None:
    plan = plan_columns(schema("units_sold", "sales_order_id"), FACT_SPEC, FACT)
    assert plan.target_names == ("units_sold", "sales_order_id")


def test_missing_nullable_column_is_left_out() -> None:
    plan = plan_columns(schema("sales_order_id", "units_sold"), FACT_SPEC, FACT)
    assert "note" not in plan.target_names


def test_fact_surrogate_key_in_the_file_is_ignored() -> None:
    plan = plan_columns(schema("sales_record_id", "sales_order_id", "units_sold"), FACT_SPEC, FACT)
    assert plan.target_names == ("sales_order_id", "units_sold")
    assert plan.ignored == ("sales_record_id",)


def test_pandas_index_columns_are_ignored() -> None:
    plan = plan_columns(
        schema("sales_order_id", "units_sold", "__index_level_0__"), FACT_SPEC, FACT
    )
    assert plan.ignored == ("__index_level_0__",)


def test_unknown_column_is_an_error_naming_it() -> None:
    with pytest.raises(BadFileError, match=r"unknown column.*'discount'") as caught:
        plan_columns(schema("sales_order_id", "units_sold", "discount"), FACT_SPEC, FACT)
    assert caught.value.column == "discount"
    assert caught.value.table == "public.fact_sales_order"


def test_hostile_column_name_is_rejected_not_executed() -> None:
    hostile = 'x"; DROP TABLE fact_sales_order; --'
    with pytest.raises(BadFileError, match="unknown column") as caught:
        plan_columns(schema("sales_order_id", "units_sold", hostile), FACT_SPEC, FACT)
    assert caught.value.column == hostile


def test_missing_not_null_column_is_an_error() -> None:
    with pytest.raises(BadFileError, match="no column 'units_sold'"):
        plan_columns(schema("sales_order_id"), FACT_SPEC, FACT)


def test_rename_maps_file_names_to_table_names() -> None:
    plan = plan_columns(schema("counterparty_id", "counterparty_legal_phone"), DIM_SPEC, DIM)
    assert plan.target_names == ("counterparty_id", "counterparty_legal_phone_number")
    assert plan.columns[1].source == "counterparty_legal_phone"


def test_two_file_columns_for_one_table_column_is_an_error() -> None:
    with pytest.raises(BadFileError, match="both map to"):
        plan_columns(
            schema(
                "counterparty_id", "counterparty_legal_phone", "counterparty_legal_phone_number"
            ),
            DIM_SPEC,
            DIM,
        )


def test_case_differences_match_when_unambiguous() -> None:
    plan = plan_columns(schema("Counterparty_ID"), DIM_SPEC, DIM)
    assert plan.target_names == ("counterparty_id",)


def test_dimension_without_primary_key_is_the_tables_problem() -> None:
    keyless = TableInfo("public", "dim_counterparty", DIM.columns, ())
    with pytest.raises(TableError, match="no primary key"):
        check_table(DIM_SPEC, keyless)


def test_version_key_must_name_table_columns() -> None:
    spec = table_from_entry("fact_sales_order", {"version_key": ["nope"]})
    with pytest.raises(TableError, match="'nope'"):
        check_table(spec, FACT)


SALES = table_from_entry("fact_sales_order", {})  # the default catalogue's three-column key


def with_indexes(*indexes: tuple[str, ...]) -> TableInfo:
    return TableInfo(FACT.schema, FACT.name, FACT.columns, FACT.primary_key, indexes=indexes)


def test_an_unindexed_version_key_gets_advice() -> None:
    assert "CREATE UNIQUE INDEX" in (index_advice(FACT_SPEC, FACT) or "")
    assert index_advice(DIM_SPEC, DIM) is None


@pytest.mark.parametrize(
    "index",
    [
        ("sales_order_id", "last_updated_date", "last_updated_time"),
        ("last_updated_time", "sales_order_id", "last_updated_date"),  # any order
        ("sales_order_id", "last_updated_date", "last_updated_time", "units_sold"),  # and more
    ],
)
def test_an_index_leading_with_the_whole_version_key_is_probed(index: tuple[str, ...]) -> None:
    table = with_indexes(index)
    assert table.has_index_for(SALES.version_key)
    assert index_advice(SALES, table) is None


@pytest.mark.parametrize(
    "index",
    [
        ("last_updated_date",),  # one version-key column alone
        ("sales_order_id", "units_sold"),  # the first column only
        ("sales_order_id", "last_updated_date"),  # all but one
        ("units_sold", "sales_order_id", "last_updated_date", "last_updated_time"),  # not leading
    ],
)
def test_an_index_on_part_of_the_version_key_leaves_the_plan_to_the_planner(
    index: tuple[str, ...],
) -> None:
    table = with_indexes(index)
    assert not table.has_index_for(SALES.version_key)
    assert "CREATE UNIQUE INDEX" in (index_advice(SALES, table) or "")


@pytest.mark.parametrize(
    "names", [["__index_level_0__"], ["__index_level_0__", "__index_level_1__"]]
)
def test_a_file_of_only_ignored_columns_has_nothing_to_load(names: list[str]) -> None:
    with pytest.raises(BadFileError, match="there is nothing to load"):
        plan_columns(schema(*names), FACT_SPEC, FACT)


def test_the_unknown_column_hint_quotes_a_hostile_name_for_toml_and_sql() -> None:
    table = TableInfo(
        "public", "dim_x", (Column("id", "int4", "integer", True, False, False),), ("id",)
    )
    schema = pa.schema([("id", pa.int64()), ('bad"col', pa.int64())])
    with pytest.raises(BadFileError) as refused:
        plan_columns(schema, table_from_entry("dim_x", {}), table)
    message = str(refused.value)
    assert 'ignore = ["bad\\"col"] in [tables.dim_x]' in message
    assert 'ALTER TABLE "public"."dim_x" ADD COLUMN "bad""col" <type>' in message
    assert 'rename = { "bad\\"col" = "<column>" }' in message


def test_an_empty_table_of_rows_prints_its_headers() -> None:
    from loadstar.cli.output import plain_table

    assert plain_table(None, ["table", "files"], []) == "table  files"


@pytest.mark.parametrize(
    ("unknown", "expected"),
    [
        (
            ["discount"],
            "unknown column 'discount': the table has no such column (it has sales_record_id, "
            "sales_order_id, units_sold, note). Either map each to a column (rename = "
            '{ "discount" = "<column>" } in [tables.fact_sales_order]), drop them (ignore = '
            '["discount"] in [tables.fact_sales_order]), add them to the table (ALTER TABLE '
            '"public"."fact_sales_order" ADD COLUMN "discount" <type>), or set this file aside '
            "(loadstar skip KEY --reason ...)",
        ),
        (
            ["discount", "coupon"],
            "unknown columns 'discount', 'coupon': the table has no such column (it has "
            "sales_record_id, sales_order_id, units_sold, note). Either map each to a column "
            '(rename = { "discount" = "<column>" } in [tables.fact_sales_order]), drop them '
            '(ignore = ["discount", "coupon"] in [tables.fact_sales_order]), add them to the '
            'table (ALTER TABLE "public"."fact_sales_order" ADD COLUMN "discount" <type>; '
            'ALTER TABLE "public"."fact_sales_order" ADD COLUMN "coupon" <type>), or set this '
            "file aside (loadstar skip KEY --reason ...)",
        ),
    ],
)
def test_the_unknown_column_message_lists_each_column_and_each_way_out(
    unknown: list[str], expected: str
) -> None:
    with pytest.raises(BadFileError) as refused:
        plan_columns(schema("sales_order_id", "units_sold", *unknown), FACT_SPEC, FACT)
    # the scope first: the column named is the first unknown one
    assert str(refused.value) == f"table public.fact_sales_order, column discount: {expected}"


def test_the_index_advice_names_the_table_and_every_version_key_column() -> None:
    assert index_advice(SALES, FACT) == (
        "no index on the version key of public.fact_sales_order: every file's de-duplication "
        "reads the whole table; create one with CREATE UNIQUE INDEX ON "
        '"public"."fact_sales_order" ("sales_order_id", "last_updated_date", '
        '"last_updated_time")'
    )
