"""``make soak``: many rounds of files landing while runs are hit by faults.

Each round lands new files (new sales orders, updates, re-emitted rows, now
and then a dimension update), starts a run as a real process, and hits it
with a random fault: a SIGKILL at a random moment or at an S3 call, the
backend terminated, every connection dropped, the warehouse refusing
connections, S3 throttling or failing or resetting, an overlapping run, S3
notifications handled while a sweep runs, or delivered again after it. A
final clean run follows; then every table is compared with what the files
describe, computed from the files alone.

    python tests/soak.py --rounds 50
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from mypy_boto3_s3 import S3Client

from faults import (
    EventLoader,
    Loader,
    PgProxy,
    Rule,
    S3FaultProxy,
    backend_running,
    pg_socket_path,
    s3_notification,
)
from loadstar.dev.local import LOCAL_AWS_ENV, LocalServices
from loadstar.dev.sample import (
    DIMENSION_KEYS,
    START,
    SampleFile,
    dimension_files,
    sales_order_rows,
    sales_order_table,
    staff_table,
    stamp,
)
from loadstar.warehouse.schema import init_warehouse
from support import (
    expected_dimensions,
    expected_facts,
    put_files,
    warehouse_dimensions,
    warehouse_facts,
)

FAULTS = (
    "none",
    "kill at a random moment",
    "kill while listing",
    "kill while downloading",
    "kill before the tag",
    "backend terminated",
    "connections dropped",
    "warehouse refusing connections",
    "S3 throttling",
    "S3 server errors",
    "S3 connection reset",
    "overlapping runs",
    "events and a sweep at once",
    "events delivered twice, late",
)


@dataclass
class Landing:
    """What the upstream pipeline writes, round after round."""

    rng: random.Random
    moment: datetime = START
    next_order: int = 1
    next_staff: int = 21
    emitted: list[dict[str, Any]] = field(default_factory=list)
    files: list[SampleFile] = field(default_factory=list)

    def first(self) -> list[SampleFile]:
        landed = dimension_files(self.moment)
        self.files += landed
        return landed

    def round(self) -> list[SampleFile]:
        self.moment += timedelta(minutes=15, seconds=self.rng.randint(0, 59))
        landed = []
        if self.rng.random() < 0.3:
            moved = self.rng.sample(range(1, self.next_staff), 2)
            table = staff_table([*moved, self.next_staff], self.rng, suffix=" (moved)")
            self.next_staff += 1
            landed.append(
                SampleFile(f"dimension/staff-{stamp(self.moment)}.parquet", "dim_staff", table)
            )
            self.moment += timedelta(seconds=1)
        rows = sales_order_rows(
            range(self.next_order, self.next_order + 150), self.rng, self.moment
        )
        self.next_order += 150
        if self.emitted:
            latest = {r["sales_order_id"]: r for r in self.emitted}
            for old in self.rng.sample(
                sorted(latest.values(), key=lambda r: r["sales_order_id"]), min(15, len(latest))
            ):
                rows.append(
                    {
                        **old,
                        "last_updated_date": self.moment.date(),
                        "last_updated_time": self.moment.time(),
                        "units_sold": old["units_sold"] + 1,
                    }
                )
            rows += self.rng.sample(self.emitted, min(8, len(self.emitted)))
        rows.append(dict(rows[0]))
        for row in rows:
            row["sales_staff_id"] = min(row["sales_staff_id"], self.next_staff - 1)
        self.emitted += rows
        landed.append(
            SampleFile(
                f"fact/sales_order-{stamp(self.moment)}.parquet",
                "fact_sales_order",
                sales_order_table(rows),
            )
        )
        self.files += landed
        return landed


@dataclass
class Soak:
    stack: LocalServices
    database: str
    bucket: str
    s3: S3Client
    rng: random.Random
    s3_proxy: S3FaultProxy
    pg_proxy: PgProxy
    previous: list[str] = field(default_factory=list)
    """The keys the round before landed."""

    def env(self) -> dict[str, str]:
        dbname = psycopg.conninfo.conninfo_to_dict(self.database)["dbname"]
        return {
            **LOCAL_AWS_ENV,
            "AWS_ENDPOINT_URL": self.s3_proxy.url,
            "LOADSTAR_DATABASE_URL": self.pg_proxy.url(str(dbname)),
            "LOADSTAR_BUCKET": self.bucket,
            "LOADSTAR_LOG_LEVEL": "ERROR",
        }

    def hit(self, fault: str, landed: list[SampleFile]) -> None:
        """Start a run and apply ``fault`` to it; return once it is over."""
        proxy, env = self.s3_proxy, self.env()
        event = s3_notification(self.bucket, [f.key for f in landed])
        if fault.startswith("kill while") or fault == "kill before the tag":
            pattern = {
                "kill while listing": ("GET", r"list-type=2"),
                "kill while downloading": ("GET", r"^/[^/?]+/(fact|dimension)/[^?]+$"),
                "kill before the tag": ("PUT", r"\?tagging"),
            }[fault]
            rule = proxy.add(Rule(*pattern, "hold"))
            loader = Loader(env)
            if rule.reached.wait(timeout=30):
                loader.kill()
            rule.release.set()
            loader.process.wait(timeout=60)
        elif fault == "kill at a random moment":
            loader = Loader(env)
            time.sleep(self.rng.uniform(0.1, 2.0))
            loader.kill()
        elif fault in ("backend terminated", "connections dropped"):
            loader = Loader(env)
            try:
                _wait(backend_running(self.database, r"^(COPY|INSERT)"), timeout=15)
                if fault == "connections dropped":
                    self.pg_proxy.sever()
                else:
                    with psycopg.connect(self.database, autocommit=True) as conn:
                        conn.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = 'loadstar' AND state = 'active'"
                        )
            except TimeoutError:
                pass  # the run was over before the fault could hit it
            loader.wait()
        elif fault == "warehouse refusing connections":
            self.pg_proxy.refusing.set()
            threading.Timer(self.rng.uniform(0.3, 2.0), self.pg_proxy.refusing.clear).start()
            Loader(env).wait()
        elif fault.startswith("S3 "):
            action = {
                "S3 throttling": Rule("GET", r"", "status", times=3, status=503, code="SlowDown"),
                "S3 server errors": Rule(
                    "GET",
                    r"/(fact|dimension)/",
                    "status",
                    times=6,
                    status=500,
                    code="InternalError",
                ),
                "S3 connection reset": Rule("GET", r"^/[^/?]+/fact/[^?]+$", "truncate"),
            }
            proxy.add(action[fault])
            Loader(env).wait()
        elif fault == "overlapping runs":
            runs = [Loader(env) for _ in range(3)]
            for run in runs:
                run.wait()
        elif fault == "events and a sweep at once":
            # Notifications for this round's files, one of them duplicated,
            # while a scheduled sweep lists and loads the same tables.
            started = [EventLoader(env, event), Loader(env), EventLoader(env, event)]
            for run in started:
                run.wait()
        elif fault == "events delivered twice, late":
            # Delivered again after a sweep loaded them, and an older round's too.
            Loader(env).wait()
            EventLoader(env, event).wait()
            if self.previous:
                EventLoader(env, s3_notification(self.bucket, self.previous)).wait()
        else:
            Loader(env).wait()
        self.previous = [f.key for f in landed]
        proxy.rules.clear()
        self.pg_proxy.refusing.clear()


def _wait(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.02)


def run_soak(stack: LocalServices, rounds: int, seed: int) -> dict[str, Any]:
    """The soak, on a fresh database and bucket of ``stack``; its figures."""
    rng = random.Random(seed)
    name = f"soak_{seed}_{rng.randrange(10**6)}"
    database = stack.create_database(name)
    with psycopg.connect(database, autocommit=True) as conn:
        init_warehouse(conn)
    s3: S3Client = stack.client("s3")
    bucket = f"soak-{seed}-{rng.randrange(10**6)}"
    s3.create_bucket(Bucket=bucket)
    s3_proxy = S3FaultProxy(stack.endpoint_url).start()
    pg_proxy = PgProxy(pg_socket_path(database)).start()
    soak = Soak(stack, database, bucket, s3, rng, s3_proxy, pg_proxy)
    landing = Landing(rng)
    faults: dict[str, int] = {}
    started = time.monotonic()
    try:
        put_files(s3, bucket, landing.first())
        for _ in range(rounds):
            landed = landing.round()
            put_files(s3, bucket, landed)
            fault = rng.choice(FAULTS)
            faults[fault] = faults.get(fault, 0) + 1
            soak.hit(fault, landed)
        code, out, err = Loader(soak.env()).wait()
        final = json.loads(out) if out.strip() else {"status": f"exit {code}: {err[-500:]}"}
        with psycopg.connect(database, autocommit=True) as conn:
            figures = _compare(conn, landing.files)
            ledger_ok = _ledger_agrees(conn, bucket, landing.files)
    finally:
        s3_proxy.stop()
        pg_proxy.stop()
    return {
        "rounds": rounds,
        "faults injected": sum(n for f, n in faults.items() if f != "none"),
        **figures,
        "ledger agrees": ledger_ok,
        "final run": final.get("status"),
        "faults": faults,
        "seconds": round(time.monotonic() - started, 1),
    }


def _compare(conn: psycopg.Connection[Any], files: list[SampleFile]) -> dict[str, int]:
    dims = expected_dimensions(files)
    found_dims = warehouse_dimensions(conn, list(DIMENSION_KEYS))
    facts = expected_facts(files)
    found_facts = warehouse_facts(conn)
    key_at = [0, 3, 4]  # sales_order_id, last_updated_date, last_updated_time
    versions = [tuple(f[i] for i in key_at) for f in found_facts]
    expected_rows = sum(len(rows) for rows in dims.values()) + len(facts)
    found_rows = sum(len(rows) for rows in found_dims.values()) + len(found_facts)
    missing = sum(len(set(rows) - set(found_dims.get(t, []))) for t, rows in dims.items())
    missing += len(set(facts) - set(found_facts))
    return {
        "rows expected": expected_rows,
        "rows found": found_rows,
        "duplicates": len(versions) - len(set(versions)),
        "missing": missing,
        "unexpected": found_rows - (expected_rows - missing),
    }


def _ledger_agrees(conn: psycopg.Connection[Any], bucket: str, files: list[SampleFile]) -> bool:
    rows = conn.execute(
        "SELECT key, status, rows_written, table_name FROM loadstar.load_ledger WHERE bucket = %s",
        (bucket,),
    ).fetchall()
    loaded = {key for key, status, _, _ in rows if status == "loaded"}
    written = sum(
        n for _, status, n, table in rows if status == "loaded" and table == "fact_sales_order"
    )
    count = conn.execute("SELECT count(*) FROM fact_sales_order").fetchone()
    return loaded == {f.key for f in files} and count is not None and written == count[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="loadstar-soak-") as tmp,
        LocalServices(Path(tmp)) as stack,
    ):
        result = run_soak(stack, args.rounds, args.seed)
    print(
        ", ".join(
            f"{k}: {result[k]}"
            for k in (
                "rounds",
                "faults injected",
                "rows expected",
                "rows found",
                "duplicates",
                "missing",
            )
        )
    )
    print(json.dumps(result, indent=2))
    ok = (
        result["duplicates"] == 0
        and result["missing"] == 0
        and result["unexpected"] == 0
        and result["ledger agrees"]
    )
    print("soak: OK" if ok else "soak: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
