"""``loadstar local up|status|down``: the local stack for trying loadstar on a laptop."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from loadstar.cli.codes import EXIT_CONFIG, EXIT_OK

DEFAULT_DIR = Path("loadstar-local")


def up(args: argparse.Namespace) -> int:
    from loadstar.cli import fail
    from loadstar.dev import stack as local

    try:
        found, started = local.up(args.dir, bucket=args.bucket, sample=args.sample)
    except local.StackError as exc:
        return fail(args, "StackError", str(exc), f"its log: {args.dir / local.LOG_FILE}")
    if args.json:
        print(json.dumps({**found.to_dict(), "started": started}, indent=2))
        return EXIT_OK
    # The export lines alone go to stdout, so `eval "$(loadstar local up)"` works.
    state = "started" if started else "already running"
    sample = ", Terrific Totes files in the bucket" if started and args.sample else ""
    unchanged = (
        " (--sample ignored: the stack was up already)" if args.sample and not started else ""
    )
    where = "" if args.dir == DEFAULT_DIR else f" --dir {shlex.quote(str(args.dir))}"
    print(
        f"loadstar: local stack {state} in {found.dir}{sample}{unchanged}\n"
        f"  PostgreSQL  {found.database_url}\n"
        f"  S3 API      {found.endpoint_url}  bucket {found.bucket}\n"
        f'  point this shell at it: eval "$(loadstar local up{where})"; '
        f"stop it: loadstar local down{where}",
        file=sys.stderr,
    )
    print(found.exports())
    return EXIT_OK


def status(args: argparse.Namespace) -> int:
    from loadstar.dev import stack as local

    found = local.status(args.dir)
    if args.json:
        print(json.dumps({"running": found is not None, **(found.to_dict() if found else {})}))
    elif found is None:
        print(f"no local stack running in {args.dir} (start one: loadstar local up)")
    else:
        print(
            f"local stack running in {found.dir} since {found.started_at} (pid {found.pid})\n"
            f"  PostgreSQL  {found.database_url}\n"
            f"  S3 API      {found.endpoint_url}  bucket {found.bucket}"
        )
    return EXIT_OK if found is not None else EXIT_CONFIG


def down(args: argparse.Namespace) -> int:
    from loadstar.dev import stack as local

    found = local.down(args.dir)
    if args.json:
        print(json.dumps({"stopped": found is not None, "dir": str(args.dir)}))
    elif found is None:
        print(f"no local stack running in {args.dir}; nothing to stop")
    else:
        print(f"local stack in {found.dir} stopped and deleted")
    return EXIT_OK
