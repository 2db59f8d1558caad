"""The ``loadstar`` command's arguments: the settings every command shares, then each command's."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from loadstar.cli import commands

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
        epilog="exit codes: 0 ok, 1 a file failed (or would, or has), 2 bad usage or settings "
        "or an unreachable warehouse, 3 another run holds the lock.\n"
        "`loadstar COMMAND --help` shows a command's options and an example.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, func: Command, summary: str, example: str) -> argparse.ArgumentParser:
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

    command(
        "demo",
        commands.demo,
        "embedded PostgreSQL, local S3 server, sample data and a real load",
        "loadstar demo",
    )
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value
