"""``make bench``: loadstar against the ways people load Parquet into PostgreSQL.

One run, one machine, the same rows for every method:

1. generates a 1M-row sales-order file (and a 5M-row one for the memory
   curve) with the types a pandas transform writes, into moto's S3 server;
2. loads it with loadstar end to end (S3 → warehouse through
   ``load_fact_table``) and with the baselines: row-by-row INSERT through
   pg8000 (on a 50k-row slice, extrapolated), pandas ``to_sql``, psycopg
   ``executemany``, and the server's own ``COPY … FROM 'file'`` in binary and
   CSV — the fastest the server can ingest those rows;
3. in two warehouses: (a) the fact table with no foreign keys and no version
   key, (b) the real star schema with its foreign keys and version key;
4. times a 100k-row dimension upsert in which 10% of the rows changed;
5. measures how the time and S3 LIST calls of a scheduled sweep and of an
   event invocation grow with the files already loaded: 1,000, 10,000, 100,000;
6. lands a 1,000-row fact file each second for two minutes while a poller
   acts as Lambda's SQS event source mapping, and times landed → committed;
7. prints one table of rows/s, ratios and peak RSS, and writes
   ``bench/results.json``.

Every load runs in a fresh process (``bench.worker``), timed as a warm
Lambda invocation: the S3 client made and the import-time objects frozen
before the clock starts, as each baseline's connection is opened before its
own. ``--quick`` runs the same code on tiny data, for the smoke test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from bench import data
from bench.worker import FACT_COLUMNS
from loadstar.config import DEFAULT_LEDGER_SCHEMA
from loadstar.dev.local import LocalServices
from loadstar.dev.sample import stamp
from loadstar.warehouse.ledger import ensure_ledger
from loadstar.warehouse.schema import init_warehouse

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HERE = Path(__file__).parent
FACT = "fact_sales_order"
START = dt.datetime(2024, 5, 24, 14, 35, 22, 123456)


PRELOAD_LEDGER = """
    INSERT INTO loadstar.load_ledger (bucket, key, table_name, etag, size_bytes, file_instant,
                                      status, rows_in_file, rows_written, attempts, loaded_at)
    SELECT %s, k, %s, e, %s, %s::timestamptz + make_interval(mins => i::int), 'loaded',
           %s, %s, 1, now()
    FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS t(k, e, i)
"""

PRELOAD_FACTS = """
    INSERT INTO fact_sales_order (
        sales_order_id, created_date, created_time, last_updated_date, last_updated_time,
        sales_staff_id, counterparty_id, units_sold, unit_price, currency_id, design_id,
        agreed_payment_date, agreed_delivery_date, agreed_delivery_location_id)
    SELECT g, date '2022-01-01' + g %% 1000, time '10:00', date '2022-01-01' + g %% 1000,
           time '10:00' + make_interval(secs => g %% 3600), 1 + g %% 20, 1 + g %% 20,
           1000 + g %% 9000, 2.5, 1 + g %% 3, 1 + g %% 300, date '2022-02-01' + g %% 1000,
           date '2022-02-03' + g %% 1000, 1 + g %% 30
    FROM generate_series(%s::int, %s::int) AS g
"""


@dataclass(frozen=True)
class Sizes:
    rows: int
    big_rows: int
    row_by_row_rows: int
    dimension_rows: int
    history: tuple[int, ...]
    history_file_rows: int
    history_new_rows: int
    repeats: int

    latency_files: int
    latency_rows: int


FULL = Sizes(
    1_000_000, 5_000_000, 50_000, 100_000, (1_000, 10_000, 100_000), 10, 1_000, 3, 120, 1_000
)
QUICK = Sizes(3_000, 12_000, 500, 2_000, (5, 10, 20), 5, 50, 1, 4, 50)
SCHEDULE_MINUTES = 15
"""The Terraform module's default schedule, for the latency a schedule gives."""


