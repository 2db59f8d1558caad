"""How the commands print: one JSON schema for programs, words and tables for people.

JSON (``--json``): one object per command on stdout; times as ISO 8601 UTC
with ``Z``; tables as a list of objects with a ``name``; a problem as
``{"error": {"type", "message", "hint"?}}`` with the same exit code as text.
Text: plain lines when piped; on a terminal, tables and colour through ``rich``
when it is installed (``pip install 'loadstar[cli]'``), none under ``NO_COLOR``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from loadstar.telemetry.wording import human_size as size
from loadstar.telemetry.wording import plural

__all__ = ["fancy", "instant", "plain_table", "plural", "size", "table", "to_json"]


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=_default, ensure_ascii=False)


def instant(value: datetime) -> str:
    """``2026-11-29T20:53:37.123456Z``: UTC, with the fraction only when there is one."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return instant(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def fancy() -> bool:
    """Whether to draw tables with rich: a terminal, and rich installed."""
    if not sys.stdout.isatty() or os.environ.get("TERM") == "dumb":
        return False
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a table: rich's on a terminal (colour unless NO_COLOR), else aligned text."""
    if fancy():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        # Text, never markup: keys and reasons are whatever the bucket and people wrote.
        drawn = Table(
            title=Text(title) if title else None, title_justify="left", header_style="bold"
        )
        for i, header in enumerate(headers):
            drawn.add_column(
                Text(header),
                justify="right" if i and _numeric(rows, i) else "left",
                style="cyan" if i == 0 else None,
            )
        for row in rows:
            drawn.add_row(*(Text(cell) for cell in row))
        Console(no_color=bool(os.environ.get("NO_COLOR"))).print(drawn)
        return
    print(plain_table(title, headers, rows))


def plain_table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [title] if title else []
    for row in (headers, *rows):
        cells = [
            cell.rjust(w) if i and _numeric(rows, i) else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _numeric(rows: Sequence[Sequence[str]], column: int) -> bool:
    cells = [r[column] for r in rows if r[column] not in ("", "-")]
    return bool(cells) and all(c.replace(",", "").replace(".", "").isdigit() for c in cells)
