"""``loadstar``: the Lambda's runs, and what an operator needs around them, from a shell.

Settings are the Lambda's (environment, ``LOADSTAR_CONFIG``), and flags
override both. Every command prints for people by default and for programs
with ``--json``; logs go to stderr, as JSON lines unless stderr is a terminal.
``parser`` declares the arguments, ``commands`` does the work through ``run``
and ``ops``, ``render`` writes for people. The one entry point that may
import ``dev`` (for ``loadstar demo``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from loadstar.cli.codes import EXIT_CONFIG, EXIT_FAILED, EXIT_LOCKED, EXIT_OK
from loadstar.errors import LoadstarError, RefusedError, TransientError
from loadstar.telemetry import logs

SETTINGS_HINT = "`loadstar --help` lists the settings; the docs' configuration page explains each"

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_LOCKED", "EXIT_OK", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    from loadstar.cli.parser import build_parser

    args = build_parser().parse_args(argv)
    level, fmt = getattr(args, "log_level", None), getattr(args, "log_format", None)
    logs.configure_logging(level, to_stderr=True, fmt=fmt, quiet=_quiet(level, fmt))
    try:
        code: int = args.func(args)
    except LoadstarError as exc:
        return fail(args, type(exc).__name__, str(exc), _hint(exc))
    return code


def fail(args: object, kind: str, message: str, hint: str | None, code: int = EXIT_CONFIG) -> int:
    """One message for a problem: ``{"error": …}`` on stdout with --json, else two lines."""
    if getattr(args, "json", False):
        error = {"type": kind, "message": message, **({"hint": hint} if hint else {})}
        print(json.dumps({"error": error}, indent=2))
    else:
        print(f"loadstar: error: {message}".rstrip(), file=sys.stderr)
        if hint:
            print(f"hint: {hint}", file=sys.stderr)
    return code


def _quiet(level: str | None, fmt: str | None) -> bool:
    """On a terminal the command's own lines say what happened; log lines only when asked."""
    asked = level or fmt or os.environ.get("LOADSTAR_LOG_LEVEL")
    return sys.stderr.isatty() and not asked and not os.environ.get("LOADSTAR_LOG_FORMAT")


def _hint(exc: LoadstarError) -> str:
    if isinstance(exc, RefusedError):
        return "`loadstar history` shows each file's state in the ledger"
    if exc.hint:
        return exc.hint
    if isinstance(exc, TransientError):
        return "S3 or the warehouse failed for a reason that may pass; try again"
    return SETTINGS_HINT
