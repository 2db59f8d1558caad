"""`loadstar report --html`: one page of how fresh each table is, from the ledger alone.

Read-only, like ``status``: it takes no lock and writes nothing to the
warehouse, so it is safe beside a load. The page stands alone: inline CSS, its
charts inline SVG, no script, nothing to fetch; its Content-Security-Policy
forbids the browser any fetch or script as well, so it can be mailed, archived
or served from a bucket as it is. Keys and reasons are written by whoever
writes to the bucket, so every value on the page is escaped.

Pending files are not in the ledger: only a listing of the bucket knows them,
which is `loadstar status`'s job, so the page leaves them out rather than list
the bucket.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from loadstar.config import Settings, TableSpec
from loadstar.errors import ConfigError
from loadstar.ops.skip import OPERATOR
from loadstar.telemetry.wording import plural
from loadstar.warehouse import (
    Freshness,
    HourActivity,
    ProblemFile,
    RunActivity,
    TableActivity,
    Warehouse,
    read_freshness,
)

RUNS = 50
"""The most runs the page lists, most recent first."""
PROBLEMS = 200
"""The most failed, skipped or out-of-order files the page lists, most recently changed first."""

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Window:
    """The hours the charts cover: whole UTC hours up to and including the current one."""

    start: datetime
    end: datetime

    @classmethod
    def ending(cls, now: datetime, days: int) -> Window:
        end = now.replace(minute=0, second=0, microsecond=0) + HOUR
        return cls(start=end - days * 24 * HOUR, end=end)

    @property
    def hours(self) -> int:
        return round((self.end - self.start) / HOUR)

    @property
    def days(self) -> int:
        return self.hours // 24

    @property
    def span(self) -> str:
        """``day`` or ``7 days``, as in "the last 7 days"."""
        return "day" if self.days == 1 else plural(self.days, "day")


def write_html_report(
    settings: Settings, path: Path, *, days: int = 7, now: datetime | None = None
) -> dict[str, Any]:
    """Write the page to ``path``; what it says, as data.

    ``now`` (UTC when it has no zone) is when the page says it was made, and
    where its charts end.
    """
    if days < 1:
        raise ConfigError(f"the report charts at least 1 day, got {days}")
    now = _utc(now or datetime.now(UTC))
    window = Window.ending(now, days)
    bucket = settings.require_bucket()
    with closing(Warehouse(settings, read_only=True)) as warehouse:
        warehouse.connect()
        found = read_freshness(
            warehouse,
            bucket,
            [spec.name for spec in settings.tables],
            since=window.start,
            until=window.end,
            problems=PROBLEMS,
            runs=RUNS,
            # An operator's skip is recorded under a run id of its own; it is no run.
            not_runs=(OPERATOR,),
        )
    page = render(settings, bucket, found, window, now)
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot write the report to {path}: {exc.strerror or exc}",
            hint="give --html a path in a directory that exists and may be written",
        ) from exc
    return {
        "path": str(path),
        "generated_at": _iso(now),
        "days": days,
        "tables": [_table_data(table) for table in found.tables],
    }


def _table_data(table: TableActivity) -> dict[str, Any]:
    return {
        "name": table.table,
        "files_loaded": table.files_loaded,
        "rows_written": table.rows_written,
        "last_loaded_key": table.last_key,
        "last_loaded_at": None if table.last_loaded_at is None else _iso(table.last_loaded_at),
        "lag_seconds": _lag(table),
        "failed": table.failed,
        "skipped": table.skipped,
    }


# -- the page -------------------------------------------------------------------------------


def render(settings: Settings, bucket: str, found: Freshness, window: Window, now: datetime) -> str:
    """The whole page, every value escaped."""
    kinds = {spec.name: spec for spec in settings.tables}
    hours: dict[str, list[HourActivity]] = {}
    for hour in found.hours:
        hours.setdefault(hour.table, []).append(hour)
    sections = [
        _summary(found.tables, now),
        *(
            _table_section(table, kinds.get(table.table), hours.get(table.table, []), window, now)
            for table in found.tables
        ),
        _problems(found.problems, sum(t.failed + t.skipped + t.out_of_order for t in found.tables)),
        _runs(found.runs),
    ]
    title = f"loadstar freshness: s3://{bucket}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            # No script and no fetch of any kind, whatever the page came to hold.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            "<header>",
            f"<h1>Freshness of <code>s3://{_e(bucket)}</code></h1>",
            f'<p class="muted">Generated {_time(now)} from the ledger '
            f"<code>{_e(settings.ledger_schema)}.load_ledger</code>. Charts cover the last "
            f"{window.span} ({plural(window.hours, 'hour')}), in UTC.</p>",
            "</header>",
            "<main>",
            *sections,
            "</main>",
            "<footer>",
            '<p class="muted">Pending files are not in the ledger: '
            "<code>loadstar status</code> lists them from the bucket.</p>",
            "</footer>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _summary(tables: Sequence[TableActivity], now: datetime) -> str:
    rows = []
    for t in tables:
        state = "bad" if t.failed or t.out_of_order else "" if t.files_loaded else "muted"
        rows.append(
            f'<tr class="{state}">'
            f'<td><a href="#{_anchor(t.table)}">{_e(t.table)}</a></td>'
            f"<td>{_last_load(t)}</td>"
            f'<td class="n">{_maybe_duration(_lag(t))}</td>'
            f'<td class="n">{_maybe_duration(_age(t, now))}</td>'
            f'<td class="n">{t.files_loaded:,}</td>'
            f'<td class="n">{t.rows_written:,}</td>'
            f'<td class="n">{t.failed:,}</td>'
            f'<td class="n">{t.skipped:,}</td>'
            f'<td class="n">{t.out_of_order:,}</td>'
            "</tr>"
        )
    return (
        '<section id="summary">\n<h2>Tables</h2>\n<table>\n<thead><tr>'
        "<th>Table</th><th>Last file loaded</th>"
        '<th class="n" title="loaded at, less the time in the file\'s key">Lag</th>'
        '<th class="n" title="now, less the last load">Since</th>'
        '<th class="n">Files loaded</th><th class="n">Rows written</th>'
        '<th class="n">Failed</th><th class="n">Skipped</th><th class="n">Out of order</th>'
        "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n</section>"
    )


def _table_section(
    table: TableActivity,
    spec: TableSpec | None,
    hours: list[HourActivity],
    window: Window,
    now: datetime,
) -> str:
    kind = f' <span class="kind">{_e(spec.kind)}</span>' if spec else ""
    files = sum(h.files for h in hours)
    rows = sum(h.rows for h in hours)
    problems = [plural(table.failed, "failed file"), plural(table.skipped, "skipped file")]
    if table.out_of_order:
        problems.append(f"{plural(table.out_of_order, 'file')} out of order")
    return "\n".join(
        [
            f'<section class="table" id="{_anchor(table.table)}">',
            f"<h2>{_e(table.table)}{kind}</h2>",
            '<dl class="stats">',
            f"<div><dt>Last file loaded</dt><dd>{_last_load(table)}</dd></div>",
            "<div><dt>Lag</dt><dd>"
            + _maybe_duration(_lag(table))
            + ' <span class="muted">from the time in its key to its load</span></dd></div>',
            "<div><dt>Since the last load</dt><dd>"
            + _maybe_duration(_age(table, now))
            + "</dd></div>",
            f"<div><dt>Loaded</dt><dd>{plural(table.files_loaded, 'file')}, "
            f"{plural(table.rows_written, 'row')} written</dd></div>",
            f"<div><dt>Not loaded</dt><dd>{', '.join(problems)}</dd></div>",
            "</dl>",
            "<figure>",
            _chart(table.table, hours, window),
            f"<figcaption>Rows written per hour (bar height), the last {window.span}: "
            f"{plural(files, 'file')}, {plural(rows, 'row')} "
            f"in {plural(len(hours), 'hour')}. Each bar's tooltip gives its hour.</figcaption>",
            "</figure>",
            "</section>",
        ]
    )


# The chart's drawing area, in the SVG's own units; CSS scales it to the page.
_WIDTH, _HEIGHT = 960, 150
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 8, 10, 26


def _chart(table: str, hours: list[HourActivity], window: Window) -> str:
    """Rows per hour as bars, one ``rect`` per hour that loaded a file."""
    plot_width = _WIDTH - _LEFT - _RIGHT
    plot_height = _HEIGHT - _TOP - _BOTTOM
    base = _TOP + plot_height
    slot = plot_width / window.hours
    gap = slot * 0.15 if slot >= 3 else 0.0
    most = max((h.rows for h in hours), default=0)
    label = f"{table}: files and rows loaded per hour"
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="{_e(label)}">',
        *_day_ticks(window, slot, base),
        f'<line class="axis" x1="{_LEFT}" y1="{base}" x2="{_WIDTH - _RIGHT}" y2="{base}"/>',
        f'<text x="{_LEFT - 6}" y="{_TOP + 9}" text-anchor="end">{most:,}</text>',
        f'<text x="{_LEFT - 6}" y="{_TOP + 22}" text-anchor="end">rows</text>',
        f'<text x="{_LEFT - 6}" y="{base}" text-anchor="end">0</text>',
    ]
    if not hours:
        parts.append(
            f'<text class="empty" x="{_LEFT + plot_width / 2}" y="{_TOP + plot_height / 2}" '
            f'text-anchor="middle">no file loaded in the last {window.span}</text>'
        )
    for hour in hours:
        index = (hour.hour - window.start) / HOUR
        # A file whose rows were all written before still loaded: it keeps a sliver.
        height = max(2.0, hour.rows / most * plot_height) if most else 2.0
        tip = (
            f"{hour.hour:%Y-%m-%d %H}:00Z: {plural(hour.files, 'file')}, {plural(hour.rows, 'row')}"
        )
        parts.append(
            f'<rect class="bar" x="{_LEFT + index * slot + gap:.2f}" y="{base - height:.2f}" '
            f'width="{max(slot - 2 * gap, 1.0):.2f}" height="{height:.2f}">'
            f"<title>{_e(tip)}</title></rect>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _day_ticks(window: Window, slot: float, base: float) -> list[str]:
    """A grid line at each midnight (UTC), labelled with its date; some skipped when crowded."""
    every = max(1, math.ceil(window.days / 14))
    first = window.start.replace(hour=0) + (timedelta(days=1) if window.start.hour else timedelta())
    ticks = []
    day = first
    number = 0
    while day < window.end:
        x = _LEFT + (day - window.start) / HOUR * slot
        ticks.append(f'<line class="grid" x1="{x:.2f}" y1="{_TOP}" x2="{x:.2f}" y2="{base + 4}"/>')
        if number % every == 0:
            ticks.append(f'<text x="{x + 3:.2f}" y="{base + 16}">{day:%m-%d}</text>')
        day += timedelta(days=1)
        number += 1
    return ticks


def _problems(problems: Sequence[ProblemFile], total: int) -> str:
    head = (
        '<section id="problems">\n<h2>Failed, skipped and out-of-order files</h2>\n'
        '<p class="muted">Failed and out-of-order files are tried again by every run; '
        "skipped ones never load.</p>"
    )
    if not problems:
        return head + "\n<p>None.</p>\n</section>"
    shown = (
        f'\n<p class="muted">The {len(problems):,} most recently changed of {total:,}.</p>'
        if total > len(problems)
        else ""
    )
    rows = [
        f'<tr class="{_e(p.status)}">'
        f"<td>{_e(p.table)}</td>"
        f'<td><span class="badge">{_e(p.status.replace("_", " "))}</span></td>'
        f'<td><code class="key">{_e(p.key)}</code></td>'
        f'<td class="reason">{_e(p.reason)}</td>'
        f'<td class="n">{plural(p.attempts, "attempt")}</td>'
        f"<td>{_time(p.file_instant)}</td>"
        f"<td>{_time(p.updated_at)}</td>"
        "</tr>"
        for p in problems
    ]
    return (
        head
        + shown
        + "\n<table>\n<thead><tr><th>Table</th><th>Status</th><th>File</th><th>Reason</th>"
        '<th class="n">Attempts</th><th>Time in key</th><th>Last change</th></tr></thead>\n'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n</section>"
    )


def _runs(runs: Iterable[RunActivity]) -> str:
    head = (
        '<section id="runs">\n<h2>Runs</h2>\n<p class="muted">Most recent first, at most '
        f"{RUNS}. The ledger keeps each file's latest state, so a run counts the files whose "
        "last change it made: a file that failed once and loaded later counts for the later "
        "run only.</p>"
    )
    rows = [
        "<tr>"
        f"<td><code>{_e(r.run_id)}</code></td>"
        f"<td>{_time(r.first_at)}</td>"
        f"<td>{_time(r.last_at)}</td>"
        f'<td class="n">{r.files_loaded:,}</td>'
        f'<td class="n">{r.files_failed:,}</td>'
        f'<td class="n">{r.rows_written:,}</td>'
        "</tr>"
        for r in runs
    ]
    if not rows:
        return head + "\n<p>No run has recorded a file yet.</p>\n</section>"
    return (
        head + "\n<table>\n<thead><tr><th>Run</th><th>First change</th><th>Last change</th>"
        '<th class="n">Files loaded</th><th class="n">Files failed</th>'
        '<th class="n">Rows written</th></tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n</section>"
    )


# -- values ---------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return f"{_utc(moment):%Y-%m-%dT%H:%M:%S}Z"


def _time(moment: datetime) -> str:
    text = _iso(moment)
    return f'<time datetime="{text}">{text}</time>'


def _anchor(table: str) -> str:
    return _e(f"table-{table}")


def _last_load(table: TableActivity) -> str:
    if table.last_key is None or table.last_loaded_at is None:
        return '<span class="muted">no file loaded yet</span>'
    return f'<code class="key">{_e(table.last_key)}</code><br>at {_time(table.last_loaded_at)}'


def _lag(table: TableActivity) -> float | None:
    """How long the last file loaded took to arrive: its load, less the time in its key."""
    if table.last_loaded_at is None or table.last_instant is None:
        return None
    return (table.last_loaded_at - table.last_instant).total_seconds()


def _age(table: TableActivity, now: datetime) -> float | None:
    if table.last_loaded_at is None:
        return None
    return (now - table.last_loaded_at).total_seconds()


def _maybe_duration(seconds: float | None) -> str:
    if seconds is None:
        return '<span class="muted">&ndash;</span>'
    return f'<span title="{seconds:,.0f} s">{_duration(seconds)}</span>'


def _duration(seconds: float) -> str:
    """The two largest units: ``45 s``, ``3 min 5 s``, ``2 h 0 min``, ``532 d 4 h``.

    Negative for a key stamped after its load (a clock upstream that runs ahead).
    """
    sign = "-" if seconds < 0 else ""
    left = round(abs(seconds))
    if left < 60:
        return f"{sign}{left} s"
    minutes, left = divmod(left, 60)
    if minutes < 60:
        return f"{sign}{minutes} min {left} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{sign}{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{sign}{days:,} d {hours} h"


_CSS = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6474; --line: #dde1e8;
  --bar: #3563c9; --bad: #b42318; --warn: #a15c07; --paper: #fff; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 10px; }
section { background: var(--paper); border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px; margin: 16px 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  overflow-wrap: anywhere; }
a { color: inherit; }
.muted { color: var(--muted); }
tr.bad td:first-child { box-shadow: inset 3px 0 var(--bad); }
tr.muted td { color: var(--muted); }
.kind { font-size: 12px; font-weight: 400; color: var(--muted); border: 1px solid var(--line);
  border-radius: 10px; padding: 1px 8px; margin-left: 6px; vertical-align: middle; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px;
  white-space: nowrap; color: #fff; background: var(--muted); }
tr.failed .badge { background: var(--bad); }
tr.skipped .badge { background: var(--warn); }
td.reason { overflow-wrap: anywhere; white-space: pre-wrap; }
dl.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr));
  gap: 8px 24px; margin: 0 0 12px; }
dl.stats dt { color: var(--muted); font-size: 12px; }
dl.stats dd { margin: 0; }
figure { margin: 0; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart .bar { fill: var(--bar); }
svg.chart .bar:hover { fill: #1d3f8f; }
svg.chart .axis { stroke: #98a1b0; stroke-width: 1; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart text { font: 11px system-ui, sans-serif; fill: var(--muted); }
footer { padding-bottom: 24px; }
"""
