"""Benchmark data: sales-order facts and dimensions as a pandas transform writes them.

Integers are int64, prices float64 with two decimals, dates ``date32`` (and the
agreed dates strings, as they come from the source database), times
``time64[us]``; files are snappy Parquet with pyarrow's default row groups.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from loadstar.dev.sample import counterparty_table, date_table, location_table, staff_table

FIRST_DAY = dt.date(2022, 1, 1)
DAYS = 3 * 365
STAFF, COUNTERPARTIES, CURRENCIES, DESIGNS, LOCATIONS = 20, 20, 3, 300, 30


def fact_table(rows: int, *, first_id: int = 1, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    epoch = np.datetime64(FIRST_DAY, "D")
    created = rng.integers(0, DAYS - 60, rows)
    updated = created + rng.integers(0, 30, rows)
    agreed = updated + rng.integers(1, 30, rows)
    micros_per_day = 86_400_000_000

    def dates(offsets: np.ndarray[Any, Any]) -> pa.Array[Any]:
        return pa.array((epoch + offsets).astype("datetime64[D]"), pa.date32())

    def times() -> pa.Array[Any]:
        return pa.array(rng.integers(0, micros_per_day, rows), pa.int64()).cast(pa.time64("us"))

    def ids(high: int) -> pa.Array[Any]:
        return pa.array(rng.integers(1, high + 1, rows), pa.int64())

    return pa.table(
        {
            "sales_order_id": pa.array(np.arange(first_id, first_id + rows), pa.int64()),
            "created_date": dates(created),
            "created_time": times(),
            "last_updated_date": dates(updated),
            "last_updated_time": times(),
            "sales_staff_id": ids(STAFF),
            "counterparty_id": ids(COUNTERPARTIES),
            "units_sold": pa.array(rng.integers(1000, 100_000, rows), pa.int64()),
            "unit_price": pa.array(np.round(rng.uniform(2, 4, rows), 2), pa.float64()),
            "currency_id": ids(CURRENCIES),
            "design_id": ids(DESIGNS),
            "agreed_payment_date": dates(agreed).cast(pa.string()),
            "agreed_delivery_date": dates(agreed + 3).cast(pa.string()),
            "agreed_delivery_location_id": ids(LOCATIONS),
        }
    )


def real_shape_parquet(rows: int, *, first_id: int = 1, seed: int = 1) -> bytes:
    """The same rows as a pandas transform really writes them: ``DataFrame.to_parquet``
    in one row group, with pandas metadata, the times as strings like
    ``"14:20:49.962000"``, prices float64, ids int64, dates ``date32``."""

    table = fact_table(rows, first_id=first_id, seed=seed)
    frame = table.to_pandas(date_as_object=False)
    for name in ("created_date", "last_updated_date"):
        frame[name] = frame[name].dt.date  # datetime.date objects: pyarrow writes date32
    for name in ("created_time", "last_updated_time"):
        frame[name] = table.column(name).cast(pa.string()).to_pandas()
        # milliseconds as the source database keeps them, in microsecond form
        frame[name] = frame[name].str.slice(0, 12).str.ljust(15, "0")
    # Text as pandas 2's object columns write it (``string``; pandas 3 would say
    # ``large_string``), the shape of the files met in the field.
    inferred = pa.Schema.from_pandas(frame, preserve_index=False)
    schema = pa.schema(
        [(f.name, pa.string() if pa.types.is_large_string(f.type) else f.type) for f in inferred],
        metadata={k: v for k, v in (inferred.metadata or {}).items()},
    )
    sink = io.BytesIO()
    frame.to_parquet(
        sink,
        engine="pyarrow",
        compression="snappy",
        row_group_size=rows,
        index=False,
        schema=schema,
    )
    return sink.getvalue()


def dimension_tables() -> dict[str, pa.Table]:
    import random

    rng = random.Random(3)
    last = FIRST_DAY + dt.timedelta(days=DAYS + 60)
    return {
        "dim_date": date_table(FIRST_DAY, last),
        "dim_staff": staff_table(range(1, STAFF + 1), rng),
        "dim_location": location_table(range(1, LOCATIONS + 1), rng),
        "dim_currency": pa.table(
            {
                "currency_id": pa.array([1, 2, 3], pa.int64()),
                "currency_code": ["GBP", "USD", "EUR"],
                "currency_name": ["British Pound", "US Dollar", "Euro"],
            }
        ),
        "dim_design": pa.table(
            {
                "design_id": pa.array(range(1, DESIGNS + 1), pa.int64()),
                "design_name": [f"design-{i}" for i in range(1, DESIGNS + 1)],
                "file_location": ["/usr/designs"] * DESIGNS,
                "file_name": [f"design-{i}.json" for i in range(1, DESIGNS + 1)],
            }
        ),
        "dim_counterparty": counterparty_table(range(1, COUNTERPARTIES + 1), rng),
    }


def counterparties(rows: int, *, changed_every: int = 0, seed: int = 5) -> pa.Table:
    """A large counterparty dimension; with ``changed_every`` n, every n-th row differs."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, rows + 1)
    city = np.array(["Leeds", "Lyon", "Utica", "Samoa"])[rng.integers(0, 4, rows)].astype(object)
    if changed_every:
        city[::changed_every] = "Moved"
    return pa.table(
        {
            "counterparty_id": pa.array(ids, pa.int64()),
            "counterparty_legal_name": [f"Counterparty {i} Ltd" for i in ids],
            "counterparty_legal_address_line_1": [f"{i} Market Road" for i in ids],
            "counterparty_legal_address_line_2": pa.nulls(rows, pa.string()),
            "counterparty_legal_district": pa.nulls(rows, pa.string()),
            "counterparty_legal_city": pa.array(city, pa.string()),
            "counterparty_legal_postal_code": [f"{10000 + i % 90000}" for i in ids],
            "counterparty_legal_country": ["United Kingdom"] * rows,
            "counterparty_legal_phone": [f"0{1000000000 + i}" for i in ids],
        }
    )


def parquet(table: pa.Table, row_group_rows: int | None = None) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy", row_group_size=row_group_rows)
    return sink.getvalue()
