"""Continuous loading: S3 event notifications through SQS, directly and through
EventBridge, overlapping invocations, and sweeps that list from a watermark."""

from __future__ import annotations

import hashlib
import json
import shlex
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import psycopg
import pyarrow as pa
import pytest
from mypy_boto3_s3 import S3Client

from loadstar import ConfigError, LoadFailedError, lambda_handler
from loadstar.aws import s3_client
from loadstar.cli import EXIT_OK, main
from loadstar.dev.local import LOCAL_AWS_ENV, LocalServices
from loadstar.dev.sample import dimension_files, fact_files, parquet_bytes
from loadstar.source.discovery import SourceFile
from loadstar.source.keys import instant_from_key
from loadstar.warehouse.ledger import Status, ensure_ledger, record
from support import (
    Conn,
    FakeContext,
    assert_exact,
    count,
    department,
    fact_table_without_version_key,
    hold_table_lock,
    ledger,
    put_files,
    put_table,
    staff,
    staff_key,
)

pytestmark = pytest.mark.usefixtures("env")

REGION = LOCAL_AWS_ENV["AWS_DEFAULT_REGION"]
HISTORY = 2_500
"""Files already loaded when the listing's cost is counted."""
ACCOUNT = "123456789012"


# -- events as AWS sends them ------------------------------------------------------------------


def sqs_record(body: str, *, message_id: str | None = None) -> dict[str, Any]:
    """One record of the event SQS's event source mapping hands to Lambda."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": f"handle-{uuid.uuid4().hex}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(int(time.time() * 1000)),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:loadstar-events",
        "awsRegion": REGION,
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def s3_record(
    bucket: str,
    key: str,
    etag: str,
    size: int,
    *,
    at: datetime | None = None,
    name: str = "ObjectCreated:Put",
    encoded: str | None = None,
) -> dict[str, Any]:
    """One record of an S3 event notification; its key URL-encoded, as S3 writes it
    (``encoded``, when given, is that encoding spelled out)."""
    moment = at or datetime.now(UTC)
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "eventName": name,
        "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
        "requestParameters": {"sourceIPAddress": "205.255.255.255"},
        "responseElements": {
            "x-amz-request-id": "D82B88E5F771F645",
            "x-amz-id-2": "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYB",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "loadstar",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3I5XTEXAMAI3E"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": encoded or quote_plus(key, safe="/"),
                "size": size,
                "eTag": etag,
                "sequencer": "0055AED6DCD90281E5",
            },
        },
    }


def notification(*records: dict[str, Any]) -> str:
    """The body S3 sends a queue: the notification as JSON text."""
    return json.dumps({"Records": list(records)})


def eventbridge_event(
    bucket: str, key: str, etag: str, size: int, *, detail_type: str = "Object Created"
) -> dict[str, Any]:
    """EventBridge's event for an object S3 created; its key not encoded."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": size,
                "etag": etag,
                "sequencer": "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": ACCOUNT,
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


def put(s3: S3Client, bucket: str, key: str, table: pa.Table) -> tuple[str, int]:
    """Write ``table`` at ``key``; its ETag and size, as a notification carries them."""
    return put_bytes(s3, bucket, key, parquet_bytes(table))


def put_bytes(s3: S3Client, bucket: str, key: str, body: bytes) -> tuple[str, int]:
    etag = s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
    return etag, len(body)


def upload(s3: S3Client, bucket: str, bodies: dict[str, bytes]) -> dict[str, str]:
    """Write many objects at once; their ETags by key."""

    def one(key: str) -> tuple[str, str]:
        answer = s3.put_object(Bucket=bucket, Key=key, Body=bodies[key])
        return key, answer["ETag"].strip('"')

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(pool.map(one, bodies))


def failures(response: dict[str, Any]) -> list[str]:
    """The message ids a batch response hands back."""
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def recorded(db: Conn) -> dict[str, dict[str, Any]]:
    """The ledger by key; empty when no run has made it yet."""
    row = db.execute("SELECT to_regclass('loadstar.load_ledger')").fetchone()
    return {} if row is None or row[0] is None else ledger(db)


def loaded_keys(db: Conn) -> set[str]:
    return {key for key, row in recorded(db).items() if row["status"] == "loaded"}


def errors_logged(log_lines: Any) -> list[dict[str, Any]]:
    return [line for line in log_lines if line["level"] in ("error", "critical")]


def emf_documents(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if '"_aws"' in line]


# -- a real queue the bucket notifies ------------------------------------------------------------


class Queue:
    """An SQS queue on the local server that the bucket notifies of every new object."""

    def __init__(self, sqs: Any, url: str, arn: str) -> None:
        self.sqs, self.url, self.arn = sqs, url, arn
        self.test_message: dict[str, Any] | None = None
        """S3's ``s3:TestEvent``, sent when the notification was configured."""

    def receive(self, expected: int) -> list[dict[str, Any]]:
        """The next ``expected`` messages, as a consumer receives them."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while len(messages) < expected and time.monotonic() < deadline:
            answer = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=min(10, expected - len(messages)),
                WaitTimeSeconds=0,
                AttributeNames=["All"],
            )
            messages.extend(answer.get("Messages", []))
        assert len(messages) == expected, messages
        return messages

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """The record Lambda's event source mapping makes of a received message."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": REGION,
        }

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return sqs_event(*(self.record(m) for m in messages))


