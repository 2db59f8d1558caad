"""``loadstar``: the same runs as the Lambda, from a shell.

Exit codes: 0 loaded (or nothing to do, or skipped because another run holds
the lock), 1 a file failed, 2 bad settings or an unreachable warehouse.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from contextlib import closing

from loadstar import ledger, logs, pipeline
from loadstar.config import TableKind, load_settings
from loadstar.errors import LoadstarError
from loadstar.handler import freeze_startup_objects
from loadstar.warehouse.connection import open_connection
from loadstar.warehouse.schema import init_warehouse

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logs.configure_logging(args.log_level, to_stderr=True)
    freeze_startup_objects()
    try:
        code: int = args.func(args)
    except LoadstarError as exc:
        print(f"loadstar: error: {exc}", file=sys.stderr)
        print(
            "hint: `loadstar --help` lists the settings; see README 'Configuration'",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return code


def _run(args: argparse.Namespace) -> int:
    settings = load_settings(bucket=args.bucket, config_path=args.config)
    kinds: tuple[TableKind, ...] = ("dimension",) if args.dimensions_only else ("dimension", "fact")
    summary = pipeline.run(settings, kinds=kinds)
    print(json.dumps(summary.to_dict(), indent=2))
    return EXIT_FAILED if summary.failed else EXIT_OK


def _init_db(args: argparse.Namespace) -> int:
    settings = load_settings(config_path=args.config)
    schema = args.schema or settings.schema
    with closing(open_connection(settings)) as conn:
        init_warehouse(conn, schema)
        ledger.ensure_ledger(conn, settings.ledger_schema)
    print(
        f"warehouse tables ready in schema {schema or '(search_path)'}; "
        f"ledger in {settings.ledger_schema}"
    )
    return EXIT_OK


def _skip(args: argparse.Namespace) -> int:
    settings = load_settings(bucket=args.bucket, config_path=args.config)
    with closing(open_connection(settings)) as conn:
        ledger.ensure_ledger(conn, settings.ledger_schema)
        done = ledger.skip(
            conn, settings.ledger_schema, settings.require_bucket(), args.key, args.reason
        )
    if not done:
        print(
            f"loadstar: {args.key!r} is not a failed or pending file in the ledger "
            "(loaded files cannot be skipped)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(f"skipped {args.key}")
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from loadstar.demo import run_demo

    return run_demo()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loadstar",
        description="Load pending Parquet files from S3 into the warehouse, as the Lambda does.",
        epilog="Exit codes: 0 loaded (or nothing to do, or another run holds the lock), "
        "1 a file failed, 2 bad settings or an unreachable warehouse.",
    )
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO (default), WARNING, ERROR")
    sub = parser.add_subparsers(required=True, metavar="command")

    run = sub.add_parser("run", help="load every pending file (dimensions, then facts)")
    run.add_argument("--bucket", help="processed bucket (default: LOADSTAR_BUCKET)")
    run.add_argument("--config", help="TOML catalogue (default: LOADSTAR_CONFIG)")
    run.add_argument("--dimensions-only", action="store_true", help="load dimension tables only")
    run.set_defaults(func=_run)

    init = sub.add_parser("init-db", help="create the Terrific Totes warehouse and the ledger")
    init.add_argument("--schema", help="schema for the warehouse tables (default: search_path)")
    init.add_argument("--config", help="TOML catalogue (default: LOADSTAR_CONFIG)")
    init.set_defaults(func=_init_db)

    skip = sub.add_parser("skip", help="never load a failed file; lets later files through")
    skip.add_argument("key", help="the object key, as the run summary shows it")
    skip.add_argument("--bucket", help="processed bucket (default: LOADSTAR_BUCKET)")
    skip.add_argument("--config", help="TOML catalogue (default: LOADSTAR_CONFIG)")
    skip.add_argument("--reason", default="skipped by an operator", help="recorded in the ledger")
    skip.set_defaults(func=_skip)

    demo = sub.add_parser("demo", help="embedded PostgreSQL + local S3 + sample data + a real load")
    demo.set_defaults(func=_demo)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
