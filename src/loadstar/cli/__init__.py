"""``loadstar``: the Lambda's runs, and what an operator needs around them, from a shell.

Settings are the Lambda's (environment, ``LOADSTAR_CONFIG``), and flags
override both. Every command prints for people by default and for programs
with ``--json``; logs go to stderr, as JSON lines unless stderr is a terminal.
``parser`` declares the arguments, ``commands`` does the work through ``run``
and ``ops``, ``render`` writes for people. The one entry point that may
import ``dev`` (for ``loadstar demo``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from loadstar.cli.codes import EXIT_CONFIG, EXIT_FAILED, EXIT_LOCKED, EXIT_OK
from loadstar.errors import LoadstarError, RefusedError, TransientError
from loadstar.telemetry import logs

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_LOCKED", "EXIT_OK", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    from loadstar.cli.parser import build_parser

    args = build_parser().parse_args(argv)
    logs.configure_logging(args.log_level, to_stderr=True, fmt=args.log_format)
    try:
        code: int = args.func(args)
    except LoadstarError as exc:
        print(f"loadstar: error: {exc}".rstrip(), file=sys.stderr)
        print(f"hint: {_hint(exc)}", file=sys.stderr)
        return EXIT_CONFIG
    return code


def _hint(exc: LoadstarError) -> str:
    if isinstance(exc, RefusedError):
        return "`loadstar history` shows each file's state in the ledger"
    if exc.hint:
        return exc.hint
    if isinstance(exc, TransientError):
        return "S3 or the warehouse failed for a reason that may pass; try again"
    return "`loadstar --help` lists the settings; see README 'Configuration'"