def key_of(message: dict[str, Any]) -> str:
    """The object key an S3 notification message names, decoded."""
    [record] = json.loads(message["Body"])["Records"]
    return unquote_plus(record["s3"]["object"]["key"])


def by_key(messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {key_of(m): m for m in messages}


@pytest.fixture
def queue(stack: LocalServices, s3: S3Client, bucket: str) -> Iterator[Queue]:
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=f"loadstar-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"Id": "loadstar", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    found = Queue(sqs, url, arn)
    [found.test_message] = found.receive(1)
    yield found
    sqs.delete_queue(QueueUrl=url)


# -- what the loader's S3 client lists -------------------------------------------------------


class Listings:
    """Each ListObjectsV2 request of the loader's S3 client: its parameters, and its keys."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.keys: list[int] = []

    def before(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(dict(params))

    def after(self, parsed: dict[str, Any], **_: Any) -> None:
        self.keys.append(len(parsed.get("Contents", [])))

    def of(self, prefix: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("Prefix") == prefix]


@contextmanager
def listings() -> Iterator[Listings]:
    """Count the listings of the S3 client runs use (the one boto3 client of the process)."""
    events = s3_client().meta.events
    seen, tag = Listings(), uuid.uuid4().hex
    events.register("before-parameter-build.s3.ListObjectsV2", seen.before, f"before-{tag}")
    events.register("after-call.s3.ListObjectsV2", seen.after, f"after-{tag}")
    try:
        yield seen
    finally:
        events.unregister("before-parameter-build.s3.ListObjectsV2", unique_id=f"before-{tag}")
        events.unregister("after-call.s3.ListObjectsV2", unique_id=f"after-{tag}")


# -- invocations side by side ----------------------------------------------------------------


class Invocation(threading.Thread):
    """The handler invoked in a thread of its own, as another Lambda instance would be."""

    def __init__(self, event: dict[str, Any], start: threading.Barrier | None = None) -> None:
        super().__init__(daemon=True)
        self.event, self.barrier = event, start
        self.response: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        if self.barrier is not None:
            self.barrier.wait(timeout=30)
        try:
            self.response = lambda_handler(self.event, FakeContext())
        except BaseException as exc:  # handed to the test, which fails on it
            self.error = exc

    def result(self) -> dict[str, Any]:
        self.join(timeout=60)
        assert not self.is_alive(), "the invocation did not finish"
        assert self.error is None, repr(self.error)
        assert self.response is not None
        return self.response


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def sessions_waiting_on_a_table(db: Conn) -> int:
    row = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND wait_event = 'relation'"
    ).fetchone()
    assert row is not None
    return int(row[0])


def watermark(db: Conn, table: str) -> str | None:
    row = db.execute(
        "SELECT watermark FROM loadstar.table_state WHERE table_name = %s", (table,)
    ).fetchone()
    assert row is not None
    return None if row[0] is None else str(row[0])


# -- the tests ---------------------------------------------------------------------------------


class TestThroughSqs:
    def test_notifications_s3_sends_a_queue_load_the_files_they_name(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue, log_lines: Any
    ) -> None:
        files = [*dimension_files(), *fact_files(2, 20)]
        put_files(s3, bucket, files)
        messages = queue.receive(len(files))
        assert sorted(key_of(m) for m in messages) == sorted(f.key for f in files)

        with listings() as listed:
            response = lambda_handler(queue.event(messages), FakeContext())

        assert failures(response) == []
        assert_exact(db, files)
        assert listed.requests == []  # the events name the files: nothing is listed
        assert sorted(line["key"] for line in log_lines.events("file_loaded")) == sorted(
            f.key for f in files
        )
        assert errors_logged(log_lines) == []

    def test_a_batch_is_answered_with_its_failures_alone(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue
    ) -> None:
        good = staff_key("2024-06-01 09:00:00.000000")
        bad = staff_key("2024-06-01 10:00:00.000000")
        put_table(s3, bucket, good, staff([1]))
        s3.put_object(Bucket=bucket, Key=bad, Body=b"not parquet")
        messages = by_key(queue.receive(2))

        response = lambda_handler(queue.event(list(messages.values())), FakeContext())

        assert response["batchItemFailures"] == [{"itemIdentifier": messages[bad]["MessageId"]}]
        # beside it, the run's summary, for whoever invokes the function by hand
        assert response["status"] == "failed"
        assert response["tables"]["dim_staff"]["loaded"] == [good]
        assert [f["key"] for f in response["tables"]["dim_staff"]["failed"]] == [bad]

    def test_a_batch_delivered_twice_loads_each_file_once(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue, log_lines: Any
    ) -> None:
        files = [*dimension_files(), *fact_files(2, 20)]
        put_files(s3, bucket, files)
        event = queue.event(queue.receive(len(files)))

        assert failures(lambda_handler(event, FakeContext())) == []
        facts = count(db, "fact_sales_order")
        assert failures(lambda_handler(event, FakeContext())) == []

        assert_exact(db, files)
        assert count(db, "fact_sales_order") == facts
        assert {r["attempts"] for r in ledger(db).values()} == {1}
        assert Counter(line["key"] for line in log_lines.events("file_loaded")) == Counter(
            f.key for f in files
        )
        second = log_lines.events("run_finished")[-1]
        assert second["files_loaded"] == 0
        assert second["rows_written"] == 0
        assert second["status"] == "loaded"

    def test_dimension_events_out_of_order_end_in_the_newest_values(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue
    ) -> None:
        older = staff_key("2024-06-01 09:00:00.000000")
        newer = staff_key("2024-06-01 10:00:00.000000")
        # the newer file lands first, so its notification comes first
        put_table(s3, bucket, newer, staff([1, 2], department="Newer"))
        put_table(s3, bucket, older, staff([1, 2, 3], department="Older"))
        first, second = queue.receive(2)
        assert (key_of(first), key_of(second)) == (newer, older)

        assert failures(lambda_handler(queue.event([first]), FakeContext())) == []
        assert failures(lambda_handler(queue.event([second]), FakeContext())) == []

        assert department(db, 1) == "Newer"
        assert department(db, 2) == "Newer"
        assert department(db, 3) == "Older"  # a key only the older file carries
        assert loaded_keys(db) == {older, newer}

    def test_a_notification_wrapped_by_sns_loads(self, s3: S3Client, bucket: str, db: Conn) -> None:
        key = staff_key("2024-06-01 09:00:00.000000")
        etag, size = put(s3, bucket, key, staff([1], department="Via SNS"))
        inner = notification(s3_record(bucket, key, etag, size))
        envelope = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:processed-bucket-events",
            "Subject": "Amazon S3 Notification",
            "Message": inner,
            "Timestamp": datetime.now(UTC).isoformat(),
            "SignatureVersion": "1",
        }
        response = lambda_handler(sqs_event(sqs_record(json.dumps(envelope))), FakeContext())
        assert failures(response) == []
        assert department(db, 1) == "Via SNS"

    def test_a_test_event_and_a_key_no_table_claims_are_quiet(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue, log_lines: Any
    ) -> None:
        assert queue.test_message is not None
        assert json.loads(queue.test_message["Body"])["Event"] == "s3:TestEvent"
        nobodys_key = "exports/report-2024-06-01.parquet"
        put_table(s3, bucket, nobodys_key, staff([1]))
        [nobodys] = queue.receive(1)

        response = lambda_handler(queue.event([queue.test_message, nobodys]), FakeContext())

        assert failures(response) == []
        assert recorded(db) == {}
        assert count(db, "dim_staff") == 0
        [ignored] = log_lines.events("event_ignored")
        assert any("test event" in reason for reason in ignored["reasons"]), ignored
        assert ignored["reasons"][0].startswith(queue.test_message["MessageId"])
        assert errors_logged(log_lines) == []
        assert log_lines.events("file_loaded") == log_lines.events("file_failed") == []
        assert log_lines.events("run_finished")[-1]["unowned"] == [nobodys_key]

    def test_a_message_delivered_twice_in_one_batch_loads_once(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue, log_lines: Any
    ) -> None:
        key = staff_key("2024-06-01 09:00:00.000000")
        put_table(s3, bucket, key, staff([1]))
        [message] = queue.receive(1)
        twice = queue.record(message)
        again = {**twice, "messageId": str(uuid.uuid4())}

        assert failures(lambda_handler(sqs_event(twice, again), FakeContext())) == []

        assert [line["key"] for line in log_lines.events("file_loaded")] == [key]
        assert ledger(db)[key]["rows_written"] == 1

    def test_a_fact_file_ahead_of_its_dimensions_loads_when_redelivered(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue
    ) -> None:
        facts = fact_files(1, 5)
        put_files(s3, bucket, facts)
        [fact] = queue.receive(1)
        fact_event = queue.event([fact])

        assert failures(lambda_handler(fact_event, FakeContext())) == [fact["MessageId"]]
        assert ledger(db)[facts[0].key]["status"] == "failed"
        assert count(db, "fact_sales_order") == 0

        dims = dimension_files()
        put_files(s3, bucket, dims)
        assert failures(lambda_handler(queue.event(queue.receive(len(dims))), FakeContext())) == []
        assert failures(lambda_handler(fact_event, FakeContext())) == []
        assert_exact(db, [*dims, *facts])

    def test_a_file_deleted_before_its_message_is_read_is_done_with(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue
    ) -> None:
        gone = staff_key("2024-06-01 09:00:00.000000")
        kept = staff_key("2024-06-01 10:00:00.000000")
        put_table(s3, bucket, gone, staff([1]))
        put_table(s3, bucket, kept, staff([2]))
        s3.delete_object(Bucket=bucket, Key=gone)
        response = lambda_handler(queue.event(queue.receive(2)), FakeContext())
        assert failures(response) == []
        assert loaded_keys(db) == {kept}

    def test_files_the_time_budget_leaves_hand_their_messages_back(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue
    ) -> None:
        keys = [staff_key("2024-06-01 09:00:00.000000"), staff_key("2024-06-01 10:00:00.000000")]
        for key in keys:
            put_table(s3, bucket, key, staff([1]))
        event = queue.event(queue.receive(len(keys)))

        response = lambda_handler(event, FakeContext(remaining_ms=1_000))

        assert sorted(failures(response)) == sorted(r["messageId"] for r in event["Records"])
        assert loaded_keys(db) == set()
        assert failures(lambda_handler(event, FakeContext())) == []
        assert loaded_keys(db) == set(keys)

    def test_unreadable_messages_come_back_and_the_others_load(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue, log_lines: Any
    ) -> None:
        key = staff_key("2024-06-01 09:00:00.000000")
        put_table(s3, bucket, key, staff([1]))
        [good] = queue.receive(1)
        not_json = sqs_record("this is not JSON {")
        not_a_notification = sqs_record(json.dumps({"hello": "world"}))
        event = sqs_event(not_json, queue.record(good), not_a_notification)

        response = lambda_handler(event, FakeContext())

        assert failures(response) == [not_json["messageId"], not_a_notification["messageId"]]
        assert loaded_keys(db) == {key}
        [unreadable] = log_lines.events("event_unreadable")
        assert unreadable["level"] == "error"
        assert set(unreadable["messages"]) == {
            not_json["messageId"],
            not_a_notification["messageId"],
        }
        assert "not JSON" in unreadable["messages"][not_json["messageId"]]

    def test_a_bad_file_fails_only_its_own_message(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue, log_lines: Any
    ) -> None:
        good = staff_key("2024-06-01 09:00:00.000000")
        corrupt = staff_key("2024-06-01 10:00:00.000000")
        mistyped = staff_key("2024-06-01 11:00:00.000000")
        put_table(s3, bucket, good, staff([1]))
        s3.put_object(Bucket=bucket, Key=corrupt, Body=b"PAR1 this is not a parquet file")
        put_table(s3, bucket, mistyped, staff([2], staff_id=pa.array(["two"])))
        messages = by_key(queue.receive(3))

        response = lambda_handler(queue.event(list(messages.values())), FakeContext())

        assert sorted(failures(response)) == sorted(
            [messages[corrupt]["MessageId"], messages[mistyped]["MessageId"]]
        )
        rows = ledger(db)
        assert rows[good]["status"] == "loaded"
        assert rows[corrupt]["status"] == rows[mistyped]["status"] == "failed"
        assert corrupt in rows[corrupt]["reason"]
        assert mistyped in rows[mistyped]["reason"]
        assert "staff_id" in rows[mistyped]["reason"]
        assert {line["key"] for line in log_lines.events("file_failed")} == {corrupt, mistyped}
        assert count(db, "dim_staff") == 1

    def test_a_foreign_buckets_notification_fails_its_message_only(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue, log_lines: Any
    ) -> None:
        other = f"other-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=other)
        key = staff_key("2024-06-01 09:00:00.000000")
        etag, size = put(s3, other, key, staff([1], department="Foreign"))
        foreign = sqs_record(notification(s3_record(other, key, etag, size)))
        put_table(s3, bucket, key, staff([1], department="Own"))
        [own] = queue.receive(1)

        response = lambda_handler(sqs_event(foreign, queue.record(own)), FakeContext())

        assert failures(response) == [foreign["messageId"]]
        assert department(db, 1) == "Own"
        assert {(r["bucket"], k) for k, r in ledger(db).items()} == {(bucket, key)}
        [line] = log_lines.events("event_foreign_bucket")
        assert line["level"] == "error"
        assert line["bucket"] == bucket
        assert line["files"] == [f"s3://{other}/{key}"]

    def test_without_a_configured_bucket_the_notices_bucket_is_read(
        self, s3: S3Client, bucket: str, db: Conn, queue: Queue, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("LOADSTAR_BUCKET")
        key = staff_key("2024-06-01 09:00:00.000000")
        put_table(s3, bucket, key, staff([1]))
        response = lambda_handler(queue.event(queue.receive(1)), FakeContext())
        assert failures(response) == []
        assert ledger(db)[key]["bucket"] == bucket
        assert ledger(db)[key]["status"] == "loaded"

    def test_without_a_configured_bucket_a_test_event_is_still_quiet(
        self, db: Conn, queue: Queue, monkeypatch: pytest.MonkeyPatch, log_lines: Any
    ) -> None:
        monkeypatch.delenv("LOADSTAR_BUCKET")
        assert queue.test_message is not None
        response = lambda_handler(queue.event([queue.test_message]), FakeContext())
        assert failures(response) == []
        direct = json.loads(queue.test_message["Body"])
        assert lambda_handler(direct, FakeContext()) == {"status": "ignored"}
        assert len(log_lines.events("event_ignored")) == 2
        assert errors_logged(log_lines) == []

    def test_without_a_configured_bucket_an_unreadable_message_alone_comes_back(
        self, db: Conn, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("LOADSTAR_BUCKET")
        unreadable = sqs_record("this is not JSON {")
        response = lambda_handler(sqs_event(unreadable), FakeContext())
        assert failures(response) == [unreadable["messageId"]]

    def test_ingest_lag_is_logged_per_file_and_measured(
        self,
        s3: S3Client,
        bucket: str,
        db: Conn,
        log_lines: Any,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        key = staff_key("2024-06-01 09:00:00.000000")
        etag, size = put(s3, bucket, key, staff([1]))
        landed = datetime.now(UTC) - timedelta(seconds=30)
        body = notification(s3_record(bucket, key, etag, size, at=landed))
        capsys.readouterr()

        assert failures(lambda_handler(sqs_event(sqs_record(body)), FakeContext())) == []

        [loaded] = log_lines.events("file_loaded")
        assert 30_000 <= loaded["ingest_lag_ms"] < 90_000
        run, *_ = emf_documents(capsys.readouterr().out)
        directive = run["_aws"]["CloudWatchMetrics"][0]
        assert {"Name": "IngestLagSeconds", "Unit": "Seconds"} in directive["Metrics"]
        [lag] = run["IngestLagSeconds"]
        assert 30 <= lag < 90
        assert lag == pytest.approx(loaded["ingest_lag_ms"] / 1000, abs=0.01)
        assert run["FilesLoaded"] == 1


class TestDirect:
    def test_an_eventbridge_object_created_event_loads_its_key_as_written(
        self, s3: S3Client, bucket: str, db: Conn
    ) -> None:
        # EventBridge does not encode keys: a '+' here is a plus, not a space
        key = "dimension/staff-2024-06-01T09:00:00+01:00.parquet"
        etag, size = put(s3, bucket, key, staff([1], department="Bridged"))

        summary = lambda_handler(eventbridge_event(bucket, key, etag, size), FakeContext())

        assert summary["status"] == "loaded"
        assert summary["bucket"] == bucket
        assert summary["tables"]["dim_staff"]["loaded"] == [key]
        assert ledger(db)[key]["status"] == "loaded"
        assert ledger(db)[key]["etag"] == etag
        assert department(db, 1) == "Bridged"

    def test_a_loaded_key_rewritten_in_place_needs_attention_and_is_not_reloaded(
        self, s3: S3Client, bucket: str, db: Conn
    ) -> None:
        key = "dimension/staff-2024-06-01T09:00:00Z.parquet"
        first, size = put(s3, bucket, key, staff([1], department="First"))
        lambda_handler(eventbridge_event(bucket, key, first, size), FakeContext())
        second, size = put(s3, bucket, key, staff([1], department="Second"))

        summary = lambda_handler(eventbridge_event(bucket, key, second, size), FakeContext())

        assert summary["status"] == "loaded"  # nothing failed: no retries
        [item] = summary["needs_attention"]
        assert item["key"] == key
        assert f"ETag {first} is now {second}" in item["reason"]
        assert item["command"] == f"loadstar replay {shlex.quote(key)}"
        assert department(db, 1) == "First"
        assert ledger(db)[key]["etag"] == first

    def test_an_eventbridge_event_through_a_queue_loads(
        self, s3: S3Client, bucket: str, db: Conn
    ) -> None:
        key = "dimension/staff-2024-06-01T09:00:00+01:00.parquet"
        etag, size = put(s3, bucket, key, staff([1], department="Queued"))
        record = sqs_record(json.dumps(eventbridge_event(bucket, key, etag, size)))
        assert failures(lambda_handler(sqs_event(record), FakeContext())) == []
        assert department(db, 1) == "Queued"

    def test_an_s3_notification_decodes_spaces_colons_and_plus_signs(
        self, s3: S3Client, bucket: str, db: Conn
    ) -> None:
        spaced = "dimension/staff-2024-05-24 14:35:22.123456.parquet"
        zoned = "dimension/staff-2024-06-01T09:00:00+01:00.parquet"
        spaced_tag, spaced_size = put(s3, bucket, spaced, staff([1], department="Spaced"))
        zoned_tag, zoned_size = put(s3, bucket, zoned, staff([2], department="Zoned"))
        event = {
            "Records": [
                s3_record(
                    bucket,
                    spaced,
                    spaced_tag,
                    spaced_size,
                    encoded="dimension/staff-2024-05-24+14%3A35%3A22.123456.parquet",
                ),
                s3_record(
                    bucket,
                    zoned,
                    zoned_tag,
                    zoned_size,
                    encoded="dimension/staff-2024-06-01T09%3A00%3A00%2B01%3A00.parquet",
                ),
            ]
        }

        summary = lambda_handler(event, FakeContext())

        assert summary["status"] == "loaded"
        assert summary["files_loaded"] == 2
        assert sorted(summary["tables"]["dim_staff"]["loaded"]) == sorted([spaced, zoned])
        assert loaded_keys(db) == {spaced, zoned}
        assert (department(db, 1), department(db, 2)) == ("Spaced", "Zoned")

    def test_a_notification_without_etag_or_size_is_asked_of_s3(
        self, s3: S3Client, bucket: str, db: Conn
    ) -> None:
        key = staff_key("2024-06-01 09:00:00.000000")
        etag, size = put(s3, bucket, key, staff([1]))
        record = s3_record(bucket, key, etag, size)
        del record["s3"]["object"]["eTag"], record["s3"]["object"]["size"]
        summary = lambda_handler({"Records": [record]}, FakeContext())
        assert summary["files_loaded"] == 1
        assert ledger(db)[key]["etag"] == etag
        assert ledger(db)[key]["size_bytes"] == size

    def test_events_with_nothing_to_load_are_ignored(
        self, s3: S3Client, bucket: str, db: Conn, log_lines: Any
    ) -> None:
        key = staff_key("2024-06-01 09:00:00.000000")
        etag, size = put(s3, bucket, key, staff([1]))
        test_event = {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": datetime.now(UTC).isoformat(),
            "Bucket": bucket,
            "RequestId": "5582815E1AEA5ADF",
            "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
        }
        deleted = eventbridge_event(bucket, key, etag, size, detail_type="Object Deleted")
        removed = {"Records": [s3_record(bucket, key, etag, size, name="ObjectRemoved:Delete")]}

        for event in (test_event, deleted, removed):
            assert lambda_handler(event, FakeContext()) == {"status": "ignored"}, event

        assert recorded(db) == {}
        assert len(log_lines.events("event_ignored")) == 3
        assert log_lines.events("run_finished") == []

    def test_a_failed_file_raises_after_the_others_load(
        self, s3: S3Client, bucket: str, db: Conn
    ) -> None:
        good = staff_key("2024-06-01 09:00:00.000000")
        bad = staff_key("2024-06-01 10:00:00.000000")
        good_tag, good_size = put(s3, bucket, good, staff([1]))
        bad_tag, bad_size = put_bytes(s3, bucket, bad, b"not parquet")
        event = {
            "Records": [
                s3_record(bucket, good, good_tag, good_size),
                s3_record(bucket, bad, bad_tag, bad_size),
            ]
        }

        with pytest.raises(LoadFailedError) as caught:
            lambda_handler(event, FakeContext())

        assert bad in str(caught.value)
        assert caught.value.summary["files_failed"] == 1
        assert caught.value.summary["files_loaded"] == 1
        assert ledger(db)[good]["status"] == "loaded"
        assert ledger(db)[bad]["status"] == "failed"

    def test_a_foreign_bucket_is_a_configuration_error(
        self, s3: S3Client, bucket: str, db: Conn, log_lines: Any
    ) -> None:
        other = f"other-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=other)
        key = staff_key("2024-06-01 09:00:00.000000")
        etag, size = put(s3, other, key, staff([1]))
        event = {"Records": [s3_record(other, key, etag, size)]}

        with pytest.raises(ConfigError, match=bucket):
            lambda_handler(event, FakeContext())

        assert recorded(db) == {}
        [line] = log_lines.events("event_foreign_bucket")
        assert line["files"] == [f"s3://{other}/{key}"]
        with pytest.raises(ConfigError):
            lambda_handler(eventbridge_event(other, key, etag, size), FakeContext())


class TestConcurrency:
    def test_two_tables_load_side_by_side(
        self,
        s3: S3Client,
        bucket: str,
        database: str,
        db: Conn,
        queue: Queue,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("LOADSTAR_TABLE_LOCK_WAIT_SECONDS", "0")
        monkeypatch.setenv("LOADSTAR_LOCK_TIMEOUT_SECONDS", "30")
        files = {f.table: f for f in dimension_files()}
        put_files(s3, bucket, [files["dim_staff"], files["dim_currency"]])
        messages = by_key(queue.receive(2))
        staff_message = messages[files["dim_staff"].key]
        currency_message = messages[files["dim_currency"].key]

        with psycopg.connect(database) as blocker:
            # Rows of dim_staff cannot be written until the blocker lets go: the
            # invocation loading them holds dim_staff's load lock all the while.
            blocker.execute("LOCK TABLE dim_staff IN ACCESS EXCLUSIVE MODE")
            staff_load = Invocation(queue.event([staff_message]))
            staff_load.start()
            wait_for(lambda: sessions_waiting_on_a_table(db) == 1, "the staff load to block")

            currency_load = Invocation(queue.event([currency_message]))
            currency_load.start()
            assert failures(currency_load.result()) == []
            assert count(db, "dim_currency") == 3
            # a third invocation for the busy table hands its message back
            busy = lambda_handler(queue.event([staff_message]), FakeContext())
            assert failures(busy) == [staff_message["MessageId"]]
            assert staff_load.is_alive()
            blocker.rollback()

        assert failures(staff_load.result()) == []
        assert count(db, "dim_staff") == files["dim_staff"].data.num_rows
        assert loaded_keys(db) == {files["dim_staff"].key, files["dim_currency"].key}

    def test_a_busy_table_makes_a_direct_event_partial(
        self, s3: S3Client, bucket: str, database: str, db: Conn, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LOADSTAR_TABLE_LOCK_WAIT_SECONDS", "0.2")
        key = staff_key("2024-06-01 09:00:00.000000")
        etag, size = put(s3, bucket, key, staff([1]))
        event = {"Records": [s3_record(bucket, key, etag, size)]}
        with psycopg.connect(database, autocommit=True) as holder:
            hold_table_lock(holder, "dim_staff")
            summary = lambda_handler(event, FakeContext())
        assert summary["status"] == "partial"
        assert summary["tables"]["dim_staff"]["busy"] == (
            "table dim_staff is being loaded by another run"
        )
        assert recorded(db) == {}
        assert lambda_handler(event, FakeContext())["status"] == "loaded"
        assert loaded_keys(db) == {key}

    def test_overlapping_invocations_then_a_sweep_load_every_row_once(
        self,
        s3: S3Client,
        bucket: str,
        db: Conn,
        queue: Queue,
        log_lines: Any,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
    ) -> None:
        config = fact_table_without_version_key(db, tmp_path)
        monkeypatch.setenv("LOADSTAR_CONFIG", str(config))
        monkeypatch.setenv("LOADSTAR_TABLE_LOCK_WAIT_SECONDS", "0")
        dims = dimension_files()
        put_files(s3, bucket, dims)
        assert lambda_handler({}, FakeContext())["status"] == "loaded"
        queue.receive(len(dims))
        facts = fact_files(4, 20)
        put_files(s3, bucket, facts)
        messages = queue.receive(len(facts))
        ids = sorted(m["MessageId"] for m in messages)

        start = threading.Barrier(3)
        runs = [
            Invocation(queue.event(messages), start),
            Invocation(queue.event(messages[::-1]), start),
            Invocation(queue.event(messages[:3]), start),
        ]
        for run in runs:
            run.start()
        handed_back = [sorted(failures(run.result())) for run in runs]
        sweep = lambda_handler({}, FakeContext())

        # a busy table hands back every message of it; otherwise none
        assert handed_back[0] in ([], ids)
        assert handed_back[1] in ([], ids)
        assert handed_back[2] in ([], sorted(m["MessageId"] for m in messages[:3]))
        assert sweep["status"] == "loaded"
        assert count(db, "fact_sales_order") == sum(f.data.num_rows for f in facts)
        rows = ledger(db)
        assert {k for k, r in rows.items() if r["status"] == "loaded"} == {
            f.key for f in [*dims, *facts]
        }
        assert sum(rows[f.key]["rows_written"] for f in facts) == sum(
            f.data.num_rows for f in facts
        )
        loads = Counter(line["key"] for line in log_lines.events("file_loaded"))
        assert all(loads[f.key] == 1 for f in facts), loads


class TestListing:
    def test_a_late_file_waits_for_a_full_listing(
        self, s3: S3Client, bucket: str, db: Conn, capsys: pytest.CaptureFixture[str]
    ) -> None:
        first = staff_key("2024-06-01 09:00:00.000000")
        late = staff_key("2024-06-01 10:00:00.000000")
        last = staff_key("2024-06-01 11:00:00.000000")
        put_table(s3, bucket, first, staff([1], department="First"))
        put_table(s3, bucket, last, staff([1], department="Last"))
        assert lambda_handler({}, FakeContext())["files_loaded"] == 2
        assert watermark(db, "dim_staff") == last

        put_table(s3, bucket, late, staff([1, 2], department="Late"))
        with listings() as listed:
            incremental = lambda_handler({}, FakeContext())
        assert incremental["files_loaded"] == 0
        assert late not in ledger(db)
        [staff_listing] = listed.of("dimension/staff")
        assert staff_listing["StartAfter"] == last

        capsys.readouterr()
        assert main(["run", "--full-listing", "--json"]) == EXIT_OK
        summary = json.loads(capsys.readouterr().out)
        [staff_table] = [t for t in summary["tables"] if t["name"] == "dim_staff"]
        assert staff_table["loaded"] == [late]
        assert loaded_keys(db) == {first, late, last}
        assert department(db, 1) == "Last"  # an older file never overwrites newer values
        assert department(db, 2) == "Late"

    def test_a_full_listing_is_due_after_its_interval(
        self, s3: S3Client, bucket: str, db: Conn, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        late = staff_key("2024-06-01 09:00:00.000000")
        last = staff_key("2024-06-01 10:00:00.000000")
        put_table(s3, bucket, last, staff([1]))
        assert lambda_handler({}, FakeContext())["files_loaded"] == 1
        put_table(s3, bucket, late, staff([2]))
        assert lambda_handler({}, FakeContext())["files_loaded"] == 0

        monkeypatch.setenv("LOADSTAR_FULL_LISTING_INTERVAL_SECONDS", "0")
        with listings() as listed:
            summary = lambda_handler({}, FakeContext())
        assert summary["tables"]["dim_staff"]["loaded"] == [late]
        assert "StartAfter" not in listed.of("dimension/staff")[0]
        assert loaded_keys(db) == {late, last}

    def test_a_failed_file_below_the_watermark_loads_once_fixed(
        self, s3: S3Client, bucket: str, db: Conn, log_lines: Any
    ) -> None:
        first = staff_key("2024-06-01 09:00:00.000000")
        broken = staff_key("2024-06-01 10:00:00.000000")
        last = staff_key("2024-06-01 11:00:00.000000")
        put_table(s3, bucket, first, staff([1]))
        put_table(s3, bucket, broken, staff([2], staff_id=pa.array(["two"])))
        put_table(s3, bucket, last, staff([3]))
        with pytest.raises(LoadFailedError):
            lambda_handler({}, FakeContext())
        assert watermark(db, "dim_staff") == last
        assert ledger(db)[broken]["status"] == "failed"

        # every sweep tries it again, though its listing starts above it
        before = len(log_lines.events("file_failed"))
        with pytest.raises(LoadFailedError, match="staff_id"):
            lambda_handler({}, FakeContext())
        assert len(log_lines.events("file_failed")) == before + 1

        fixed_tag, _ = put(s3, bucket, broken, staff([2], department="Fixed"))
        with listings() as listed:
            summary = lambda_handler({}, FakeContext())
        assert listed.of("dimension/staff")[0]["StartAfter"] == last
        assert summary["status"] == "loaded"
        assert summary["tables"]["dim_staff"]["loaded"] == [broken]
        assert ledger(db)[broken]["status"] == "loaded"
        assert ledger(db)[broken]["etag"] == fixed_tag
        assert department(db, 2) == "Fixed"

    def test_listing_cost_stays_flat_with_2500_files_loaded(
        self, s3: S3Client, bucket: str, db: Conn
    ) -> None:
        keys = [
            staff_key(f"{datetime(2024, 6, 1) + timedelta(minutes=i):%Y-%m-%d %H:%M:%S.%f}")
            for i in range(HISTORY + 2)
        ]

        def one_more_then_sweep(index: int) -> Listings:
            put_table(s3, bucket, keys[index], staff([index + 1]))
            with listings() as listed:
                summary = lambda_handler({}, FakeContext())
            assert summary["tables"]["dim_staff"]["loaded"] == [keys[index]]
            assert watermark(db, "dim_staff") == keys[index]
            return listed

        def loaded_by_events(first: int, last: int) -> None:
            """Files event invocations loaded: the ledger holds them, the watermark is below."""
            body = parquet_bytes(staff([1]))
            bodies = dict.fromkeys(keys[first:last], body)
            for key, etag in upload(s3, bucket, bodies).items():
                instant = instant_from_key(key)
                assert instant is not None
                file = SourceFile(key=key, etag=etag, size=len(body), instant=instant, stamped=True)
                record(db, "loadstar", bucket, "dim_staff", file, Status.LOADED, "", "events")
            # the next sweep lists them once, from the watermark, and moves past them
            with listings() as catching_up:
                assert lambda_handler({}, FakeContext())["files_loaded"] == 0
            assert sum(catching_up.keys) == last - first
            assert watermark(db, "dim_staff") == keys[last - 1]

        ensure_ledger(db, "loadstar")  # as `loadstar init-db` makes it
        loaded_by_events(0, 30)
        young = one_more_then_sweep(30)
        loaded_by_events(31, HISTORY + 1)
        old = one_more_then_sweep(HISTORY + 1)

        assert len(old.requests) == len(young.requests)
        assert old.keys == young.keys
        [listing] = old.of("dimension/staff")
        assert listing["StartAfter"] == keys[HISTORY]
        assert sum(old.keys) == 1  # the new file, nothing of the history before it
        assert loaded_keys(db) == set(keys)

    def test_an_idle_sweep_of_a_bucket_with_other_parquet_does_not_fail(
        self, s3: S3Client, bucket: str, db: Conn
    ) -> None:
        put_table(s3, bucket, staff_key("2024-06-01 09:00:00.000000"), staff([1]))
        put_table(s3, bucket, "exports/report-2024-06-01.parquet", staff([1]))
        assert lambda_handler({}, FakeContext())["status"] == "loaded"
        # Nothing is new: every table lists nothing past its watermark. The
        # bucket's files are still claimed, so another team's Parquet beside
        # them is no configuration that reads nothing.
        assert lambda_handler({}, FakeContext())["status"] == "loaded"
