"""One timed load, in a process of its own: ``python -m bench.worker METHOD JSON``.

Each method prints one JSON line: the rows it loaded, the seconds the load
itself took (setup such as reading the Parquet file for a baseline is not
counted), and the process's peak RSS. A fresh process per measurement keeps
one method's memory and caches from flattering the next.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

FACT_COLUMNS = [
    "sales_order_id", "created_date", "created_time", "last_updated_date", "last_updated_time",
    "sales_staff_id", "counterparty_id", "units_sold", "unit_price", "currency_id", "design_id",
    "agreed_payment_date", "agreed_delivery_date", "agreed_delivery_location_id",
]  # fmt: skip

Result = dict[str, Any]


def peak_rss_mb() -> float:
    """This process's peak resident memory.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` over an
    exec, so a worker would report its (large) parent's peak as its own.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm() -> None:
    """What a warm Lambda has done before its invocation: the S3 client made and the
    import-time objects frozen (once per process, ~0.2 s) — as the baselines'
    connections are opened before their clocks start."""
    from loadstar.aws import s3_client
    from loadstar.run.pipeline import freeze_startup_objects

    s3_client()
    freeze_startup_objects()


def loadstar_facts(args: dict[str, Any]) -> Result:
    """End to end through the public API: list, download, decode, cast, COPY, commit."""
    from loadstar import load_fact_table

    _warm()
    started = time.perf_counter()
    summary = load_fact_table(args["bucket"])
    seconds = time.perf_counter() - started
    return {
        "rows": summary["rows_written"],
        "seconds": seconds,
        "summary_status": summary["status"],
    }


def loadstar_dims(args: dict[str, Any]) -> Result:
    from loadstar import load_dim_tables

    _warm()
    started = time.perf_counter()
    summary = load_dim_tables(args["bucket"])
    seconds = time.perf_counter() - started
    return {"rows": summary["rows_written"], "seconds": seconds, "files": summary["files_loaded"]}


def loadstar_history(args: dict[str, Any]) -> Result:
    """A whole handler run, with the time spent inside S3 listing calls measured apart:
    a scheduled sweep, or with ``event_key`` the S3 notification of that one file."""
    from loadstar import lambda_handler
    from loadstar.aws import s3_client

    client = s3_client()  # the client the handler will use
    _warm()  # a warm invocation
    listing = {"seconds": 0.0, "calls": 0}
    marks: list[float] = []

    def before(**_: Any) -> None:
        marks.append(time.perf_counter())

    def after(**_: Any) -> None:
        listing["seconds"] += time.perf_counter() - marks.pop()
        listing["calls"] += 1

    client.meta.events.register("before-call.s3.ListObjectsV2", before)
    client.meta.events.register("after-call.s3.ListObjectsV2", after)
    event: dict[str, Any] = {"bucket": args["bucket"]}
    if args.get("event_key"):
        event = s3_notification(args["bucket"], args["event_key"])
    started = time.perf_counter()
    summary = lambda_handler(event, None)
    total = time.perf_counter() - started
    return {
        "rows": summary["rows_written"],
        "seconds": total,
        "listing_seconds": listing["seconds"],
        "listing_calls": listing["calls"],
        "outside_listing_seconds": total - listing["seconds"],
        "files_loaded": summary["files_loaded"],
    }


def s3_notification(bucket: str, *keys: str) -> dict[str, Any]:
    """The event S3 sends for new objects, keys URL-encoded as S3 does."""
    from urllib.parse import quote_plus

    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="/")}},
            }
            for key in keys
        ]
    }