class Bench:
    def __init__(self, stack: LocalServices, sizes: Sizes, workdir: Path) -> None:
        self.stack = stack
        self.sizes = sizes
        self.workdir = workdir
        self.env = {
            **os.environ,
            **stack.environment(),
            "LOADSTAR_LOG_LEVEL": "WARNING",
        }
        self.s3: S3Client = stack.client("s3")
        self.results: dict[str, Any] = {"methods": [], "memory": [], "history": []}
        self.case = ""

    # -- plumbing ---------------------------------------------------------------------------

    def worker(
        self, method: str, args: dict[str, Any], env: dict[str, str] | None = None
    ) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "bench.worker", method, json.dumps(args)],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
            cwd=HERE.parent,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{method} failed:\n{done.stderr[-6000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        if result.get("pandas_imported") and method.startswith("loadstar"):
            print(done.stderr[-3000:], file=sys.stderr)
        return result

    def database(self, name: str, *, foreign_keys: bool) -> str:
        url = self.stack.create_database(name)
        with psycopg.connect(url, autocommit=True) as conn:
            init_warehouse(conn)
            ensure_ledger(conn, DEFAULT_LEDGER_SCHEMA)
            if not foreign_keys:
                for (constraint,) in conn.execute(
                    "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
                    "AND contype = 'f'",
                    (FACT,),
                ).fetchall():
                    conn.execute(
                        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                            sql.Identifier(FACT), sql.Identifier(constraint)
                        )
                    )
                conn.execute("DROP INDEX fact_sales_order_version")
        return url

    def bucket(self, name: str) -> str:
        self.s3.create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, body: bytes) -> str:
        return self.s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')

    def reset(self, url: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(sql.Identifier(FACT)))
            # The whole ledger: the listing watermarks too, or the next run starts
            # listing after the very file it is meant to load again.
            conn.execute(
                "TRUNCATE loadstar.load_ledger, loadstar.table_state, loadstar.key_versions"
            )

    def count(self, url: str) -> int:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(FACT))
            ).fetchone()
            return int(row[0]) if row else 0

    def record(
        self, warehouse: str, method: str, result: dict[str, Any], expected: int, note: str = ""
    ) -> dict[str, Any]:
        rows = int(result["rows"])
        entry = {
            "warehouse": warehouse,
            "method": method,
            "rows": rows,
            "rows_ok": rows == expected,
            "seconds": round(result["seconds"], 3),
            "rows_per_second": round(rows / result["seconds"]) if result["seconds"] else None,
            "peak_rss_mb": result.get("peak_rss_mb"),
            "pandas_imported": result.get("pandas_imported"),
            "case": self.case,
            "note": note,
        }
        self.results["methods"].append(entry)
        pandas = " (pandas imported)" if entry["pandas_imported"] else ""
        print(
            f"  {warehouse} {method:<34} {entry['rows_per_second'] or 0:>10,} rows/s  "
            f"{entry['seconds']:>8.2f} s  {entry['peak_rss_mb']} MB{pandas}  {note}",
            flush=True,
        )
        return entry

    # -- the measurements -------------------------------------------------------------------

    def load_methods(
        self, case: str, rows: int, warehouses: list[str], *, baselines: bool = True
    ) -> None:
        """Every method on one file of ``case``: "real" (as ``DataFrame.to_parquet``
        writes it: one row group, times as strings) or "generated" (times as
        ``time64``, pyarrow's row groups)."""
        n = rows
        if case == "real":
            body = data.real_shape_parquet(n)
            shape = "pandas-written, one row group, string times, float prices"
        else:
            body = data.parquet(data.fact_table(n))
            shape = "generated, time64 times, pyarrow's row groups"
        local = self.workdir / f"facts-{case}-{n}.parquet"
        local.write_bytes(body)
        self.results.setdefault("data", []).append(
            {"case": case, "rows": n, "parquet_bytes": len(body), "shape": shape}
        )
        print(
            f"[{case} {n:,}] fact file: {len(body) / 1e6:.1f} MB snappy Parquet ({shape})",
            flush=True,
        )
        copy_dir = self.workdir / f"server-files-{case}-{n}"
        copy_dir.mkdir(mode=0o777)
        copy_dir.chmod(0o777)  # the server may run as another user
        self.case = f"{case} {n:,}"

        for warehouse in warehouses:
            foreign_keys = warehouse == "b"
            print(
                f"warehouse ({warehouse}): "
                + (
                    "star schema, foreign keys, version key"
                    if foreign_keys
                    else "no foreign keys, no version key"
                ),
                flush=True,
            )
            url = self.database(f"bench_{case}_{n}_{warehouse}", foreign_keys=foreign_keys)
            env = {"LOADSTAR_DATABASE_URL": url}
            if foreign_keys:
                self.load_dimensions(url)
            else:
                config = self.workdir / "no-version-key.toml"
                config.write_text(f"[tables.{FACT}]\nversion_key = []\n")
                env["LOADSTAR_CONFIG"] = str(config)
            bucket = self.bucket(f"bench-{case}-{n}-{warehouse}")
            self.put(bucket, f"fact/sales_order-{stamp(START)}.parquet", body)

            repeats = self.sizes.repeats if not foreign_keys else 1
            runs = []
            for _ in range(repeats):
                self.reset(url)
                runs.append(self.worker("loadstar_facts", {"bucket": bucket}, env))
            best = min(runs, key=lambda r: r["seconds"])
            assert self.count(url) == n, "loadstar loaded a different number of rows"
            self.record(warehouse, "loadstar", best, n, "S3 → warehouse, end to end")
            if foreign_keys:
                self.reset(url)
                per_row = self.worker(
                    "loadstar_facts", {"bucket": bucket}, {**env, "LOADSTAR_BENCH_PER_ROW": "1"}
                )
                self.record(
                    warehouse,
                    "loadstar (per-row FK checks)",
                    per_row,
                    n,
                    "without the replica-role grant",
                )
            if not foreign_keys:
                self.reset(url)
                fallback = self.worker(
                    "loadstar_facts", {"bucket": bucket}, {**env, "LOADSTAR_BENCH_CSV": "1"}
                )
                self.record(warehouse, "loadstar (CSV fallback)", fallback, n, "without pgpq")

            for fmt in ("binary", "csv"):
                path = copy_dir / f"facts-{warehouse}.{fmt}"
                self.export(url, path, fmt)
                if fmt == "binary" and foreign_keys:
                    self.reset(url)
                    fair = self.worker(
                        "server_copy_fair", {"url": url, "table": FACT, "path": str(path)}
                    )
                    self.record(
                        warehouse,
                        "server COPY, keys validated after",
                        fair,
                        n,
                        "the fair limit: COPY without its foreign keys, then each validated",
                    )
                runs = []
                for _ in range(repeats):
                    self.reset(url)
                    runs.append(
                        self.worker(
                            "server_copy",
                            {"url": url, "table": FACT, "path": str(path), "format": fmt},
                        )
                    )
                best = min(runs, key=lambda r: r["seconds"])
                self.record(warehouse, f"server COPY FROM file ({fmt})", best, n, "the limit")

            if not baselines:
                continue
            baseline = {"parquet": str(local), "table": FACT, "url": url}
            self.reset(url)
            self.record(
                warehouse,
                "pandas to_sql",
                self.worker(
                    "pandas_to_sql", {**baseline, "sqlalchemy_url": self.sqlalchemy_url(url)}
                ),
                n,
            )
            self.reset(url)
            self.record(
                warehouse, "psycopg executemany", self.worker("psycopg_executemany", baseline), n
            )
            self.reset(url)
            params = psycopg.conninfo.conninfo_to_dict(url)
            slice_rows = self.sizes.row_by_row_rows
            self.record(
                warehouse,
                "row-by-row INSERT (pg8000)",
                self.worker(
                    "row_by_row",
                    {
                        **baseline,
                        "limit": slice_rows,
                        "user": params["user"],
                        "dbname": params["dbname"],
                        "socket": f"{params['host']}/.s.PGSQL.5432",
                    },
                ),
                slice_rows,
                f"{slice_rows:,}-row slice; rows/s extrapolated",
            )

    def export(self, url: str, path: Path, fmt: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL(
                    "COPY (SELECT {} FROM {} ORDER BY sales_record_id) TO {} (FORMAT {})"
                ).format(
                    sql.SQL(", ").join(sql.Identifier(c) for c in FACT_COLUMNS),
                    sql.Identifier(FACT),
                    sql.Literal(str(path)),
                    sql.SQL(fmt),
                )
            )

    def sqlalchemy_url(self, url: str) -> str:
        params = psycopg.conninfo.conninfo_to_dict(url)
        return f"postgresql+psycopg://{params['user']}@/{params['dbname']}?host={params['host']}"

    def load_dimensions(self, url: str) -> None:
        import loadstar

        previous = os.environ.get("LOADSTAR_DATABASE_URL")
        os.environ["LOADSTAR_DATABASE_URL"] = url
        try:
            for name, table in data.dimension_tables().items():
                loadstar.load_to_warehouse(table, name)
        finally:
            if previous is None:
                os.environ.pop("LOADSTAR_DATABASE_URL")
            else:
                os.environ["LOADSTAR_DATABASE_URL"] = previous

    def memory_curve(self) -> None:
        print("memory: peak RSS loading one file (warehouse a)", flush=True)
        url = self.database("bench_memory", foreign_keys=False)
        config = self.workdir / "no-version-key.toml"
        config.write_text(f"[tables.{FACT}]\nversion_key = []\n")
        env = {"LOADSTAR_DATABASE_URL": url, "LOADSTAR_CONFIG": str(config)}
        small, big = self.sizes.rows, self.sizes.big_rows
        files: list[tuple[str, int, Callable[[], bytes]]] = [
            ("real, one row group", small, lambda: data.real_shape_parquet(small)),
            ("real, one row group", big, lambda: data.real_shape_parquet(big)),
            (
                "generated, 10 row groups",
                big,
                lambda: data.parquet(data.fact_table(big, seed=big), row_group_rows=big // 10),
            ),
        ]
        for label, rows, make in files:
            body = make()
            bucket = self.bucket(f"bench-memory-{len(self.results['memory'])}")
            self.put(bucket, f"fact/sales_order-{stamp(START)}.parquet", body)
            self.reset(url)
            result = self.worker("loadstar_facts", {"bucket": bucket}, env)
            entry = {
                "file": label,
                "rows": rows,
                "parquet_bytes": len(body),
                "seconds": round(result["seconds"], 3),
                "rows_per_second": round(rows / result["seconds"]),
                "peak_rss_mb": result["peak_rss_mb"],
                "pandas_imported": result["pandas_imported"],
                "rows_ok": self.count(url) == rows,
            }
            self.results["memory"].append(entry)
            print(
                f"  {label:<26}{rows:>10,} rows  {len(body) / 1e6:7.1f} MB  "
                f"peak RSS {entry['peak_rss_mb']} MB  {entry['rows_per_second']:,} rows/s",
                flush=True,
            )

    def dimension_upsert(self) -> None:
        n = self.sizes.dimension_rows
        print(f"dimension upsert: {n:,} counterparties, 10% changed", flush=True)
        url = self.database("bench_dimension", foreign_keys=True)
        bucket = self.bucket("bench-dimension")
        env = {"LOADSTAR_DATABASE_URL": url}
        self.put(
            bucket,
            f"dimension/counterparty-{stamp(START)}.parquet",
            data.parquet(data.counterparties(n)),
        )
        first = self.worker("loadstar_dims", {"bucket": bucket}, env)
        later = START + dt.timedelta(hours=1)
        self.put(
            bucket,
            f"dimension/counterparty-{stamp(later)}.parquet",
            data.parquet(data.counterparties(n, changed_every=10)),
        )
        second = self.worker("loadstar_dims", {"bucket": bucket}, env)
        self.results["dimension_upsert"] = {
            "rows": n,
            "initial_load_seconds": round(first["seconds"], 3),
            "upsert_seconds": round(second["seconds"], 3),
            "rows_written": second["rows"],
            "expected_rows_written": (n + 9) // 10,
        }
        print(
            f"  first load {first['seconds']:.2f} s; upsert of {n:,} rows with "
            f"{second['rows']:,} changed: {second['seconds']:.2f} s",
            flush=True,
        )

    def history(self) -> None:
        print("history: one new file, with many files already loaded", flush=True)
        url = self.database("bench_history", foreign_keys=True)
        bucket = self.bucket("bench-history")
        env = {"LOADSTAR_DATABASE_URL": url}
        self.load_dimensions(url)
        tiny = data.parquet(data.fact_table(1, first_id=0))
        loaded, next_id = 0, 10_000_000
        new_files = 0

        def new_file() -> str:
            nonlocal new_files, next_id
            new_files += 1
            key = f"fact/sales_order-{stamp(START + dt.timedelta(days=400, minutes=new_files))}"
            key += ".parquet"
            rows = self.sizes.history_new_rows
            self.put(bucket, key, data.parquet(data.fact_table(rows, first_id=next_id)))
            next_id += rows
            return key

        for target in self.sizes.history:
            self.preload(url, bucket, tiny, loaded, target)
            loaded = target
            # Steady state: one full listing has set each table's watermark.
            new_file()
            full = {**env, "LOADSTAR_FULL_LISTING_INTERVAL_SECONDS": "0"}
            self.worker("loadstar_history", {"bucket": bucket}, full)
            entry: dict[str, Any] = {
                "files_loaded_before": target,
                "fact_rows_before": self.count(url),
            }
            for mode in ("sweep", "event"):
                runs = []
                for _ in range(3):
                    key = new_file()
                    args = {"bucket": bucket, "event_key": key if mode == "event" else None}
                    run = self.worker("loadstar_history", args, env)
                    assert run["files_loaded"] == 1, f"{mode} loaded {run['files_loaded']} files"
                    runs.append(run)
                entry[mode] = {
                    "seconds": round(statistics.median(r["seconds"] for r in runs), 4),
                    "outside_listing_seconds": round(
                        statistics.median(r["outside_listing_seconds"] for r in runs), 4
                    ),
                    "listing_calls": max(r["listing_calls"] for r in runs),
                    "listing_seconds": round(
                        statistics.median(r["listing_seconds"] for r in runs), 4
                    ),
                    "runs": runs,
                }
            self.results["history"].append(entry)
            sweep, event = entry["sweep"], entry["event"]
            print(
                f"  {target:>7,} files loaded: sweep {sweep['outside_listing_seconds'] * 1000:.0f}"
                f" ms + {sweep['listing_seconds'] * 1000:.0f} ms in {sweep['listing_calls']} LIST"
                f" calls; event {event['outside_listing_seconds'] * 1000:.0f} ms + "
                f"{event['listing_seconds'] * 1000:.0f} ms in {event['listing_calls']} LIST calls",
                flush=True,
            )

    def latency(self) -> None:
        n, rows = self.sizes.latency_files, self.sizes.latency_rows
        print(f"latency: {n} fact files of {rows:,} rows landing once a second", flush=True)
        url = self.database("bench_latency", foreign_keys=True)
        bucket = self.bucket("bench-latency")
        self.load_dimensions(url)
        sqs = self.stack.client("sqs")
        queue = sqs.create_queue(QueueName="bench-latency")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        self.s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": arn["Attributes"]["QueueArn"],
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "fact/"}]}},
                    }
                ]
            },
        )
        sqs.purge_queue(QueueUrl=queue)  # S3's test event
        keys, paths = [], []
        for i in range(n):
            keys.append(
                f"fact/sales_order-{stamp(START + dt.timedelta(days=800, seconds=i))}.parquet"
            )
            path = self.workdir / f"latency-{i}.parquet"
            path.write_bytes(data.parquet(data.fact_table(rows, first_id=20_000_000 + i * rows)))
            paths.append(str(path))
        env = {"LOADSTAR_DATABASE_URL": url, "LOADSTAR_BUCKET": bucket}
        args = {
            "queue_url": queue,
            "bucket": bucket,
            "keys": keys,
            "paths": paths,
            "interval": 1.0,
            "window": 1.0,
            "batch_size": 100,
        }
        result = self.worker("loadstar_latency", args, env)
        lags = sorted(result["latencies"])
        assert len(lags) == n, f"{n - len(lags)} files were not loaded"
        assert self.count(url) == n * rows, "the latency run loaded a different number of rows"
        p50 = statistics.median(lags)
        p95 = lags[min(len(lags) - 1, round(0.95 * (len(lags) - 1)))]
        schedule = SCHEDULE_MINUTES * 60 / 2
        self.results["latency"] = {
            "files": n,
            "rows_per_file": rows,
            "p50_seconds": round(p50, 3),
            "p95_seconds": round(p95, 3),
            "max_seconds": round(lags[-1], 3),
            "invocations": result["invocations"],
            "batch_failures": result["batch_failures"],
            "schedule_mean_seconds": schedule,
        }
        print(
            f"  landed → committed: p50 {p50:.2f} s, p95 {p95:.2f} s, max {lags[-1]:.2f} s "
            f"over {result['invocations']} invocations (goal: p95 under 5 s); "
            f"a {SCHEDULE_MINUTES}-minute schedule: {schedule:.0f} s on average",
            flush=True,
        )

    def preload(self, url: str, bucket: str, body: bytes, start: int, stop: int) -> None:
        """Files ``start..stop`` as if already loaded: objects, ledger rows, fact rows."""
        keys = [
            f"fact/sales_order-{stamp(START + dt.timedelta(minutes=k))}.parquet"
            for k in range(start, stop)
        ]
        with ThreadPoolExecutor(max_workers=8) as pool:
            etags = list(pool.map(lambda key: self.put(bucket, key, body), keys))
        rows = self.sizes.history_file_rows
        with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
            conn.execute(
                PRELOAD_LEDGER,
                (
                    bucket,
                    FACT,
                    len(body),
                    START.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=start - 1),
                    rows,
                    rows,
                    keys,
                    etags,
                ),
            )
            # Fact rows to match, written set-wise with the foreign keys checked
            # once afterwards rather than row by row.
            constraints = conn.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'f'",
                (FACT,),
            ).fetchall()
            for name, _ in constraints:
                conn.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                        sql.Identifier(FACT), sql.Identifier(name)
                    )
                )
            first, last = start * rows + 1, stop * rows
            conn.execute(PRELOAD_FACTS, (first, last))
            for name, definition in constraints:
                conn.execute(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                        sql.Identifier(FACT), sql.Identifier(name)
                    )
                    + sql.SQL(definition)
                )
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE fact_sales_order")
            conn.execute("VACUUM ANALYZE loadstar.load_ledger")


