"""File columns to warehouse columns, by name, from the warehouse's own description."""

from __future__ import annotations

import pyarrow as pa
import pytest

from loadstar.config import TableSpec, table_from_entry
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


def refusal(spec: TableSpec, table: TableInfo) -> tuple[str, str | None, str | None]:
    with pytest.raises(TableError) as refused:
        check_table(spec, table)
    return str(refused.value), refused.value.table, refused.value.hint


@pytest.mark.parametrize(
    ("entry", "table", "message", "hint"),
    [
        (
            ("dim_counterparty", {}),
            TableInfo("public", "dim_counterparty", DIM.columns, ()),
            "dimension table public.dim_counterparty has no primary key",
            "loadstar upserts dimensions on their primary key: add one",
        ),
        (
            ("fact_sales_order", {"version_key": ["sales_order_id", "nope"]}),
            FACT,
            "version_key of fact_sales_order names column 'nope', which "
            "public.fact_sales_order does not have",
            "fix the version_key in the catalogue, or add the column",
        ),
        (
            ("fact_sales_order", {"version_key": [], "ignore": ["extra", "NOTE"]}),
            FACT,
            "ignore of fact_sales_order names 'NOTE', which public.fact_sales_order has: "
            "loading would drop the files' values for it",
            "ignore is for file columns the table has no place for; remove these from it",
        ),
        (
            ("fact_sales_order", {"version_key": [], "ignore": ["units_sold", "note", "x"]}),
            FACT,
            "ignore of fact_sales_order names 'note', 'units_sold', which "
            "public.fact_sales_order has: loading would drop the files' values for them",
            "ignore is for file columns the table has no place for; remove these from it",
        ),
        (
            ("fact_sales_order", {"version_key": [], "rename": {"qty": "quantity"}}),
            FACT,
            "rename of fact_sales_order maps 'qty' to 'quantity', which "
            "public.fact_sales_order does not have",
            "fix the rename in the catalogue, or add the column",
        ),
    ],
    ids=["dimension without key", "version key", "ignore one", "ignore two", "rename"],
)
def test_a_catalogue_entry_the_table_contradicts_is_refused_naming_both(
    entry: tuple[str, dict[str, object]], table: TableInfo, message: str, hint: str
) -> None:
    assert refusal(table_from_entry(*entry), table) == (message, table.qualified_name, hint)


def test_columns_after_an_ignored_one_still_load() -> None:
    plan = plan_columns(
        schema("__index_level_0__", "sales_order_id", "__index_level_1__", "units_sold"),
        FACT_SPEC,
        FACT,
    )
    assert plan.target_names == ("sales_order_id", "units_sold")
    assert plan.ignored == ("__index_level_0__", "__index_level_1__")


def test_columns_whose_names_differ_only_in_case_each_take_their_own() -> None:
    # PostgreSQL keeps quoted names' case: "Note" and note are two columns.
    table = TableInfo(
        "public", "dim_x", (column("id", not_null=True), column("Note"), column("note")), ("id",)
    )
    plan = plan_columns(schema("note", "id", "Note"), table_from_entry("dim_x", {}), table)
    assert [(m.source, m.column.name) for m in plan.columns] == [
        ("note", "note"),
        ("id", "id"),
        ("Note", "Note"),
    ]
    with pytest.raises(BadFileError, match="unknown column 'NOTE'"):
        plan_columns(schema("id", "NOTE"), table_from_entry("dim_x", {}), table)


def file_refusal(names: tuple[str, ...], spec: TableSpec, table: TableInfo) -> BadFileError:
    with pytest.raises(BadFileError) as refused:
        plan_columns(schema(*names), spec, table)
    return refused.value


IDENTITY_DIM = TableInfo(
    "public",
    "dim_x",
    (column("id", not_null=True, generated=True), column("name", not_null=True)),
    ("id",),
)


@pytest.mark.parametrize(
    ("names", "spec", "table", "column_", "message"),
    [
        (
            ("counterparty_id", "counterparty_legal_phone", "counterparty_legal_phone_number"),
            DIM_SPEC,
            DIM,
            "counterparty_legal_phone_number",
            "columns 'counterparty_legal_phone' and 'counterparty_legal_phone_number' both map "
            "to 'counterparty_legal_phone_number'",
        ),
        (
            ("sales_order_id",),
            FACT_SPEC,
            FACT,
            "units_sold",
            "the file has no column 'units_sold', which the table needs (NOT NULL)",
        ),
        (
            ("units_sold", "note"),
            FACT_SPEC,
            FACT,
            "sales_order_id",  # NOT NULL and the version key: NOT NULL is said first
            "the file has no column 'sales_order_id', which the table needs (NOT NULL)",
        ),
        (
            ("sales_order_id", "units_sold"),
            table_from_entry("fact_sales_order", {"version_key": ["sales_order_id", "note"]}),
            FACT,
            "note",  # nullable, but the version key
            "the file has no column 'note', which the table needs (key column)",
        ),
        (
            ("name",),
            table_from_entry("dim_x", {}),
            IDENTITY_DIM,
            "id",  # the warehouse could generate it, but a dimension's rows are found by it
            "the file has no column 'id', which the table needs (key column)",
        ),
    ],
    ids=["two for one", "not null", "not null key", "version key", "dimension key"],
)
def test_a_file_whose_columns_cannot_fill_the_table_is_refused_naming_the_column(
    names: tuple[str, ...], spec: TableSpec, table: TableInfo, column_: str, message: str
) -> None:
    refused = file_refusal(names, spec, table)
    assert (refused.table, refused.column) == (table.qualified_name, column_)
    assert str(refused) == f"table {table.qualified_name}, column {column_}: {message}"


def test_a_file_of_only_ignored_columns_names_them_all() -> None:
    refused = file_refusal(("__index_level_0__", "sales_record_id"), FACT_SPEC, FACT)
    assert (refused.table, refused.column) == ("public.fact_sales_order", None)
    assert str(refused) == (
        "table public.fact_sales_order: none of the file's columns ('__index_level_0__', "
        "'sales_record_id') is one loadstar loads: there is nothing to load"
    )