def loadstar_latency(args: dict[str, Any]) -> Result:
    """Files land about once a second while a poller does what Lambda's SQS event
    source mapping does: gather messages for up to the batching window, invoke the
    (warm) handler with them, delete those not handed back. Each file's latency is
    from its upload returning to the handler returning with it committed."""
    import threading
    from urllib.parse import unquote_plus

    import boto3

    from loadstar import lambda_handler
    from loadstar.run.pipeline import freeze_startup_objects

    sqs = boto3.client("sqs")
    s3 = boto3.client("s3")
    queue, bucket = args["queue_url"], args["bucket"]
    bodies = [Path(path).read_bytes() for path in args["paths"]]
    keys = args["keys"]
    landed: dict[str, float] = {}
    committed: dict[str, float] = {}
    freeze_startup_objects()

    def land() -> None:
        start = time.perf_counter()
        for n, (key, body) in enumerate(zip(keys, bodies, strict=True)):
            time.sleep(max(0.0, start + n * args["interval"] - time.perf_counter()))
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            landed[key] = time.perf_counter()

    lander = threading.Thread(target=land)
    lander.start()
    invocations = failures = 0
    deadline = time.perf_counter() + len(keys) * args["interval"] + 60
    while len(committed) < len(keys) and time.perf_counter() < deadline:
        batch: list[dict[str, Any]] = []
        window_ends: float | None = None
        while len(batch) < args["batch_size"]:
            wait = 1 if window_ends is None else max(0.0, window_ends - time.perf_counter())
            if window_ends is not None and wait == 0:
                break
            got = sqs.receive_message(
                QueueUrl=queue,
                MaxNumberOfMessages=min(10, args["batch_size"] - len(batch)),
                WaitTimeSeconds=min(20, max(0, round(wait))),
            ).get("Messages", [])
            batch += got
            if got and window_ends is None:
                window_ends = time.perf_counter() + args["window"]
            if not got and window_ends is None:
                break
        if not batch:
            continue
        event = {
            "Records": [
                {"messageId": m["MessageId"], "eventSource": "aws:sqs", "body": m["Body"]}
                for m in batch
            ]
        }
        response = lambda_handler(event, None)
        done_at = time.perf_counter()
        invocations += 1
        handed_back = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        failures += len(handed_back)
        for message in batch:
            if message["MessageId"] in handed_back:
                continue
            for record in json.loads(message["Body"]).get("Records", []):
                key = unquote_plus(record["s3"]["object"]["key"])
                committed.setdefault(key, done_at)
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    lander.join()
    return {
        "rows": 0,
        "seconds": 0.0,
        "latencies": [committed[k] - landed[k] for k in keys if k in committed and k in landed],
        "files": len(keys),
        "invocations": invocations,
        "batch_failures": failures,
    }


def server_copy(args: dict[str, Any]) -> Result:
    """The server reading a file it can see itself: no client in the loop."""
    with psycopg.connect(args["url"], autocommit=True) as conn:
        statement = sql.SQL("COPY {} ({}) FROM {} (FORMAT {})").format(
            sql.Identifier(args["table"]),
            sql.SQL(", ").join(sql.Identifier(c) for c in FACT_COLUMNS),
            sql.Literal(args["path"]),
            sql.SQL(args["format"]),
        )
        started = time.perf_counter()
        cur = conn.execute(statement)
        seconds = time.perf_counter() - started
        return {"rows": cur.rowcount, "seconds": seconds}


def server_copy_fair(args: dict[str, Any]) -> Result:
    """The fair limit into a table with foreign keys: the server's COPY of the file
    with the keys dropped, then each key added back and validated once, set-wise."""
    with psycopg.connect(args["url"], autocommit=True) as conn:
        table = sql.Identifier(args["table"])
        keys = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f'",
            (args["table"],),
        ).fetchall()
        for name, _ in keys:
            conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(table, sql.Identifier(name))
            )
        statement = sql.SQL("COPY {} ({}) FROM {} (FORMAT binary)").format(
            table,
            sql.SQL(", ").join(sql.Identifier(c) for c in FACT_COLUMNS),
            sql.Literal(args["path"]),
        )
        started = time.perf_counter()
        rows = conn.execute(statement).rowcount
        for name, definition in keys:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID").format(
                    table, sql.Identifier(name), sql.SQL(definition)
                )
            )
            conn.execute(
                sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(table, sql.Identifier(name))
            )
        seconds = time.perf_counter() - started
        return {"rows": rows, "seconds": seconds, "foreign_keys": len(keys)}


