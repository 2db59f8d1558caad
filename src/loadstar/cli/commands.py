"""What each ``loadstar`` command does: read the settings, call run/ or ops/, print, exit.

Every command prints for people by default and for programs with ``--json``;
an exit code says how it went (`loadstar.cli.EXIT_*`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

from loadstar.aws import s3_client
from loadstar.cli import render
from loadstar.cli.codes import EXIT_CONFIG, EXIT_FAILED, EXIT_LOCKED, EXIT_OK
from loadstar.config import Settings, TableKind, load_settings
from loadstar.run import pipeline, report
from loadstar.telemetry.progress import TerminalProgress

# A run stopped by one of these needs its settings or its access fixed, not a file.
_SETTINGS_ERRORS = frozenset(
    {"ConfigError", "ConnectionFailedError", "AccessDeniedError", "LedgerError"}
)


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(
        bucket=args.bucket,
        database_url=args.database_url,
        db_secret=args.db_secret,
        config_path=args.config,
    )


def output(args: argparse.Namespace, data: Any, text: Callable[[], str]) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text())


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    kinds: tuple[TableKind, ...] = ("dimension",) if args.dimensions_only else ("dimension", "fact")
    progress = TerminalProgress() if sys.stderr.isatty() else None
    summary = pipeline.run(settings, kinds=kinds, progress=progress, full_listing=args.full_listing)
    if args.emf:
        report.emit(
            summary, sys.stderr, namespace=settings.metrics_namespace, service=settings.service
        )
    data = summary.to_dict()
    output(args, data, lambda: render.run_text(data))
    if summary.error is not None:
        print(f"loadstar: error: {summary.error['message']}", file=sys.stderr)
        if summary.error.get("hint"):
            print(f"hint: {summary.error['hint']}", file=sys.stderr)
    if summary.error is not None and summary.error["type"] in _SETTINGS_ERRORS:
        return EXIT_CONFIG
    if summary.failed or summary.attention:
        return EXIT_FAILED
    return EXIT_LOCKED if summary.busy else EXIT_OK


def plan(args: argparse.Namespace) -> int:
    from loadstar.ops.plan import plan
    from loadstar.ops.unclaimed import bucket_unclaimed

    settings = settings_from(args)
    s3 = s3_client()
    tables = list(plan(settings, s3, check_values=not args.schema_only))
    nobodys = bucket_unclaimed(s3, settings.require_bucket(), settings.tables)
    data = {
        "would_fail": not all(t.ok for t in tables),
        "values_checked": not args.schema_only,
        "tables": [t.to_dict() for t in tables],
        "unclaimed": nobodys.to_dict(),
    }
    output(args, data, lambda: render.plan_text(data))
    return EXIT_FAILED if data["would_fail"] else EXIT_OK


def status(args: argparse.Namespace) -> int:
    from loadstar.ops.status import table_status
    from loadstar.ops.unclaimed import bucket_unclaimed
    from loadstar.warehouse import Warehouse

    settings = settings_from(args)
    bucket, s3, now = settings.require_bucket(), s3_client(), datetime.now(UTC)
    with closing(Warehouse(settings, read_only=True)) as warehouse:
        warehouse.connect()
        tables = [table_status(warehouse, s3, bucket, t, settings.tables) for t in settings.tables]
    nobodys = bucket_unclaimed(s3, bucket, settings.tables)
    rows = [t.to_dict(now) for t in tables]
    ages = [r["oldest_pending_age_seconds"] for r in rows if r["pending"]]
    totals = {
        "files_loaded": sum(r["files_loaded"] for r in rows),
        "rows": sum(r["rows"] for r in rows),
        "pending": sum(r["pending"] for r in rows),
        "oldest_pending_age_seconds": max(ages) if ages else None,
        "failed": sum(len(r["failed"]) for r in rows),
        "errors": sum("error" in r for r in rows),
    }
    data = {"bucket": bucket, "tables": rows, "totals": totals, "unclaimed": nobodys.to_dict()}
    output(args, data, lambda: render.status_text(data))
    return EXIT_FAILED if totals["failed"] or totals["errors"] else EXIT_OK


def history(args: argparse.Namespace) -> int:
    from loadstar.ops.history import history

    entries = history(settings_from(args), table=args.table, limit=args.limit)
    data = [vars(e) for e in entries]
    output(args, data, lambda: render.history_text(data))
    return EXIT_OK


def replay(args: argparse.Namespace) -> int:
    from loadstar.ops.replay import replay

    settings = settings_from(args)
    progress = TerminalProgress() if sys.stderr.isatty() else None
    outcome = replay(settings, s3_client(), args.key, force=args.force, progress=progress)
    if outcome is None:
        message = "loadstar: another load holds the table's lock; try again when it ends"
        print(message, file=sys.stderr)
        return EXIT_LOCKED
    data = {
        "key": outcome.key,
        "table": outcome.table,
        "status": outcome.status,
        "rows": outcome.rows_in,
        "rows_written": outcome.rows_written,
        **({"reason": outcome.reason} if outcome.reason else {}),
    }
    output(
        args,
        data,
        lambda: (
            f"replayed {outcome.key}: {outcome.rows_in:,} rows read, "
            f"{outcome.rows_written:,} written to {outcome.table}"
            if outcome.status == "loaded"
            else f"replay of {outcome.key} {outcome.status}: {outcome.reason}"
        ),
    )
    return EXIT_OK if outcome.status == "loaded" else EXIT_FAILED


def skip(args: argparse.Namespace) -> int:
    from loadstar.ops.skip import skip

    table = skip(settings_from(args), s3_client(), args.key, args.reason)
    data = {"key": args.key, "table": table, "status": "skipped", "reason": args.reason}
    output(args, data, lambda: f"skipped {args.key} ({table}): later runs will not load it")
    return EXIT_OK


def init_db(args: argparse.Namespace) -> int:
    from loadstar.warehouse import Warehouse

    settings = settings_from(args)
    schema = args.schema or settings.schema
    with closing(Warehouse(settings)) as warehouse:
        warehouse.connect()
        warehouse.create_tables(schema)
        warehouse.ensure_ledger()
    data = {"schema": schema, "ledger_schema": settings.ledger_schema}
    output(
        args,
        data,
        lambda: (
            f"warehouse tables ready in schema {schema or '(search_path)'}; "
            f"ledger in {settings.ledger_schema}"
        ),
    )
    return EXIT_OK


def demo(args: argparse.Namespace) -> int:
    from loadstar.dev.demo import run_demo

    return run_demo()
