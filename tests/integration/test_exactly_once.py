"""Exactly once: the ledger commits with the rows; tags are only a visible mark."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import pytest
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import TagTypeDef

from loadstar import lambda_handler
from loadstar.cli import EXIT_FAILED, main
from loadstar.dev.local import LocalServices
from loadstar.dev.sample import dimension_files, fact_files, terrific_totes
from loadstar.source.s3 import LOADED_TAG
from support import (
    Conn,
    count,
    department,
    expected_facts,
    ledger,
    put_files,
    put_table,
    staff,
    warehouse_facts,
)

pytestmark = pytest.mark.usefixtures("env")


def test_ledger_rows_agree_with_the_warehouse(s3: S3Client, bucket: str, db: Conn) -> None:
    files = terrific_totes(3, 30)
    put_files(s3, bucket, files)
    lambda_handler({}, None)
    rows = ledger(db)
    assert set(rows) == {f.key for f in files}
    assert {r["status"] for r in rows.values()} == {"loaded"}
    fact_rows = sum(
        r["rows_written"] for r in rows.values() if r["table_name"] == "fact_sales_order"
    )
    assert fact_rows == count(db, "fact_sales_order")
    for f in files:
        head = s3.head_object(Bucket=bucket, Key=f.key)
        assert rows[f.key]["etag"] == head["ETag"].strip('"')
        assert rows[f.key]["size_bytes"] == head["ContentLength"]
        assert rows[f.key]["rows_in_file"] == f.data.num_rows


def test_loaded_files_are_tagged_keeping_their_other_tags(s3: S3Client, bucket: str) -> None:
    key = "dimension/staff-2024-05-24 14:35:22.123456.parquet"
    put_table(s3, bucket, key, staff([1]))
    s3.put_object_tagging(
        Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": "owner", "Value": "transform"}]}
    )
    lambda_handler({}, None)
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}
    assert tags["owner"] == "transform"
    assert LOADED_TAG in tags


@pytest.mark.parametrize("own_tags", [9, 10])
def test_a_users_tags_are_never_dropped_for_the_loaded_mark(
    own_tags: int, s3: S3Client, bucket: str, db: Conn, log_lines: Any
) -> None:
    key = "dimension/staff-2024-05-24 14:35:22.123456.parquet"
    put_table(s3, bucket, key, staff([1]))
    mine: list[TagTypeDef] = [{"Key": f"team-{i}", "Value": str(i)} for i in range(own_tags)]
    s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": mine})
    assert lambda_handler({}, None)["files_loaded"] == 1
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}
    assert {k: v for k, v in tags.items() if k != LOADED_TAG} == {
        t["Key"]: t["Value"] for t in mine
    }
    # with room for it the mark is set; on a full object it is skipped, and said so
    assert (LOADED_TAG in tags) == (own_tags < 10)
    assert bool(log_lines.events("tag_skipped")) == (own_tags == 10)
    assert ledger(db)[key]["status"] == "loaded"  # the ledger is the truth either way


def test_deleting_every_tag_loads_nothing_again(s3: S3Client, bucket: str, db: Conn) -> None:
    files = terrific_totes(2, 20)
    put_files(s3, bucket, files)
    lambda_handler({}, None)
    for f in files:
        s3.delete_object_tagging(Bucket=bucket, Key=f.key)
    summary = lambda_handler({}, None)
    assert summary["files_loaded"] == 0
    assert warehouse_facts(db) == expected_facts(files)


def test_a_brand_new_empty_warehouse_reloads_everything(
    s3: S3Client, bucket: str, db: Conn, stack: LocalServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = terrific_totes(2, 20)
    put_files(s3, bucket, files)
    lambda_handler({}, None)
    fresh = stack.create_database("fresh_" + bucket.replace("-", "_"), template="loadstar_template")
    monkeypatch.setenv("LOADSTAR_DATABASE_URL", fresh)
    summary = lambda_handler({}, None)
    assert summary["files_loaded"] == len(files)
    import psycopg

    with psycopg.connect(fresh) as conn:
        assert warehouse_facts(conn) == warehouse_facts(db) == expected_facts(files)


@pytest.fixture
def full_listings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every sweep lists in full: a loaded key rewritten in place sorts below the
    watermark, and only a full listing (or its own event) sees it again."""
    monkeypatch.setenv("LOADSTAR_FULL_LISTING_INTERVAL_SECONDS", "0")


@pytest.mark.usefixtures("full_listings")
def test_a_key_whose_etag_changed_after_loading_is_reported(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    key = "dimension/staff-2024-05-24 14:35:22.123456.parquet"
    first_etag = put_table(s3, bucket, key, staff([1, 2]))
    lambda_handler({}, None)
    new_etag = put_table(s3, bucket, key, staff([1, 2, 3], department="Rewritten"))
    summary = lambda_handler({}, None)
    skipped = summary["tables"]["dim_staff"]["skipped"]
    assert [s["key"] for s in skipped] == [key]
    assert first_etag in skipped[0]["reason"]
    assert new_etag in skipped[0]["reason"]
    assert count(db, "dim_staff") == 2
    assert ledger(db)[key]["etag"] == first_etag


@pytest.mark.usefixtures("full_listings")
@pytest.mark.parametrize("table", ["dim_staff", "fact_sales_order"])
def test_a_file_changed_after_loading_needs_attention_until_it_is_replayed(
    table: str,
    s3: S3Client,
    bucket: str,
    db: Conn,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = [*dimension_files(), *fact_files(1, 20)]
    put_files(s3, bucket, files)
    lambda_handler({}, None)
    changed = next(f for f in files if f.table == table)
    put_table(s3, bucket, changed.key, changed.data.slice(0, 5))
    capsys.readouterr()
    for _ in range(2):  # reported on every full listing until someone decides
        summary = lambda_handler({}, None)
        assert summary["status"] == "loaded"  # nothing failed: no Lambda error, no retries
        [item] = summary["needs_attention"]
        assert (item["table"], item["key"]) == (table, changed.key)
        assert "changed after it was loaded" in item["reason"]
        assert item["command"] == f"loadstar replay '{changed.key}'"
        metrics = [
            json.loads(line)
            for line in capsys.readouterr().out.splitlines()
            if '"_aws"' in line and '"Table"' not in line
        ]
        assert metrics[0]["FilesNeedingAttention"] == 1
    assert main(["run"]) == EXIT_FAILED
    assert "to resolve: loadstar replay" in capsys.readouterr().out
    assert main(["replay", changed.key]) == 0
    assert lambda_handler({}, None)["needs_attention"] == []


def test_an_older_dimension_file_arriving_late_adds_its_keys_and_changes_no_newer_value(
    s3: S3Client, bucket: str, db: Conn
) -> None:
    put_table(
        s3, bucket, "dimension/staff-2024-05-25 00:00:00.parquet", staff([1], department="new")
    )
    lambda_handler({}, None)
    late = "dimension/staff-2024-05-24 00:00:00.parquet"
    put_table(s3, bucket, late, staff([1, 2], department="old"))
    summary = lambda_handler({"Records": [s3_record(bucket, late)]}, None)
    assert summary["files_loaded"] == 1
    assert summary["needs_attention"] == []
    assert ledger(db)[late]["status"] == "loaded"
    assert department(db, 1) == "new"
    assert department(db, 2) == "old"
    # loading it again changes nothing either
    assert main(["replay", late]) == 0
    assert (department(db, 1), department(db, 2)) == ("new", "old")


def s3_record(bucket: str, key: str) -> dict[str, object]:
    return {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key)}},
    }
