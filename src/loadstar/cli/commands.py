"""``loadstar``: the Lambda's runs, and what an operator needs around them, from a shell.

Settings are the Lambda's (environment, ``LOADSTAR_CONFIG``), and flags
override both. Every command prints for people by default and for programs
with ``--json``; logs go to stderr, as JSON lines unless stderr is a terminal.

Exit codes: 0 ok, 1 a file failed (or would, or has), 2 bad usage or settings
or an unreachable warehouse, 3 skipped because another run holds the lock.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import psycopg

from loadstar.config import Settings, TableKind, load_settings
from loadstar.errors import LoadstarError, RefusedError, TransientError
from loadstar.handler import freeze_startup_objects
from loadstar.run import pipeline
from loadstar.source.s3 import s3_client
from loadstar.telemetry import logs, metrics
from loadstar.telemetry.progress import TerminalProgress
from loadstar.warehouse import ledger

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logs.configure_logging(args.log_level, to_stderr=True, fmt=args.log_format)
    freeze_startup_objects()
    try:
        code: int = args.func(args)
    except (LoadstarError, psycopg.Error) as exc:
        # psycopg's errors here are the warehouse refusing a statement (a
        # privilege, a missing table): not a file that failed, so not exit 1.
        where = "warehouse: " if isinstance(exc, psycopg.Error) else ""
        print(f"loadstar: error: {where}{exc}".rstrip(), file=sys.stderr)
        print(f"hint: {_hint(exc)}", file=sys.stderr)
        return EXIT_CONFIG
    return code


def _hint(exc: Exception) -> str:
    if isinstance(exc, RefusedError):
        return "`loadstar history` shows each file's state in the ledger"
    if isinstance(exc, psycopg.Error):
        return "check the role's privileges on the warehouse and the ledger (README 'Security')"
    if isinstance(exc, TransientError):
        return "S3 or the warehouse failed for a reason that may pass; try again"
    return "`loadstar --help` lists the settings; see README 'Configuration'"


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        bucket=args.bucket,
        database_url=args.database_url,
        db_secret=args.db_secret,
        config_path=args.config,
    )


def _output(args: argparse.Namespace, data: Any, text: Callable[[], str]) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text())


# -- run ---------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    kinds: tuple[TableKind, ...] = ("dimension",) if args.dimensions_only else ("dimension", "fact")
    progress = TerminalProgress() if sys.stderr.isatty() else None
    summary = pipeline.run(settings, kinds=kinds, progress=progress)
    if args.emf:
        metrics.emit(
            summary, sys.stderr, namespace=settings.metrics_namespace, service=settings.service
        )
    data = summary.to_dict()
    _output(args, data, lambda: _run_text(data))
    if summary.status == "skipped":
        return EXIT_LOCKED
    return EXIT_FAILED if summary.failed else EXIT_OK


def _run_text(data: dict[str, Any]) -> str:
    lines = [
        f"run {data['run_id']}: {data['status']}, {data['files_loaded']} files loaded, "
        f"{data['rows_written']:,} rows written, {data['files_failed']} failed, "
        f"{data['files_pending']} pending, {data['seconds']} s"
    ]
    if "reason" in data:
        lines.append(f"  {data['reason']}")
    for name, table in data["tables"].items():
        lines.append(
            f"  {name:<24} {table['files_loaded']:>4} loaded {table['rows_written']:>10,} rows"
            f"{_count(table['failed'], 'failed')}{_count(table['skipped'], 'skipped')}"
            f"{_count(table['pending'], 'pending')}"
        )
        if table.get("error"):
            lines.append(f"    error: {table['error']}")
        for item in [*table["failed"], *table["skipped"]]:
            lines.append(f"    {item['key']}: {item['reason']}")
    if "stopped_early" in data:
        lines.append(f"  stopped early: {data['stopped_early']}")
    return "\n".join(lines)


def _count(items: Sequence[object], label: str) -> str:
    return f", {len(items)} {label}" if items else ""


# -- plan --------------------------------------------------------------------


def _plan(args: argparse.Namespace) -> int:
    from loadstar.ops.plan import plan

    settings = _settings(args)
    tables = list(plan(settings, s3_client(), check_values=not args.schema_only))
    data = {
        "would_fail": not all(t.ok for t in tables),
        "values_checked": not args.schema_only,
        "tables": [t.to_dict() for t in tables],
    }
    _output(args, data, lambda: _plan_text(data))
    return EXIT_FAILED if data["would_fail"] else EXIT_OK


def _plan_text(data: dict[str, Any]) -> str:
    lines = []
    for table in data["tables"]:
        files, reported = table["files"], table["reported"]
        if not files and not reported and "error" not in table:
            lines.append(f"{table['table']:<24} nothing to load")
            continue
        size = sum(f["size_bytes"] for f in files)
        lines.append(f"{table['table']:<24} {len(files)} to load ({size / 1e6:.1f} MB)")
        if "error" in table:
            lines.append(f"  would fail: {table['error']}")
        for f in files:
            rows = "?" if f["rows"] is None else f"{f['rows']:,}"
            verdict = f"would fail: {f['problem']}" if f["problem"] else "ok"
            lines.append(f"  {f['key']}  {f['size_bytes']:,} bytes, {rows} rows  {verdict}")
        for item in reported:
            lines.append(f"  {item['key']}  reported, not loaded: {item['reason']}")
    checked = "" if data["values_checked"] else " (schemas only; values not read)"
    verdict = "would fail" if data["would_fail"] else "would load cleanly"
    lines.append(f"the next run {verdict}{checked}")
    return "\n".join(lines)


# -- status ------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    from loadstar.ops import status

    settings = _settings(args)
    bucket, s3, now = settings.require_bucket(), s3_client(), datetime.now(UTC)
    with status.read_only(settings) as conn:
        tables = [status.table_status(conn, s3, settings, bucket, t) for t in settings.tables]
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
    data = {"bucket": bucket, "tables": rows, "totals": totals}
    _output(args, data, lambda: _status_text(data))
    return EXIT_FAILED if totals["failed"] or totals["errors"] else EXIT_OK


def _status_text(data: dict[str, Any]) -> str:
    lines = []
    for t in data["tables"]:
        line = f"{t['table']:<20} {t['files_loaded']:>5} loaded {t['rows']:>12,} rows  "
        line += f"{t['pending']:>3} pending"
        if t["pending"]:
            line += f" (oldest {_duration(t['oldest_pending_age_seconds'])})"
        if t["failed"]:
            line += f"  {len(t['failed'])} FAILED"
        if t["newest_loaded_key"]:
            when = f"{datetime.fromisoformat(t['newest_loaded_at']):%Y-%m-%d %H:%M:%SZ}"
            line += f"  newest {when} {t['newest_loaded_key']}"
        lines.append(line)
        if t.get("error"):
            lines.append(f"    error: {t['error']}")
        for failed in t["failed"]:
            lines.append(f"    failed {failed['key']}: {failed['reason']}")
        for item in t["reported"]:
            lines.append(f"    reported {item['key']}: {item['reason']}")
    totals = data["totals"]
    lines.append(
        f"{'total':<20} {totals['files_loaded']:>5} loaded {totals['rows']:>12,} rows  "
        f"{totals['pending']:>3} pending  {totals['failed']} failed"
    )
    return "\n".join(lines)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


# -- history -----------------------------------------------------------------


def _history(args: argparse.Namespace) -> int:
    from loadstar.ops import status

    settings = _settings(args)
    with status.read_only(settings) as conn:
        if ledger.exists(conn, settings.ledger_schema):
            ledger.require_replay_columns(conn, settings.ledger_schema)
        entries = (
            ledger.history(
                conn,
                settings.ledger_schema,
                settings.require_bucket(),
                table=args.table,
                limit=args.limit,
            )
            if ledger.exists(conn, settings.ledger_schema)
            else []
        )
    data = [vars(e) for e in entries]
    _output(args, data, lambda: _history_text(data))
    return EXIT_OK


def _history_text(data: list[dict[str, Any]]) -> str:
    if not data:
        return "the ledger holds no files yet"
    lines = []
    for e in data:
        rows = "" if e["rows_written"] is None else f" {e['rows_written']:,} rows"
        replays = f", replayed {e['replays']}x" if e["replays"] else ""
        reason = f"  {e['reason']}" if e["reason"] else ""
        lines.append(
            f"{e['updated_at']:%Y-%m-%d %H:%M:%S}  {e['status']:<12} {e['table']:<22} "
            f"{e['key']}{rows}{replays}{reason}"
        )
    return "\n".join(lines)


# -- replay, skip ------------------------------------------------------------


def _replay(args: argparse.Namespace) -> int:
    from loadstar.ops.replay import replay

    settings = _settings(args)
    progress = TerminalProgress() if sys.stderr.isatty() else None
    outcome = replay(settings, s3_client(), args.key, force=args.force, progress=progress)
    if outcome is None:
        print("loadstar: another run holds the lock; try again when it ends", file=sys.stderr)
        return EXIT_LOCKED
    data = {
        "key": outcome.key,
        "table": outcome.table,
        "status": outcome.status,
        "rows": outcome.rows_in,
        "rows_written": outcome.rows_written,
        **({"reason": outcome.reason} if outcome.reason else {}),
    }
    _output(
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


def _skip(args: argparse.Namespace) -> int:
    from loadstar.ops.skip import skip

    settings = _settings(args)
    table = skip(settings, s3_client(), args.key, args.reason)
    data = {"key": args.key, "table": table, "status": "skipped", "reason": args.reason}
    _output(args, data, lambda: f"skipped {args.key} ({table}): later runs will not load it")
    return EXIT_OK


# -- init-db, demo -----------------------------------------------------------


def _init_db(args: argparse.Namespace) -> int:
    from loadstar.warehouse.connection import open_connection
    from loadstar.warehouse.schema import init_warehouse

    settings = _settings(args)
    schema = args.schema or settings.schema
    with closing(open_connection(settings)) as conn:
        init_warehouse(conn, schema)
        ledger.ensure_ledger(conn, settings.ledger_schema)
    data = {"schema": schema, "ledger_schema": settings.ledger_schema}
    _output(
        args,
        data,
        lambda: (
            f"warehouse tables ready in schema {schema or '(search_path)'}; "
            f"ledger in {settings.ledger_schema}"
        ),
    )
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from loadstar.dev.demo import run_demo

    return run_demo()


# -- the parser --------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("settings (override the environment and the TOML file)")
    group.add_argument("--bucket", help="processed bucket (default: LOADSTAR_BUCKET)")
    group.add_argument("--config", help="TOML catalogue (default: LOADSTAR_CONFIG)")
    group.add_argument(
        "--database-url",
        help="libpq URI (default: LOADSTAR_DATABASE_URL; keep passwords out of it, since "
        "arguments show in the process list: use PGPASSWORD, ~/.pgpass or --db-secret)",
    )
    group.add_argument("--db-secret", help="Secrets Manager secret (default: LOADSTAR_DB_SECRET)")
    out = common.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print machine-readable JSON")
    out.add_argument("--log-level", help="DEBUG, INFO (default), WARNING, ERROR")
    out.add_argument(
        "--log-format",
        choices=("json", "console"),
        help="log lines on stderr (default: console on a terminal, else JSON)",
    )

    parser = argparse.ArgumentParser(
        prog="loadstar",
        description="Load timestamped Parquet files from S3 into a PostgreSQL star schema, "
        "exactly once; the same runs as the Lambda.",
        epilog="exit codes: 0 ok, 1 a file failed (or would, or has), 2 bad usage or settings "
        "or an unreachable warehouse, 3 another run holds the lock.\n"
        "`loadstar COMMAND --help` shows a command's options and an example.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(
        name: str, func: Callable[[argparse.Namespace], int], summary: str, example: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            parents=[common],
            help=summary,
            description=summary[0].upper() + summary[1:] + ".",
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        return p

    run = command(
        "run",
        _run,
        "load every pending file, dimensions before facts, as the Lambda does",
        "LOADSTAR_BUCKET=processed loadstar run --json",
    )
    run.add_argument("--dimensions-only", action="store_true", help="load dimension tables only")
    run.add_argument(
        "--emf", action="store_true", help="also write the run's metrics (EMF) to stderr"
    )

    plan = command(
        "plan",
        _plan,
        "show what the next run would load and whether it would fail; changes nothing",
        "loadstar plan --bucket processed",
    )
    plan.add_argument(
        "--schema-only",
        action="store_true",
        help="read only each file's footer: columns and types, not every value",
    )

    command(
        "status",
        _status,
        "per table: files loaded, newest loaded file, pending and failed files",
        "loadstar status",
    )

    history = command(
        "history", _history, "the ledger, most recent first", "loadstar history --table dim_staff"
    )
    history.add_argument("--table", help="only this table's files")
    history.add_argument("--limit", type=_positive, default=20, help="at most N files (20)")

    replay = command(
        "replay",
        _replay,
        "load one loaded file again on purpose",
        "loadstar replay 'fact/sales_order-2024-05-24 15:41:18.123456.parquet'",
    )
    replay.add_argument("key", help="the object key, as `loadstar history` shows it")
    replay.add_argument(
        "--force",
        action="store_true",
        help="append a fact file's rows again even though its table has no version key",
    )

    skip = command(
        "skip",
        _skip,
        "acknowledge a bad file: later runs never load it and stop failing on it",
        "loadstar skip 'fact/sales_order-2024-05-24.parquet' --reason 'corrupt, reissued'",
    )
    skip.add_argument("key", help="the object key, as the run summary shows it")
    skip.add_argument("--reason", required=True, help="why; recorded in the ledger")

    init = command(
        "init-db",
        _init_db,
        "create the Terrific Totes warehouse tables and the ledger (idempotent)",
        "loadstar init-db --schema analytics",
    )
    init.add_argument("--schema", help="schema for the warehouse tables (default: search_path)")

    command(
        "demo",
        _demo,
        "embedded PostgreSQL, local S3 server, sample data and a real load",
        "loadstar demo",
    )
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


if __name__ == "__main__":
    raise SystemExit(main())