def _read(path: str, limit: int | None) -> Any:
    """The file as a baseline gets it: the string dates already parsed (untimed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=FACT_COLUMNS)
    if limit:
        table = table.slice(0, limit)
    for name in ("agreed_payment_date", "agreed_delivery_date"):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table.column(name).cast(pa.date32()))
    return table


def _rows(path: str, limit: int | None) -> list[tuple[Any, ...]]:
    table = _read(path, limit)
    columns = [table.column(c).to_pylist() for c in FACT_COLUMNS]
    return list(zip(*columns, strict=True))


def _insert_sql(table: str, placeholder: str = "%s") -> str:
    columns = ", ".join(FACT_COLUMNS)
    marks = ", ".join([placeholder] * len(FACT_COLUMNS))
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})"


def psycopg_executemany(args: dict[str, Any]) -> Result:
    rows = _rows(args["parquet"], args.get("limit"))
    with psycopg.connect(args["url"]) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(_insert_sql(args["table"]).encode(), rows)
        conn.commit()
        seconds = time.perf_counter() - started
    return {"rows": len(rows), "seconds": seconds}


def pandas_to_sql(args: dict[str, Any]) -> Result:
    import pandas as pd
    import sqlalchemy

    frame: pd.DataFrame = _read(args["parquet"], args.get("limit")).to_pandas()
    engine = sqlalchemy.create_engine(args["sqlalchemy_url"])
    started = time.perf_counter()
    frame.to_sql(args["table"], engine, if_exists="append", index=False)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"rows": len(frame), "seconds": seconds}


def row_by_row(args: dict[str, Any]) -> Result:
    """What a hand-written load Lambda does: pg8000, one INSERT per row, one commit."""
    import pg8000

    rows = _rows(args["parquet"], args["limit"])
    conn = pg8000.connect(user=args["user"], database=args["dbname"], unix_sock=args["socket"])
    started = time.perf_counter()
    cur = conn.cursor()
    statement = _insert_sql(args["table"])
    for row in rows:
        cur.execute(statement, row)
    conn.commit()
    seconds = time.perf_counter() - started
    conn.close()
    return {"rows": len(rows), "seconds": seconds}


METHODS: dict[str, Callable[[dict[str, Any]], Result]] = {
    "loadstar_facts": loadstar_facts,
    "loadstar_dims": loadstar_dims,
    "loadstar_history": loadstar_history,
    "loadstar_latency": loadstar_latency,
    "server_copy": server_copy,
    "server_copy_fair": server_copy_fair,
    "psycopg_executemany": psycopg_executemany,
    "pandas_to_sql": pandas_to_sql,
    "row_by_row": row_by_row,
}


class _NoPandas(importlib.abc.MetaPathFinder):
    """Makes ``import pandas`` fail, as in a Lambda package without it, and notes
    that something tried: a load that never saw a DataFrame must not."""

    tried = False

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            if not _NoPandas.tried:
                print("pandas import tried from:", file=sys.stderr)
                traceback.print_stack(limit=40, file=sys.stderr)
            _NoPandas.tried = True
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def main() -> None:
    method, args = sys.argv[1], json.loads(sys.argv[2])
    if method.startswith("loadstar"):
        # loadstar's Lambda package has no pandas; without this, pyarrow's
        # first conversion of a Python value imports it (0.17 s) because the
        # benchmark's environment has it for the baselines.
        sys.meta_path.insert(0, _NoPandas())
    if os.environ.get("LOADSTAR_BENCH_CSV"):
        # As on a platform without a pgpq wheel.
        import loadstar.warehouse.copy

        loadstar.warehouse.copy._pgpq = None
    if os.environ.get("LOADSTAR_BENCH_PER_ROW"):
        # As for a role without the session_replication_role grant.
        import loadstar.warehouse.foreign_keys

        loadstar.warehouse.foreign_keys._may_set_replica_role = lambda conn: False
    result = METHODS[method](args)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["pandas_imported"] = _NoPandas.tried or "pandas" in sys.modules
    print(json.dumps(result))


if __name__ == "__main__":
    main()
