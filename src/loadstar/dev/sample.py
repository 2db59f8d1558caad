"""A realistic processed bucket for the Terrific Totes star schema.

The files look like those a pandas transform step writes: 64-bit integers,
float prices, dates as ``date32`` or nanosecond timestamps, times as strings
or ``time64``, keys stamped ``dimension/staff-2024-05-24 14:35:22.123456.parquet``.
Later fact files update some earlier sales orders and re-emit some rows
unchanged, as upstream steps do.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from loadstar.config import default_catalogue

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

START = datetime(2024, 5, 24, 14, 35, 22, 123456)

_CATALOGUE = {spec.name: spec for spec in default_catalogue()}
DIMENSION_PREFIX = {name: s.prefix for name, s in _CATALOGUE.items() if s.kind == "dimension"}
FACT_PREFIX = _CATALOGUE["fact_sales_order"].prefix
VERSION_KEY = _CATALOGUE["fact_sales_order"].version_key
RENAMES = _CATALOGUE["dim_counterparty"].rename
"""What the default catalogue renames: real files' names for warehouse columns."""

# The primary keys of the warehouse's DDL, which the sample rows are built around.
DIMENSION_KEYS = {
    "dim_date": "date_id",
    "dim_staff": "staff_id",
    "dim_location": "location_id",
    "dim_currency": "currency_id",
    "dim_design": "design_id",
    "dim_counterparty": "counterparty_id",
}

_FIRST = ["Jeremie", "Deron", "Jeanette", "Ana", "Magdalena", "Korey", "Raphael", "Oswaldo"]
_LAST = ["Franey", "Beier", "Erdman", "Glover", "Zieme", "Kreiger", "Rippin", "Bergnaum"]
_DEPARTMENTS = ["Sales", "Purchasing", "Production", "Dispatch", "Finance", "Facilities"]
_CITIES = [
    ("New Patienceburgh", "United States"),
    ("Aliso Viejo", "San Marino"),
    ("Lake Charles", "Samoa"),
    ("Utica", "Republic of Korea"),
    ("Leeds", "United Kingdom"),
    ("Lyon", "France"),
]
_CURRENCIES = [("GBP", "British Pound"), ("USD", "US Dollar"), ("EUR", "Euro")]


@dataclass(frozen=True)
class SampleFile:
    key: str
    table: str
    data: pa.Table


