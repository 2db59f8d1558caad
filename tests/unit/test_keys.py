"""Which keys belong to a table, and the instant each key carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from loadstar.config import table_from_entry
from loadstar.source.claims import KeyRule
from loadstar.source.keys import instant_from_key

FORMS = [
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y%m%dT%H%M%S",
    "%Y%m%d%H%M%S",
    "%Y/%m/%d/%H:%M:%S",
    "%Y-%m-%d",
]
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1))


def utc(year: int, month: int, day: int, *rest: int) -> datetime:
    hour, minute, second, micro = (*rest, 0, 0, 0, 0)[:4]
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("-2024-05-24 14:35:22.123456.parquet", utc(2024, 5, 24, 14, 35, 22, 123456)),
        ("-2024-05-24 14:35:22.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("-2024-05-24T14:35:22.123Z.parquet", utc(2024, 5, 24, 14, 35, 22, 123000)),
        ("-2024-05-24T14:35:22Z.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("-2024-05-24T14:35:22+02:00.parquet", utc(2024, 5, 24, 12, 35, 22)),
        ("-2024-05-24T14:35:22-01:30.parquet", utc(2024, 5, 24, 16, 5, 22)),
        # a zone is read only as Z or ±hh:mm: what else follows is not part of it
        ("-2024-05-24T14:35:22-0130.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("s-20240524T143522-1200.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("s-20240524T143522+0100.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("s-2024-05-24 14:35:22-part0.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("s-2024-05-24T14:35:22-12:00.parquet", utc(2024, 5, 25, 2, 35, 22)),
        ("-2024-05-24T14:35:22.5+05:30.parquet", utc(2024, 5, 24, 9, 5, 22, 500000)),
        ("-20240524T143522.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("-20240524T143522Z.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("-20240524143522.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("/2024/05/24/14:35:22.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("/2024/05/24/14:35:22.250.parquet", utc(2024, 5, 24, 14, 35, 22, 250000)),
        ("/2024-05-24/143522.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("/2024-05-24/14-35-22.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("-1716561322.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("-1716561322123.parquet", utc(2024, 5, 24, 14, 35, 22, 123000)),
        ("-1716561322123456.parquet", utc(2024, 5, 24, 14, 35, 22, 123456)),
        ("_1716561322.parquet", utc(2024, 5, 24, 14, 35, 22)),
        ("/2025/06/09/dim_staff-20250609T105450Z.parquet", utc(2025, 6, 9, 10, 54, 50)),
        ("/2024/05/24/part-0.parquet", utc(2024, 5, 24)),
        ("-2024-05-24.parquet", utc(2024, 5, 24)),
        (".parquet", None),
        ("-1.parquet", None),
    ],
)
def test_instant_from_key(rest: str, expected: datetime | None) -> None:
    assert instant_from_key(rest) == expected


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        # a timestamped folder and a timestamped file name: the file name's wins
        ("/2024-05-25 00:00:00/s-2024-05-24 10:00:00.parquet", utc(2024, 5, 24, 10)),
        ("/2024-05-23 00:00:00/s-2024-05-24 10:00:00.parquet", utc(2024, 5, 24, 10)),
        ("/20240530T000000Z/s-20240524T100000Z.parquet", utc(2024, 5, 24, 10)),
        ("/2024-05-30T00:00:00+02:00/s-2024-05-24T10:00:00Z.parquet", utc(2024, 5, 24, 10)),
        ("/run=2024-05-30 08:00:00/2024/05/24/10:00:00.parquet", utc(2024, 5, 24, 10)),
        # a full date-time wins over an epoch number and a bare date wherever they stand
        ("/1716561322/s-2024-05-20 10:00:00.parquet", utc(2024, 5, 20, 10)),
        ("/s-2024-05-20 10:00:00/2024-06-01.parquet", utc(2024, 5, 20, 10)),
    ],
)
def test_of_two_date_times_in_a_key_the_last_wins(rest: str, expected: datetime) -> None:
    assert instant_from_key(rest) == expected


def test_seconds_and_millis_are_told_apart() -> None:
    seconds = instant_from_key("-1716561322.parquet")
    millis = instant_from_key("-1716561322000.parquet")
    assert seconds == millis == utc(2024, 5, 24, 14, 35, 22)


def test_invalid_calendar_values_are_not_timestamps() -> None:
    assert instant_from_key("-2024-13-45 25:61:61.parquet") is None


def test_time_zones_order_by_instant_not_by_text() -> None:
    # 10:00 in New York is after 14:30 in London on the same day.
    london = instant_from_key("-2024-05-24T14:30:00+01:00.parquet")
    new_york = instant_from_key("-2024-05-24T10:00:00-04:00.parquet")
    assert london is not None
    assert new_york is not None
    assert new_york > london
    assert new_york - london == timedelta(minutes=30)


def test_naive_timestamps_are_utc() -> None:
    found = instant_from_key("-2024-05-24 14:35:22.parquet")
    assert found == datetime(2024, 5, 24, 15, 35, 22, tzinfo=timezone(timedelta(hours=1)))


@pytest.mark.parametrize(
    ("prefix", "key", "belongs"),
    [
        ("dimension/staff", "dimension/staff-2024-05-24 14:35:22.123456.parquet", True),
        ("dimension/staff", "dimension/staff.parquet", True),
        ("dimension/staff", "dimension/staff/2024/05/24/14:35:22.parquet", True),
        ("dimension/staff", "dimension/staff_2024-05-24.parquet", True),
        ("dimension/staff", "dimension/staff.2024-05-24.parquet", True),
        ("dimension/staff", "dimension/staff2024-05-24.parquet", True),
        ("dimension/payment", "dimension/payment_type-2024-05-24 14:35:22.parquet", False),
        ("dimension/payment", "dimension/payments-2024.parquet", False),
        ("dimension/staff", "dimension/staff--2024-05-24.parquet", False),
        ("dimension/staff", "dimension/staff/", False),
        ("dimension/staff", "dimension/staff-2024-05-24.json", False),
        ("dimension/staff", "dimension/staff-2024-05-24.parquet.tmp", False),
        ("dimension/staff", "dimension/_SUCCESS", False),
        ("dimension/staff", "other/staff-2024-05-24.parquet", False),
        ("dim_staff/", "dim_staff/2025/06/09/dim_staff-20250609T105450Z.parquet", True),
        ("dim_staff/", "dim_staff/.parquet", True),
        ("dim_staff/", "dim_staff/notes/x-2025.parquet", False),
        ("dim_staff/", "dim_staff/dim_staff.parquet", True),
        ("dim_staff/", "dim_staff/dim_staff-20250609T105450Z.parquet", True),
        ("dim_staff/", "dim_staff/2025-06-09/part-00000.parquet", True),
        ("dim_staff/", "dim_staff/1716561322.parquet", True),
        ("dim_staff/", "dim_staff/", False),
        ("dim_staff/", "dim_staff/dim_staff-20250609T105450Z.json", False),
        ("dimension/staff", "dimension/staff-2024-05-24.PARQUET", True),
        # what follows the separator must be a timestamp, not just a digit
        ("dimension/level", "dimension/level2-2024-05-24 14:35:22.parquet", False),
        ("dimension/level2", "dimension/level2-2024-05-24 14:35:22.parquet", True),
        ("dimension/level", "dimension/level2_1716561322.parquet", False),
        ("dimension/level", "dimension/level-2nd-copy-2024-05-24.parquet", False),
        ("dimension/staff", "dimension/staff-1716561322.parquet", True),
        ("dimension/staff", "dimension/staff-12.parquet", False),
    ],
)
def test_which_keys_belong_to_a_table(prefix: str, key: str, belongs: bool) -> None:
    assert (KeyRule(prefix=prefix).claim(key) is not None) is belongs


def test_non_ascii_digits_do_not_start_a_timestamp() -> None:
    assert KeyRule(prefix="dimension/staff").claim("dimension/staff-\u0663.parquet") is None


names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@given(first=names, second=names, stamp=st.sampled_from(FORMS), moment=moments)
def test_prefixes_derived_from_two_table_names_never_claim_one_key(
    first: str, second: str, stamp: str, moment: datetime
) -> None:
    """The default prefixes (``dimension/<name>``) of two tables never both claim a key."""
    assume(first != second)
    prefixes = [table_from_entry(f"dim_{n}", {}).prefix for n in (first, second)]
    for owner in prefixes:
        key = f"{owner}-{moment.strftime(stamp)}.parquet"
        claims = [p for p in prefixes if KeyRule(prefix=p).claim(key) is not None]
        assert claims == [owner], key
