"""Listing the bucket: which files belong to a table, in what order, over every page."""

from __future__ import annotations

import random

import pytest
from mypy_boto3_s3 import S3Client

from loadstar import get_latest_parquet_file, lambda_handler, read_parquet_from_s3
from loadstar.aws import s3_client
from loadstar.source.claims import KeyRule
from loadstar.source.discovery import table_files
from support import Conn, count, put_table, staff

pytestmark = pytest.mark.usefixtures("env")

KEYS_BY_INSTANT = [
    # (key, the instant's order); deliberately not in string order
    ("fact/sales_order-1716561322.parquet", 1),  # 2024-05-24 14:35:22Z, epoch seconds
    ("fact/sales_order-2024-05-24T15:35:23+01:00.parquet", 2),  # 14:35:23Z
    ("fact/sales_order-20240524T143524.parquet", 3),
    ("fact/sales_order-20240524143525.parquet", 4),
    ("fact/sales_order/2024/05/24/14:35:26.parquet", 5),
    ("fact/sales_order/2024-05-24/143527.parquet", 6),
    ("fact/sales_order-1716561328000.parquet", 7),  # epoch millis
    ("fact/sales_order-2024-05-24 14:35:29.000001.parquet", 8),
    ("fact/sales_order-2024-05-24T10:35:30.5-04:00.parquet", 9),  # 14:35:30.5Z
]


def test_every_key_format_orders_by_instant(s3: S3Client, bucket: str) -> None:
    shuffled = KEYS_BY_INSTANT[:]
    random.Random(3).shuffle(shuffled)
    for key, _ in shuffled:
        s3.put_object(Bucket=bucket, Key=key, Body=b"PAR1")
    files = table_files(s3_client(), bucket, KeyRule(prefix="fact/sales_order"))
    assert [f.key for f in files] == [k for k, _ in KEYS_BY_INSTANT]
    assert all(f.stamped for f in files)
    assert get_latest_parquet_file(bucket, "fact/sales_order") == KEYS_BY_INSTANT[-1][0]


def test_listing_follows_every_page(s3: S3Client, bucket: str) -> None:
    # 1,100 keys: more than one page of 1,000. The newest is not last in string order.
    for n in range(1100):
        s3.put_object(
            Bucket=bucket, Key=f"dimension/staff-{1_700_000_000 + n * 60}.parquet", Body=b""
        )
    s3.put_object(Bucket=bucket, Key="dimension/staff-1800000000000.parquet", Body=b"")  # millis
    files = table_files(s3_client(), bucket, KeyRule(prefix="dimension/staff"))
    assert len(files) == 1101
    assert (
        get_latest_parquet_file(bucket, "dimension/staff")
        == "dimension/staff-1800000000000.parquet"
    )


def test_a_prefix_never_captures_another_tables_files(s3: S3Client, bucket: str) -> None:
    for key in [
        "dimension/payment-2024-05-24 14:35:22.123456.parquet",
        "dimension/payment_type-2024-05-25 14:35:22.123456.parquet",
        "dimension/payment/",
        "dimension/payment-2024-05-26 14:35:22.json",
        "dimension/payment/_SUCCESS",
    ]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    assert get_latest_parquet_file(bucket, "dimension/payment") == (
        "dimension/payment-2024-05-24 14:35:22.123456.parquet"
    )
    assert get_latest_parquet_file(bucket, "dimension/payment_type").startswith(
        "dimension/payment_type-"
    )


def test_no_file_raises_file_not_found_naming_bucket_and_prefix(bucket: str) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        get_latest_parquet_file(bucket, "dimension/staff")
    assert bucket in str(caught.value)
    assert "dimension/staff" in str(caught.value)


def test_a_key_without_a_timestamp_falls_back_to_last_modified(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="dimension/staff-2020-01-01 00:00:00.parquet", Body=b"")
    s3.put_object(Bucket=bucket, Key="dimension/staff.parquet", Body=b"")  # written now
    files = table_files(s3_client(), bucket, KeyRule(prefix="dimension/staff"))
    assert [f.key for f in files] == [
        "dimension/staff-2020-01-01 00:00:00.parquet",
        "dimension/staff.parquet",
    ]
    assert files[1].stamped is False


def test_folder_markers_and_other_objects_do_not_load(s3: S3Client, bucket: str, db: Conn) -> None:
    put_table(s3, bucket, "dimension/staff-2024-05-24 14:35:22.123456.parquet", staff([1]))
    s3.put_object(Bucket=bucket, Key="dimension/staff/", Body=b"")
    s3.put_object(Bucket=bucket, Key="dimension/staff-2024-05-25.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="dimension/staff_history-2024-05-25.parquet", Body=b"junk")
    summary = lambda_handler({}, None)
    assert summary["status"] == "loaded"
    assert summary["tables"]["dim_staff"]["loaded"] == [
        "dimension/staff-2024-05-24 14:35:22.123456.parquet"
    ]
    assert count(db, "dim_staff") == 1


def test_read_parquet_from_s3_returns_the_table(s3: S3Client, bucket: str) -> None:
    table = staff([1, 2, 3])
    put_table(s3, bucket, "dimension/staff.parquet", table)
    assert read_parquet_from_s3(bucket, "dimension/staff.parquet").equals(table)
    with pytest.raises(FileNotFoundError, match=r"dimension/missing\.parquet"):
        read_parquet_from_s3(bucket, "dimension/missing.parquet")