def stamp(moment: datetime) -> str:
    """The seed team's key timestamp: ``2024-05-24 14:35:22.123456``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def parquet_bytes(table: pa.Table, **options: Any) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=options.pop("compression", "snappy"), **options)
    return sink.getvalue()


def write_files(s3: S3Client, bucket: str, files: list[SampleFile]) -> None:
    for f in files:
        s3.put_object(Bucket=bucket, Key=f.key, Body=parquet_bytes(f.data))


def dimension_files(at: datetime = START, seed: int = 7) -> list[SampleFile]:
    """One snapshot file per dimension, stamped ``at``."""
    rng = random.Random(seed)
    tables = {
        "dim_date": date_table(date(2024, 1, 1), date(2025, 12, 31)),
        "dim_staff": staff_table(range(1, 21), rng),
        "dim_location": location_table(range(1, 31), rng),
        "dim_currency": pa.table(
            {
                "currency_id": pa.array([1, 2, 3], pa.int64()),
                "currency_code": [c for c, _ in _CURRENCIES],
                "currency_name": [n for _, n in _CURRENCIES],
            }
        ),
        "dim_design": pa.table(
            {
                "design_id": pa.array(range(1, 41), pa.int64()),
                "design_name": [f"design-{i}" for i in range(1, 41)],
                "file_location": [f"/usr/designs/{i % 5}" for i in range(1, 41)],
                "file_name": [f"design-{i}.json" for i in range(1, 41)],
            }
        ),
        "dim_counterparty": counterparty_table(range(1, 21), rng),
    }
    return [
        SampleFile(f"{DIMENSION_PREFIX[name]}-{stamp(at)}.parquet", name, table)
        for name, table in tables.items()
    ]


def date_table(first: date, last: date) -> pa.Table:
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return pa.table(
        {
            # pandas' date_range writes nanosecond timestamps, not dates.
            "date_id": pa.array(
                [datetime(d.year, d.month, d.day) for d in days], pa.timestamp("ns")
            ),
            "year": pa.array([d.year for d in days], pa.int64()),
            "month": pa.array([d.month for d in days], pa.int64()),
            "day": pa.array([d.day for d in days], pa.int64()),
            "day_of_week": pa.array([d.isoweekday() for d in days], pa.int64()),
            "day_name": [d.strftime("%A") for d in days],
            "month_name": [d.strftime("%B") for d in days],
            "quarter": pa.array([(d.month - 1) // 3 + 1 for d in days], pa.int64()),
        }
    )


def staff_table(ids: range | list[int], rng: random.Random, suffix: str = "") -> pa.Table:
    ids = list(ids)
    first = [rng.choice(_FIRST) for _ in ids]
    last = [rng.choice(_LAST) for _ in ids]
    return pa.table(
        {
            "staff_id": pa.array(ids, pa.int64()),
            "first_name": first,
            "last_name": last,
            "department_name": [rng.choice(_DEPARTMENTS) + suffix for _ in ids],
            "location": [rng.choice(_CITIES)[0] for _ in ids],
            "email_address": [
                f"{f}.{s}@terrifictotes.com".lower() for f, s in zip(first, last, strict=True)
            ],
        }
    )


def location_table(ids: range, rng: random.Random) -> pa.Table:
    ids_list = list(ids)
    places = [rng.choice(_CITIES) for _ in ids_list]
    return pa.table(
        {
            "location_id": pa.array(ids_list, pa.int64()),
            "address_line_1": [f"{rng.randint(1, 999)} Tote Street" for _ in ids_list],
            "address_line_2": [None if i % 3 else f"Unit {i}" for i in ids_list],
            "district": [None if i % 2 else "Avon" for i in ids_list],
            "city": [c for c, _ in places],
            "postal_code": [f"{rng.randint(10000, 99999)}" for _ in ids_list],
            "country": [country for _, country in places],
            "phone": [f"1803 {rng.randint(100000, 999999)}" for _ in ids_list],
        }
    )


def counterparty_table(ids: range, rng: random.Random) -> pa.Table:
    ids_list = list(ids)
    places = [rng.choice(_CITIES) for _ in ids_list]
    return pa.table(
        {
            "counterparty_id": pa.array(ids_list, pa.int64()),
            "counterparty_legal_name": [f"Counterparty {i} Ltd" for i in ids_list],
            "counterparty_legal_address_line_1": [f"{i} Market Road" for i in ids_list],
            "counterparty_legal_address_line_2": [None] * len(ids_list),
            "counterparty_legal_district": [None if i % 2 else "Kent" for i in ids_list],
            "counterparty_legal_city": [c for c, _ in places],
            "counterparty_legal_postal_code": [f"{rng.randint(10000, 99999)}" for _ in ids_list],
            "counterparty_legal_country": [country for _, country in places],
            # Real processed files drop the "_number" the warehouse column has.
            "counterparty_legal_phone": [
                f"0{rng.randint(1000000000, 1999999999)}" for _ in ids_list
            ],
        }
    )


def sales_order_rows(
    order_ids: range | list[int], rng: random.Random, updated: datetime
) -> list[dict[str, Any]]:
    rows = []
    for order_id in order_ids:
        created = updated - timedelta(minutes=rng.randint(0, 60 * 24 * 30))
        rows.append(
            {
                "sales_order_id": order_id,
                "created_date": created.date(),
                "created_time": created.time().isoformat(timespec="microseconds"),
                "last_updated_date": updated.date(),
                "last_updated_time": updated.time(),
                "sales_staff_id": rng.randint(1, 20),
                "counterparty_id": rng.randint(1, 20),
                "units_sold": rng.randint(1000, 100000),
                "unit_price": round(rng.uniform(2, 4), 2),
                "currency_id": rng.randint(1, 3),
                "design_id": rng.randint(1, 40),
                "agreed_payment_date": (updated + timedelta(days=rng.randint(1, 30))).date(),
                "agreed_delivery_date": (updated + timedelta(days=rng.randint(1, 30))).date(),
                "agreed_delivery_location_id": rng.randint(1, 30),
            }
        )
    return rows


SALES_ORDER_SCHEMA = pa.schema(
    [  # type: ignore[arg-type]  # the stubs miss tuples of (name, DataType subclass)
        ("sales_order_id", pa.int64()),
        ("created_date", pa.date32()),
        ("created_time", pa.string()),
        ("last_updated_date", pa.date32()),
        ("last_updated_time", pa.time64("us")),
        ("sales_staff_id", pa.int64()),
        ("counterparty_id", pa.int64()),
        ("units_sold", pa.int64()),
        ("unit_price", pa.float64()),
        ("currency_id", pa.int64()),
        ("design_id", pa.int64()),
        ("agreed_payment_date", pa.date32()),
        ("agreed_delivery_date", pa.date32()),
        ("agreed_delivery_location_id", pa.int64()),
    ]
)


def sales_order_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SALES_ORDER_SCHEMA)


def fact_files(
    count: int = 4,
    orders_per_file: int = 50,
    *,
    at: datetime = START,
    seed: int = 11,
) -> list[SampleFile]:
    """``count`` hourly sales-order files: new orders, updates of earlier ones, re-emitted rows."""
    rng = random.Random(seed)
    files: list[SampleFile] = []
    emitted: list[dict[str, Any]] = []
    next_id = 1
    for n in range(count):
        moment = at + timedelta(hours=n, seconds=rng.randint(0, 59))
        rows = sales_order_rows(range(next_id, next_id + orders_per_file), rng, moment)
        next_id += orders_per_file
        if emitted:
            latest = {r["sales_order_id"]: r for r in emitted}
            for old in rng.sample(
                sorted(latest.values(), key=lambda r: r["sales_order_id"]),
                max(1, len(latest) // 10),
            ):
                changed = dict(old)
                changed["last_updated_date"] = moment.date()
                changed["last_updated_time"] = (moment + timedelta(microseconds=n)).time()
                changed["units_sold"] = old["units_sold"] + rng.randint(1, 500)
                rows.append(changed)
            rows.extend(rng.sample(emitted, max(1, len(emitted) // 20)))
        rows.append(dict(rows[0]))  # the same version twice in one file
        emitted.extend(rows)
        files.append(
            SampleFile(
                f"{FACT_PREFIX}-{stamp(moment)}.parquet",
                "fact_sales_order",
                sales_order_table(rows),
            )
        )
    return files


def staff_update_file(at: datetime, seed: int = 5) -> SampleFile:
    """Changed rows only: two staff members move department, one joins."""
    rng = random.Random(seed)
    table = staff_table([3, 7, 21], rng, suffix=" (moved)")
    return SampleFile(f"{DIMENSION_PREFIX['dim_staff']}-{stamp(at)}.parquet", "dim_staff", table)


def terrific_totes(fact_file_count: int = 4, orders_per_file: int = 50) -> list[SampleFile]:
    """A whole processed bucket: dimensions, a later staff update, several fact files."""
    return [
        *dimension_files(START),
        staff_update_file(START + timedelta(days=1)),
        *fact_files(fact_file_count, orders_per_file, at=START + timedelta(minutes=5)),
    ]


def time_of(value: object) -> time:
    """A sample time value (string or `time`) as a `time`."""
    return value if isinstance(value, time) else time.fromisoformat(str(value))
