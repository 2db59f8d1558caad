"""Structured logging: one JSON object per line, an event name plus key/values.

loadstar logs one line per file and one per run ("canonical log lines"), with
the Lambda request id on every line when there is one, so a single CloudWatch
Logs Insights query finds everything about a run.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

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
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(level: str | None = None, *, to_stderr: bool = False) -> None:
    """Send loadstar's lines as JSON to stdout (or stderr); idempotent.

    Lambda collects stdout; the command line logs to stderr, keeping stdout
    for the run summary.
    """
    chosen = (level or os.environ.get("LOADSTAR_LOG_LEVEL") or "INFO").upper()
    log.setLevel(chosen)
    handler = next((h for h in log.handlers if isinstance(h, _Handler)), None)
    if handler is None:
        handler = _Handler()
        handler.setFormatter(JsonFormatter())
        log.addHandler(handler)
    handler.to_stderr = to_stderr
    # Lambda's runtime puts its own handler on the root logger; without this
    # every line would be printed twice, once not as JSON.
    log.propagate = False


class _Handler(logging.Handler):
    """Writes to whatever ``sys.stdout``/``sys.stderr`` is at the time of each line."""

    to_stderr = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr if self.to_stderr else sys.stdout
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def bind(**fields: Any) -> None:
    """Add fields to every following line of this run (e.g. the Lambda request id)."""
    _context.set({**(_context.get() or {}), **fields})


def clear() -> None:
    _context.set(None)


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    log.log(level, name, extra={"fields": fields})
