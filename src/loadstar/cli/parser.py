"""The ``loadstar`` command's arguments: the settings every command shares, then each command's."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from loadstar.cli import commands
from loadstar.config import SETTINGS_HELP, SettingHelp

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
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
        epilog=settings_text()
        + "\n\nexit codes: 0 ok, 1 a file failed (or would, or has), 2 bad usage or settings, "
        "a warehouse without the tables, or an unreachable warehouse, 3 another run holds "
        "a table's lock.\n"
        "`loadstar COMMAND --help` shows a command's options and an example.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(
        name: str, func: Command, summary: str, example: str, *, shared: bool = True
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            # A command that reads no settings takes none: a flag it would ignore is refused.
            parents=[common] if shared else [],
            help=summary,
            description=summary[0].upper() + summary[1:] + ".",
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        return p

    run = command(
        "run",
        commands.run,
        "load every pending file, dimensions before facts, as the Lambda does",
        "LOADSTAR_BUCKET=processed loadstar run --json",
    )
    run.add_argument("--dimensions-only", action="store_true", help="load dimension tables only")
    run.add_argument(
        "--full-listing",
        action="store_true",
        help="list every table in full, not from its watermark (a late file is found at once)",
    )
    run.add_argument(
        "--emf", action="store_true", help="also write the run's metrics (EMF) to stderr"
    )

    plan = command(
        "plan",
        commands.plan,
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
        commands.status,
        "per table: files loaded, newest loaded file, pending and failed files",
        "loadstar status",
    )

    history = command(
        "history",
        commands.history,
        "the ledger, most recent first",
        "loadstar history --table dim_staff",
    )
    history.add_argument("--table", help="only this table's files")
    history.add_argument("--limit", type=_positive, default=20, help="at most N files (20)")

    replay = command(
        "replay",
        commands.replay,
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
        commands.skip,
        "acknowledge a bad file: later runs never load it and stop failing on it",
        "loadstar skip 'fact/sales_order-2024-05-24.parquet' --reason 'corrupt, reissued'",
    )
    skip.add_argument("key", help="the object key, as the run summary shows it")
    skip.add_argument("--reason", required=True, help="why; recorded in the ledger")

    init = command(
        "init-db",
        commands.init_db,
        "create the Terrific Totes warehouse tables and the ledger (idempotent)",
        "loadstar init-db --schema analytics",
    )
    init.add_argument("--schema", help="schema for the warehouse tables (default: search_path)")

    report = command(
        "report",
        commands.html_report,
        "write one self-contained HTML page of each table's freshness from the ledger",
        "loadstar report --html freshness.html",
    )
    report.add_argument("--html", required=True, metavar="FILE", help="the page to write")
    report.add_argument(
        "--days", type=_positive, default=7, help="hours charted over the last N days (7)"
    )

    command(
        "demo",
        commands.demo,
        "embedded PostgreSQL, local S3 server, sample data and a real load",
        "loadstar demo",
        shared=False,
    )
    _local_commands(sub)
    return parser


def _local_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from loadstar.cli import local

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dir",
        type=Path,
        default=Path(os.environ.get("LOADSTAR_LOCAL_DIR") or "loadstar-local"),
        help="where the stack keeps its data and state "
        "(default: LOADSTAR_LOCAL_DIR, else ./loadstar-local)",
    )
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser = sub.add_parser(
        "local",
        help="an embedded PostgreSQL and a local S3 server that stay up: up, status, down",
        description="An embedded PostgreSQL and a local S3 API server, running in the "
        "background until `loadstar local down`, with the warehouse's tables and a bucket.",
        epilog='example:\n  eval "$(loadstar local up --sample)"\n'
        "  loadstar run && loadstar status",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(required=True, metavar="ACTION")
    up = actions.add_parser(
        "up", parents=[common], help="start the stack (if not running); print `export` lines"
    )
    up.add_argument("--sample", action="store_true", help="fill the bucket with sample files")
    up.add_argument("--bucket", default="processed", help="the bucket to create (processed)")
    up.set_defaults(func=local.up)
    actions.add_parser(
        "status", parents=[common], help="whether it runs, and where (exit 2 if not)"
    ).set_defaults(func=local.status)
    actions.add_parser(
        "down", parents=[common], help="stop the stack and delete its directory"
    ).set_defaults(func=local.down)


def settings_text() -> str:
    """Every setting, grouped: how to set it (flag, environment, TOML key), its default."""
    lines = [
        "settings (a flag wins over the environment, which wins over the TOML file "
        "LOADSTAR_CONFIG names):"
    ]
    groups: dict[str, list[SettingHelp]] = {}
    for setting in SETTINGS_HELP:
        groups.setdefault(setting.group, []).append(setting)
    for group, settings in groups.items():
        lines.append(f"  {group}:")
        for s in settings:
            ways = " | ".join(w for w in (s.flag, s.env, s.toml and f"[{s.toml}]") if w)
            lines.append(f"    {ways}")
            lines.append(f"        {s.meaning} (default: {s.default})")
    return "\n".join(lines)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value
