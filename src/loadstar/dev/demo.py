"""``make demo``: a real load on a laptop, no AWS account.

Starts an embedded PostgreSQL and moto's S3 server, creates the warehouse
from loadstar's DDL, fills a processed bucket with Terrific Totes files,
invokes the Lambda handler with a scheduled event twice (the second run finds
nothing new), then lands one more file whose S3 notification the local SQS
queue delivers, and hands it to the handler as Lambda's event source mapping
would, printing the file's landed-to-committed lag. It prints what the
warehouse holds and answers a star-schema query. Exits non-zero if anything
failed or the warehouse holds other rows than the files describe.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import uuid
from contextlib import closing, redirect_stdout
from datetime import UTC, datetime
from typing import Any

import boto3

from loadstar import lambda_handler
from loadstar.config import default_catalogue
from loadstar.dev.local import LocalServices
from loadstar.dev.sample import DIMENSION_KEYS, VERSION_KEY, terrific_totes, time_of, write_files
from loadstar.warehouse.connection import Connection

BUCKET = "terrific-totes-processed"
TIMEOUT_MS = 15 * 60 * 1000

UNITS_BY_COUNTRY_AND_MONTH = """
    WITH latest AS (  -- the fact keeps every version; count each order's latest
        SELECT DISTINCT ON (sales_order_id) *
        FROM fact_sales_order
        ORDER BY sales_order_id, last_updated_date DESC, last_updated_time DESC
    )
    SELECT l.country, d.year, d.month_name, sum(f.units_sold) AS units_sold
    FROM latest f
    JOIN dim_location l ON l.location_id = f.agreed_delivery_location_id
    JOIN dim_date d ON d.date_id = f.created_date
    GROUP BY l.country, d.year, d.month, d.month_name
    ORDER BY l.country, d.year, d.month
"""


class LocalContext:
    """What Lambda passes as ``context``, for a local invocation."""

    function_name = "loadstar-demo"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:loadstar-demo"

    def __init__(self, timeout_ms: int = TIMEOUT_MS) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def scheduled_event(now: datetime | None = None) -> dict[str, Any]:
    """An EventBridge scheduled event, as Lambda receives it."""
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": moment,
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/loadstar-every-15-minutes"],
        "detail": {},
    }


def _invoke() -> tuple[dict[str, Any], dict[str, Any]]:
    """One handler invocation: its summary, and the run's EMF document it printed."""
    printed = io.StringIO()
    with redirect_stdout(printed):
        summary = lambda_handler(scheduled_event(), LocalContext())
    documents = [json.loads(line) for line in printed.getvalue().splitlines() if '"_aws"' in line]
    return summary, documents[0]


def _metric_values(document: dict[str, Any]) -> str:
    names = [m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return ", ".join(f"{name}={document[name]}" for name in names)


def run_demo() -> int:
    with LocalServices() as stack:
        url = stack.create_database("warehouse")
        os.environ.update(stack.environment("warehouse"))
        os.environ["LOADSTAR_BUCKET"] = BUCKET
        os.environ.setdefault("LOADSTAR_LOG_LEVEL", "WARNING")

        from loadstar import get_db_connection
        from loadstar.warehouse.schema import init_warehouse

        with closing(get_db_connection()) as conn:
            init_warehouse(conn)
        print(f"PostgreSQL  {url.split('?')[0]}  (embedded, socket in {stack.socket_dir})")
        print(f"S3 API      {stack.endpoint_url}  (moto server)")

        files = terrific_totes(fact_file_count=5, orders_per_file=250)
        *scheduled, landing = files  # the newest fact file comes later, by event
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        write_files(s3, BUCKET, scheduled)
        print(f"bucket      s3://{BUCKET}: {len(scheduled)} Parquet files, e.g. {files[0].key!r}\n")

        first, emf = _invoke()
        print(
            f"run 1: {first['status']}, {first['files_loaded']} files, "
            f"{first['rows_written']} rows written in {first['seconds']} s"
        )
        second, _ = _invoke()
        print(f"run 2: {second['status']}, {second['files_loaded']} files (nothing new to load)")
        print(f"metrics of run 1 (CloudWatch EMF): {_metric_values(emf)}\n")
        event = _event_path(s3, landing)

        with closing(get_db_connection()) as conn:
            counts = _row_counts(conn)
            print(json.dumps({"rows": counts}, indent=2))
            print("\nunits sold by country and month (latest version of each order):")
            for country, year, month, units in conn.execute(UNITS_BY_COUNTRY_AND_MONTH):
                print(f"  {country:<20} {year} {month:<10} {units:>10,}")

        expected = _expected_counts(files)
        problems = [
            f"{table}: expected {n} rows, found {counts.get(table)}"
            for table, n in expected.items()
            if counts.get(table) != n
        ]
        if second["files_loaded"] != 0:
            problems.append(f"run 2 loaded {second['files_loaded']} files again")
        if event["batchItemFailures"] or event.get("files_loaded") != 1:
            problems.append(f"the event did not load {landing.key!r}: {event}")
        for problem in problems:
            print(f"MISMATCH {problem}", file=sys.stderr)
        print("\ndemo: OK" if not problems else "\ndemo: FAILED")
        return 1 if problems else 0


def _event_path(s3: Any, landing: Any) -> dict[str, Any]:
    """One file lands; S3 notifies the queue; the handler gets the queue's batch."""
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="loadstar-demo-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn["Attributes"]["QueueArn"], "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    sqs.purge_queue(QueueUrl=queue)  # S3's test event
    write_files(s3, BUCKET, [landing])
    landed = time.monotonic()
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=5)
    records = [
        {"messageId": m["MessageId"], "eventSource": "aws:sqs", "body": m["Body"]}
        for m in messages.get("Messages", [])
    ]
    printed = io.StringIO()
    with redirect_stdout(printed):
        response = lambda_handler({"Records": records}, LocalContext())
    committed = time.monotonic() - landed
    lags = [
        lag
        for line in printed.getvalue().splitlines()
        if '"_aws"' in line
        for lag in json.loads(line).get("IngestLagSeconds", [])
    ]
    print(
        f"event: {landing.key!r} landed; its notification came through the queue "
        f"({len(records)} message) and the handler loaded {response.get('files_loaded', 0)} "
        f"file, {response.get('rows_written', 0)} rows, committed {committed:.2f} s after "
        f"the upload (IngestLagSeconds={', '.join(f'{lag:.2f}' for lag in lags)}; "
        f"batchItemFailures={response['batchItemFailures']})\n"
    )
    return response


def _row_counts(conn: Connection) -> dict[str, int]:
    from psycopg import sql

    counts = {}
    for table in (spec.name for spec in default_catalogue()):
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def _expected_counts(files: list[Any]) -> dict[str, int]:
    """Row counts the files imply, computed from the files alone."""
    keys: dict[str, set[Any]] = {}
    pk = DIMENSION_KEYS
    for f in files:
        rows = f.data.to_pylist()
        if f.table in pk:
            keys.setdefault(f.table, set()).update(r[pk[f.table]] for r in rows)
        else:
            keys.setdefault(f.table, set()).update(
                tuple(time_of(r[c]) if c.endswith("_time") else r[c] for c in VERSION_KEY)
                for r in rows
            )
    return {table: len(k) for table, k in keys.items()}


if __name__ == "__main__":
    raise SystemExit(run_demo())
