"""Which keys a table claims, at the edges: the claim's instant, what to list, and why not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loadstar.config import table_from_entry
from loadstar.source.claims import Claim, KeyRule, looks_like_data


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rule", "key", "instant"),
    [
        (KeyRule(prefix="dimension/staff"), "dimension/staff.parquet", None),
        (KeyRule(prefix="dimension/staff"), "dimension/staff.PARQUET", None),
        (
            KeyRule(prefix="dimension/staff"),
            "dimension/staff-2024-05-24 14:35:22.parquet",
            at(2024, 5, 24, 14, 35, 22),
        ),
        (KeyRule(prefix="dimension/staff"), "dimension/staff2024-05-24.parquet", at(2024, 5, 24)),
        (KeyRule(prefix="dim_staff/"), "dim_staff/dim_staff.parquet", None),
        (
            KeyRule(prefix="dim_staff/"),
            "dim_staff/2025/06/09/part-0.parquet",
            at(2025, 6, 9),
        ),
        # the suffix is cut before the timestamp is read: here it holds an epoch number
        (
            KeyRule(prefix="exports/", suffix="-1716561322.bin"),
            "exports/2024-05-24-1716561322.bin",
            at(2024, 5, 24),
        ),
        (
            KeyRule(prefix="exports/staff", suffix="-1716561322.bin"),
            "exports/staff-2024-05-24-1716561322.bin",
            at(2024, 5, 24),
        ),
        (KeyRule(prefix="exports/staff", suffix=".bin"), "exports/staff.bin", None),
        (
            KeyRule(pattern="exports/*/staff-{timestamp}.parquet"),
            "exports/eu/staff-2024-05-24 10:00:00.parquet",
            at(2024, 5, 24, 10),
        ),
        (KeyRule(pattern="{timestamp}/staff.parquet"), "2024/05/24/staff.parquet", at(2024, 5, 24)),
        (KeyRule(pattern="exports/*/staff.parquet"), "exports/eu/staff.parquet", None),
        (KeyRule(pattern="exports/*.parquet"), "exports/.parquet", None),
    ],
)
def test_a_claim_holds_its_key_and_the_instant_it_carries(
    rule: KeyRule, key: str, instant: datetime | None
) -> None:
    assert rule.claim(key) == Claim(key, instant)


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        # a key under another prefix of the same length is not read past the prefix
        (KeyRule(prefix="dim/a"), "fac/b-2024-05-24.parquet"),
        (KeyRule(prefix="exports/staff", suffix=".bin"), "exports/staff-2024-05-24.parquet"),
        (KeyRule(pattern="exports/*/staff.parquet"), "exports/eu/west/staff.parquet"),
        (KeyRule(pattern="exports/*/staff.parquet"), "exports/eu/staff.parquet.tmp"),
        (KeyRule(pattern="exports/*/staff.parquet"), "exports/eu/staffXparquet"),
        (KeyRule(pattern="{timestamp}/staff.parquet"), "latest/staff.parquet"),
        (KeyRule(pattern="staff-{timestamp}.parquet"), "staff-12.parquet"),
        # a timestamp must be the whole of what {timestamp} stands for, and a real instant
        (KeyRule(pattern="{timestamp}/staff.parquet"), "v2024-05-24/staff.parquet"),
        (KeyRule(pattern="{timestamp}/staff.parquet"), "2024-02-30/staff.parquet"),
    ],
)
def test_keys_a_rule_does_not_claim(rule: KeyRule, key: str) -> None:
    assert rule.claim(key) is None


@pytest.mark.parametrize(
    ("rule", "listed"),
    [
        (KeyRule(prefix="dimension/staff"), "dimension/staff"),
        (KeyRule(prefix="dim_staff/"), "dim_staff/"),
        (KeyRule(), ""),
        (KeyRule(pattern="exports/*/staff-{timestamp}.parquet"), "exports/"),
        (KeyRule(pattern="exports/staff-{timestamp}/*.parquet"), "exports/staff-"),
        (KeyRule(pattern="{timestamp}/staff.parquet"), ""),
        (KeyRule(pattern="exports/staff.parquet"), "exports/staff.parquet"),
    ],
)
def test_a_rule_lists_from_its_prefix_or_its_patterns_text_before_any_wildcard(
    rule: KeyRule, listed: str
) -> None:
    assert rule.listing_prefix == listed


def test_a_rule_describes_itself_as_the_catalogue_would_say_it() -> None:
    assert KeyRule(prefix="dimension/staff").describe == "prefix 'dimension/staff'"
    assert KeyRule(prefix="exports/", suffix=".bin").describe == "prefix 'exports/', suffix '.bin'"
    assert (
        KeyRule(pattern="{timestamp}/staff.parquet", suffix=".bin").describe
        == "pattern '{timestamp}/staff.parquet'"
    )


def test_a_rule_is_the_one_its_catalogue_entry_gives() -> None:
    spec = table_from_entry("dim_staff", {"prefix": "exports/staff", "suffix": ".bin"})
    assert KeyRule.of(spec) == KeyRule(prefix="exports/staff", suffix=".bin")
    spec = table_from_entry("dim_staff", {"pattern": "exports/*/staff-{timestamp}.parquet"})
    assert KeyRule.of(spec).claim("exports/eu/staff-2024-05-24.parquet") == Claim(
        "exports/eu/staff-2024-05-24.parquet", at(2024, 5, 24)
    )


@pytest.mark.parametrize(
    ("rule", "key", "reason"),
    [
        (
            KeyRule(pattern="exports/*/staff.parquet"),
            "exports/eu/west/staff.parquet",
            "does not match the pattern 'exports/*/staff.parquet'",
        ),
        (
            KeyRule(prefix="dimension/staff"),
            "dimension/staff-2024-05-24.json",
            "does not end in '.parquet' (set the table's suffix if its files have another)",
        ),
        (
            KeyRule(prefix="exports/", suffix=".bin"),
            "exports/2024-05-24.parquet",
            "does not end in '.bin' (set the table's suffix if its files have another)",
        ),
        (
            KeyRule(prefix="dim_staff/"),
            "dim_staff/notes/readme.parquet",
            "no timestamp in 'notes/readme.parquet' below the folder",
        ),
        (
            KeyRule(prefix="dimension/staff"),
            "dimension/staff/notes.parquet",
            "no timestamp follows 'dimension/staff'",
        ),
        (KeyRule(), "notes.parquet", "no timestamp follows ''"),
        (KeyRule(prefix=""), "notes.parquet", "no timestamp follows ''"),
        (
            KeyRule(prefix="a/b/dim_staff"),
            "a/b/dim_staffing/x.parquet",
            "what follows 'a/b/dim_staff' ('ing/x.parquet') does not begin with a timestamp; "
            "if this is the table's folder, write the prefix as 'a/b/'",
        ),
        (
            KeyRule(prefix="dimension/staff"),
            "dimension/staff-copy.parquet",
            "what follows 'dimension/staff' ('-copy.parquet') does not begin with a timestamp",
        ),
    ],
)
def test_why_a_key_under_the_listing_is_not_one_of_the_tables_files(
    rule: KeyRule, key: str, reason: str
) -> None:
    assert rule.why_not(key) == reason


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("dimension/staff-2024.parquet", True),
        ("dimension/staff-2024.PARQUET", True),
        ("dimension/staff", True),
        ("dimension/staff-2024-05-24 14:35:22.123456", True),
        ("dimension/x.v2/staff", True),
        ("dimension/staff.json", False),
        ("dimension.parquet/staff.json", False),
        ("dimension/staff.parquet.tmp", False),
        ("dimension/_SUCCESS", False),
        ("dimension/.staff.parquet.crc", False),
        ("dimension/", False),
        ("dimension/staff/", False),
        ("dimension/staff/_SUCCESS", False),
        ("dimension/.2024-05-24.parquet", False),
        ("dimension/staff.JSON", False),
        ("_SUCCESS", False),
        ("staff.csv", False),
    ],
)
def test_what_looks_like_a_data_file(key: str, data: bool) -> None:
    assert looks_like_data(key) is data


@pytest.mark.parametrize("rule", [KeyRule(), KeyRule(prefix="")])
def test_a_rule_with_no_prefix_claims_timestamped_keys_from_the_bucket_root(
    rule: KeyRule,
) -> None:
    assert rule.claim("2024-05-24 14:35:22.parquet") == Claim(
        "2024-05-24 14:35:22.parquet", at(2024, 5, 24, 14, 35, 22)
    )
    assert rule.claim("staff-2024-05-24 14:35:22.parquet") is None
