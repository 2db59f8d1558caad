"""Structured logging: one JSON object per line, an event name plus key/values.

loadstar logs one line per file and one per run ("canonical log lines"), with
the run id and, in Lambda, the invocation's context (request id, cold start,
function) on every line, so a single CloudWatch Logs Insights query finds
everything about a run. In a terminal the same events render as short
human-readable lines instead.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["json", "console"]

LOGGER_NAME = "loadstar"
log = logging.getLogger(LOGGER_NAME)

_context: ContextVar[dict[str, Any] | None] = ContextVar("loadstar_log_context", default=None)


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "event", …fields, …context}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        line.update(_context.get() or {})
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """``12:00:01 file_loaded  table=dim_staff key=… rows=20`` for people at a terminal."""

    _HIDDEN = frozenset({"run_id", "function_request_id", "cold_start", "function_name"})

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()} "
        fields = dict(_context.get() or {})
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            fields.update(extra)
        pairs = " ".join(
            f"{k}={_console_value(v)}"
            for k, v in fields.items()
            if k not in self._HIDDEN and v is not None
        )
        if record.exc_info and record.exc_info[1] is not None:
            pairs += f" exception={type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return f"{stamp} {level}{record.getMessage():<14} {pairs}".rstrip()


def _console_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if any(c in text for c in ' \t\n"=') else text


def configure_logging(
    level: str | None = None,
    *,
    to_stderr: bool = False,
    fmt: LogFormat | None = None,
    quiet: bool = False,
) -> None:
    """Send loadstar's lines to stdout (or stderr); idempotent.

    Lambda collects stdout; the command line logs to stderr, keeping stdout
    for its output. ``fmt`` (or ``LOADSTAR_LOG_FORMAT``) picks JSON or console
    lines; by default, console lines when the stream is a terminal. ``quiet``
    prints none (a command on a terminal says what happened itself).
    """
    chosen = (level or os.environ.get("LOADSTAR_LOG_LEVEL") or "INFO").upper()
    log.setLevel(logging.CRITICAL + 1 if quiet else chosen)
    handler = next((h for h in log.handlers if isinstance(h, _Handler)), None)
    if handler is None:
        handler = _Handler()
        log.addHandler(handler)
    handler.to_stderr = to_stderr
    fmt = fmt or _format_from_env()
    if fmt is None:
        stream = sys.stderr if to_stderr else sys.stdout
        fmt = "console" if stream.isatty() else "json"
    handler.setFormatter(ConsoleFormatter() if fmt == "console" else JsonFormatter())
    _leave_to_loadstar_in_lambda()


class _NotLoadstar(logging.Filter):
    """Lets a handler pass over loadstar's records, which loadstar's own handler prints."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(LOGGER_NAME)


def _leave_to_loadstar_in_lambda() -> None:
    """Keep the Lambda runtime's own root handler from printing loadstar's lines again.

    loadstar's records still propagate, so every handler a user puts on the
    root logger (and pytest's caplog) sees them; only the runtime's handler,
    which would print each again without its JSON, passes over them. The
    runtime's handler is ``LambdaLoggerHandler`` (or ``…WithFrameType``).
    """
    for handler in logging.getLogger().handlers:
        runtime = type(handler).__name__.startswith("LambdaLoggerHandler")
        if runtime and not any(isinstance(f, _NotLoadstar) for f in handler.filters):
            handler.addFilter(_NotLoadstar())


class _Handler(logging.Handler):
    """Writes to whatever ``sys.stdout``/``sys.stderr`` is at the time of each line."""

    to_stderr = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr if self.to_stderr else sys.stdout
            # A progress bar may be drawn on this line of the terminal; clear it.
            clear = "\r\x1b[K" if stream.isatty() else ""
            stream.write(clear + self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def bind(**fields: Any) -> None:
    """Add fields to every following line of this run (e.g. the Lambda request id)."""
    _context.set({**(_context.get() or {}), **fields})


def clear() -> None:
    _context.set(None)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add fields to every line logged inside the block only."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def _format_from_env() -> LogFormat | None:
    value = os.environ.get("LOADSTAR_LOG_FORMAT", "").lower()
    if value in ("json", "console"):
        return "json" if value == "json" else "console"
    return None


def event(
    name: str, level: int = logging.INFO, *, exc_info: BaseException | None = None, **fields: Any
) -> None:
    """One line: the event's name and its fields; with ``exc_info``, the exception too."""
    log.log(level, name, extra={"fields": fields}, exc_info=exc_info)
