"""What each ``loadstar`` command does: read the settings, call run/ or ops/, print, exit.

Every command prints for people by default and for programs with ``--json``;
an exit code says how it went (`loadstar.cli.EXIT_*`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadstar.aws import s3_client
from loadstar.cli import SETTINGS_HINT, fail, render
from loadstar.cli.codes import EXIT_CONFIG, EXIT_FAILED, EXIT_LOCKED, EXIT_OK
from loadstar.cli.output import plural, to_json
from loadstar.config import Settings, TableKind, load_settings
from loadstar.config.settings import did_you_mean
from loadstar.errors import ConfigError
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


def output(args: argparse.Namespace, data: Any, text: Callable[[], str | None]) -> None:
    """``data`` as JSON with --json; else what ``text`` returns (or prints itself)."""
    if args.json:
        print(to_json(data))
        return
    shown = text()
    if shown is not None:
        print(shown)


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
    data["tables"] = [{"name": name, **table} for name, table in data["tables"].items()]
    problem = _setup_problem(data)
    # When the set-up stopped everything, its one message is the whole story.
    alone = problem is not None and not any(
        t["loaded"] or t["failed"] or (t.get("error") and t["name"] not in problem[3])
        for t in data["tables"]
    )
    if problem is not None:
        data.setdefault("error", {"type": problem[0], "message": problem[1], "hint": problem[2]})
    if args.json:
        print(to_json(data))
    elif not alone:
        output(args, data, lambda: render.run_text(data))
    if problem is not None:
        return fail(args, *problem[:3]) if not args.json else EXIT_CONFIG
    if summary.error is not None and not args.json:
        fail(args, summary.error["type"], summary.error["message"], summary.error.get("hint"))
    if summary.failed or summary.attention:
        return EXIT_FAILED
    return EXIT_LOCKED if summary.busy else EXIT_OK


def _setup_problem(data: dict[str, Any]) -> tuple[str, str, str | None, list[str]] | None:
    """A run stopped by its settings, its access or a warehouse without the tables: its
    error's type, message and hint, and the tables it covers."""
    error = data.get("error")
    if error is not None and error["type"] in _SETTINGS_ERRORS:
        names = [t["name"] for t in data["tables"]]
        return error["type"], error["message"], error.get("hint") or SETTINGS_HINT, names
    missing = _missing_tables(data)
    if not missing:
        return None
    details = next(t["error_detail"] for t in data["tables"] if t["name"] == missing[0])
    where = details["message"].rsplit(" does not exist in ", 1)[-1]
    return (
        "MissingTableError",
        f"{plural(len(missing), 'table')} of the catalogue "
        f"{'does' if len(missing) == 1 else 'do'} not exist in {where}: {', '.join(missing)}",
        details.get("hint"),
        missing,
    )


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
    if _missing_tables(data):
        return EXIT_CONFIG
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
    if _missing_tables(data):
        return EXIT_CONFIG
    return EXIT_FAILED if totals["failed"] or totals["errors"] else EXIT_OK


def _missing_tables(data: dict[str, Any]) -> list[str]:
    """The catalogued tables the warehouse does not have: its set-up needs a fix (exit 2)."""
    return [
        t["name"]
        for t in data["tables"]
        # plan and status say error_type; a run's tables keep the error's fields whole
        if (t.get("error_type") or t.get("error_detail", {}).get("type")) == "MissingTableError"
    ]


def history(args: argparse.Namespace) -> int:
    from loadstar.ops.history import history

    settings = settings_from(args)
    names = [t.name for t in settings.tables]
    if args.table is not None and args.table not in names:
        raise ConfigError(
            f"no table {args.table!r} in the catalogue{did_you_mean(args.table, names)}; "
            f"it has {', '.join(names)}"
        )
    entries = history(settings, table=args.table, limit=args.limit)
    data = {
        "bucket": settings.require_bucket(),
        "table": args.table,
        "files": [{"name": e.table, **vars(e)} for e in entries],
    }
    output(args, data, lambda: render.history_text(data))
    return EXIT_OK


def replay(args: argparse.Namespace) -> int:
    from loadstar.ops.replay import replay

    settings = settings_from(args)
    progress = TerminalProgress() if sys.stderr.isatty() else None
    outcome = replay(settings, s3_client(), args.key, force=args.force, progress=progress)
    if outcome is None:
        message = "another load holds the table's lock"
        return fail(args, "TableBusyError", message, "try again when it ends", EXIT_LOCKED)
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

    table, reason = skip(settings_from(args), s3_client(), args.key, args.reason)
    data = {"key": args.key, "table": table, "status": "skipped", "reason": reason}
    output(args, data, lambda: f"skipped {args.key} ({table}): later runs will not load it")
    return EXIT_OK


def init_db(args: argparse.Namespace) -> int:
    from loadstar.warehouse import Warehouse

    settings = settings_from(args)
    schema = args.schema or settings.schema
    with closing(Warehouse(settings)) as warehouse:
        warehouse.connect()
        created_in = warehouse.create_tables(schema)
        warehouse.ensure_ledger()
    data = {"schema": created_in, "ledger_schema": settings.ledger_schema}
    output(
        args,
        data,
        lambda: (
            f"warehouse tables ready in schema {created_in}; "
            f"ledger ready in schema {settings.ledger_schema}"
        ),
    )
    return EXIT_OK


def html_report(args: argparse.Namespace) -> int:
    from loadstar.ops.freshness import write_html_report

    data = write_html_report(settings_from(args), Path(args.html), days=args.days)
    output(args, data, lambda: f"wrote {data['path']}")
    return EXIT_OK


def demo(args: argparse.Namespace) -> int:
    from loadstar.dev.demo import run_demo

    return run_demo()
