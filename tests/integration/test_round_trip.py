"""Through COPY and back: what goes in comes out, to the last digit, or nothing goes in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loadstar.warehouse.copy as copy_module
from loadstar import BadFileError, load_to_warehouse
from support import Conn

pytestmark = pytest.mark.usefixtures("env")

TABLE = """
    CREATE TABLE IF NOT EXISTS dim_round_trip (
        id integer PRIMARY KEY, price numeric(10, 2), moment time, day date, label varchar(12)
    )
"""
rows = st.lists(
    st.tuples(
        st.decimals(
            min_value=Decimal("-99999999.99"),
            max_value=Decimal("99999999.99"),
            places=2,
            allow_nan=False,
            allow_infinity=False,
        ),
        st.times(),
        st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
        st.text(max_size=12).filter(lambda s: "\x00" not in s),
    ),
    min_size=1,
    max_size=30,
)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "csv"])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=rows)
def test_values_round_trip_through_copy(
    data: list[tuple[Decimal, dt.time, dt.date, str]],
    binary: bool,
    db: Conn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not binary:
        monkeypatch.setattr(copy_module, "_pgpq", None)
    db.execute(TABLE)
    db.execute("TRUNCATE dim_round_trip")
    table = pa.table(
        {
            "id": pa.array(range(len(data)), pa.int64()),
            "price": pa.array([float(p) for p, _, _, _ in data], pa.float64()),
            "moment": [m.isoformat() for _, m, _, _ in data],
            "day": pa.array([d for _, _, d, _ in data], pa.date32()),
            "label": pa.array([label for _, _, _, label in data], pa.large_string()),
        }
    )
    load_to_warehouse(table, "dim_round_trip")
    stored = db.execute(
        "SELECT price, moment, day, label FROM dim_round_trip ORDER BY id"
    ).fetchall()
    assert stored == [tuple(row) for row in data]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(min_size=13, max_size=40).filter(lambda s: "\x00" not in s))
def test_too_long_text_fails_and_leaves_nothing(text: str, db: Conn) -> None:
    db.execute(TABLE)
    db.execute("TRUNCATE dim_round_trip")
    with pytest.raises(BadFileError, match="longer than"):
        load_to_warehouse(
            pa.table({"id": pa.array([1], pa.int64()), "label": [text]}), "dim_round_trip"
        )
    assert db.execute("SELECT count(*) FROM dim_round_trip").fetchone() == (0,)