def summarise(results: dict[str, Any]) -> None:
    methods = results["methods"]
    print("\n" + "=" * 112)
    print(
        f"{'case':<16}{'wh':<4}{'method':<36}{'rows/s':>11}{'x binary COPY':>15}"
        f"{'x fair':>8}{'loadstar x':>12}{'RSS MB':>8}{'pandas':>8}"
    )
    ratios: dict[str, dict[str, float]] = {}
    for case, warehouse in sorted({(m["case"], m["warehouse"]) for m in methods}):
        rows = [m for m in methods if (m["case"], m["warehouse"]) == (case, warehouse)]
        limit = next(m for m in rows if m["method"] == "server COPY FROM file (binary)")
        fair = next((m for m in rows if m["method"] == "server COPY, keys validated after"), None)
        ours = next(m for m in rows if m["method"] == "loadstar")
        group = ratios.setdefault(f"{case} ({warehouse})", {})
        for m in rows:
            vs_limit = m["rows_per_second"] / limit["rows_per_second"]
            vs_fair = m["rows_per_second"] / fair["rows_per_second"] if fair else None
            ours_vs = ours["rows_per_second"] / m["rows_per_second"]
            group[m["method"]] = round(ours_vs, 2)
            m["ratio_to_server_binary_copy"] = round(vs_limit, 3)
            if vs_fair is not None:
                m["ratio_to_fair_limit"] = round(vs_fair, 3)
            m["loadstar_speedup"] = round(ours_vs, 2)
            shown_fair = f"{vs_fair:>8.2f}" if vs_fair is not None else f"{'':>8}"
            pandas = {True: "yes", False: "no"}.get(m["pandas_imported"], "")
            print(
                f"{case:<16}{warehouse:<4}{m['method']:<36}{m['rows_per_second']:>11,}"
                f"{vs_limit:>15.2f}{shown_fair}{ours_vs:>12.1f}"
                f"{m['peak_rss_mb'] or '':>8}{pandas:>8}"
            )
    results["loadstar_speedup"] = ratios
    memory = results["memory"]
    if memory:
        first = memory[0]
        growth = max(m["peak_rss_mb"] for m in memory) / first["peak_rss_mb"]
        results["memory_growth"] = round(growth, 3)
        print(
            f"\npeak RSS: {first['peak_rss_mb']} MB for {first['rows']:,} real-shaped rows "
            "(goal ≤ 250); "
            + ", ".join(
                f"{m['peak_rss_mb']} MB for {m['rows']:,} ({m['file']})" for m in memory[1:]
            )
            + f" (x {growth:.2f}; goal ≤ 1.10)"
        )
    upsert = results.get("dimension_upsert")
    if upsert:
        print(
            f"dimension upsert: {upsert['rows']:,} rows, {upsert['rows_written']:,} changed, "
            f"{upsert['upsert_seconds']:.2f} s"
        )
    history = results["history"]
    if history:
        results["history_growth"] = {}
        # The local S3 server's LIST reads the whole bucket whatever StartAfter
        # says (S3's own is one page): a run's own time is taken outside it.
        for mode in ("sweep", "event"):
            own = [h[mode]["outside_listing_seconds"] for h in history]
            growth = own[-1] / own[0]
            results["history_growth"][mode] = round(growth, 3)
            print(
                f"{mode}, time outside S3 LIST calls by files already loaded: "
                + ", ".join(
                    f"{h['files_loaded_before']:,} → {t * 1000:.0f} ms "
                    f"({h[mode]['listing_calls']} LIST)"
                    for h, t in zip(history, own, strict=True)
                )
                + f" (x {growth:.2f}; goal under 1.5)"
            )
    latency = results.get("latency")
    if latency:
        print(
            f"event latency p50 {latency['p50_seconds']:.2f} s, p95 {latency['p95_seconds']:.2f} s "
            f"(goal under 5 s) vs a {SCHEDULE_MINUTES}-minute schedule's "
            f"{latency['schedule_mean_seconds']:.0f} s on average"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="tiny data: checks the code, not speed"
    )
    parser.add_argument("--out", default=str(HERE / "results.json"), help="where to write results")
    parser.add_argument(
        "--only",
        default="loads,memory,dimension,history,latency",
        help="comma-separated sections to run "
        "(default: all of loads,memory,dimension,history,latency)",
    )
    parser.add_argument(
        "--warehouses", default="a,b", help="warehouses for the loads section (default: a,b)"
    )
    parser.add_argument(
        "--no-baselines", action="store_true", help="loads: only loadstar and the server's COPY"
    )
    args = parser.parse_args(argv)
    sections = set(args.only.split(","))
    sizes = QUICK if args.quick else FULL
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="loadstar-bench-") as tmp, LocalServices() as stack:
        Path(tmp).chmod(0o755)  # the server, perhaps another user, reads and writes files here
        bench = Bench(stack, sizes, Path(tmp))
        bench.results["machine"] = {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "quick": args.quick,
        }
        if "loads" in sections:
            warehouses = args.warehouses.split(",")
            # The real shape first: it is what transforms write.
            bench.load_methods("real", sizes.rows, warehouses, baselines=False)
            bench.load_methods("generated", sizes.rows, warehouses, baselines=not args.no_baselines)
            bench.load_methods("real", sizes.big_rows, ["a"], baselines=False)
        if "memory" in sections:
            bench.memory_curve()
        if "dimension" in sections:
            bench.dimension_upsert()
        if "history" in sections:
            bench.history()
        if "latency" in sections:
            bench.latency()
        summarise(bench.results)
    bench.results["seconds"] = round(time.monotonic() - started, 1)
    Path(args.out).write_text(json.dumps(bench.results, indent=2, default=str))
    print(f"\nwrote {args.out} ({bench.results['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
