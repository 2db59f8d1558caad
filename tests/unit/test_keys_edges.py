"""The instant a key carries, at the edges of the forms it may take."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from loadstar.source.keys import instant_from_key


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("-1716561322.25.parquet", utc(2024, 5, 24, 14, 35, 22, 250000)),
        ("-1716561322.5.parquet", utc(2024, 5, 24, 14, 35, 22, 500000)),
        ("-1716561322.000007.parquet", utc(2024, 5, 24, 14, 35, 22, 7)),
    ],
)
def test_epoch_seconds_with_a_fraction_keep_the_fraction(rest: str, expected: datetime) -> None:
    assert instant_from_key(rest) == expected


def test_a_fraction_beyond_microseconds_is_cut_not_rounded() -> None:
    found = instant_from_key("-1716561322.1234567.parquet")
    assert found == utc(2024, 5, 24, 14, 35, 22, 123456)


def test_an_epoch_of_milliseconds_with_a_fraction_is_no_instant_but_a_later_epoch_is() -> None:
    found = instant_from_key("-1716561322123.5-1716561400.parquet")
    assert found == utc(2024, 5, 24, 14, 36, 40)


def test_an_epoch_of_milliseconds_with_a_fraction_alone_is_no_instant() -> None:
    assert instant_from_key("-1716561322123.5.parquet") is None


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("-1716561322123456789.parquet", utc(2024, 5, 24, 14, 35, 22, 123456)),
        ("-1716561322999999999.parquet", utc(2024, 5, 24, 14, 35, 22, 999999)),
        ("-1716561322999.parquet", utc(2024, 5, 24, 14, 35, 22, 999000)),
    ],
)
def test_epoch_digits_beyond_microseconds_are_cut_not_rounded(
    rest: str, expected: datetime
) -> None:
    assert instant_from_key(rest) == expected


def test_an_impossible_date_is_passed_over_for_a_later_real_one() -> None:
    assert instant_from_key("/2024-02-30/2024-05-24.parquet") == utc(2024, 5, 24)


def test_an_impossible_date_after_a_real_one_leaves_the_real_one() -> None:
    assert instant_from_key("/2024-05-24/2024-02-30.parquet") == utc(2024, 5, 24)


def test_an_impossible_date_time_is_passed_over_for_a_later_real_one() -> None:
    key = "/2024-02-30 10:00:00/staff-2024-05-24 14:35:22.parquet"
    assert instant_from_key(key) == utc(2024, 5, 24, 14, 35, 22)


@pytest.mark.parametrize(
    ("rest", "us"),
    [
        ("-2024-05-24T14:35:22.123456789Z.parquet", 123456),
        ("-2024-05-24T14:35:22.1234567.parquet", 123456),
        ("-2024-05-24T14:35:22.12.parquet", 120000),
        ("-2024-05-24T14:35:22,5", 500000),
    ],
)
def test_a_date_times_fraction_is_cut_to_microseconds_not_refused(rest: str, us: int) -> None:
    assert instant_from_key(rest) == utc(2024, 5, 24, 14, 35, 22, us)


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "UTC"])
def test_an_instant_is_in_utc_whatever_the_machines_time_zone(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        found = instant_from_key("staff-2024-05-24T14:35:22+02:00.parquet")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert found is not None
    assert found.isoformat() == "2024-05-24T12:35:22+00:00"
    assert found.tzinfo is UTC
