"""The commands' output for people: counts first, problems under their table.

On a terminal the per-table lines are drawn as tables (`loadstar.cli.output`);
piped, the same lines are plain text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loadstar.cli.output import plural, size, table


def run_text(data: dict[str, Any]) -> str | None:
    print(
        f"run {data['run_id']}: {data['status']}, {plural(data['files_loaded'], 'file')} loaded, "
        f"{plural(data['rows_written'], 'row')} written, {data['files_failed']:,} failed, "
        f"{data['files_pending']:,} pending, in {data['seconds']} s"
    )
    rows = [
        [
            t["name"],
            f"{t['files_loaded']:,}",
            f"{t['rows_written']:,}",
            f"{len(t['failed']):,}",
            f"{len(t['skipped']):,}",
            f"{len(t['pending']):,}",
        ]
        for t in data["tables"]
    ]
    table(None, ["table", "files loaded", "rows written", "failed", "skipped", "pending"], rows)
    lines = []
    if "reason" in data:
        lines.append(f"  {data['reason']}")
    for t in data["tables"]:
        notes = [f"  {t['name']}: error: {t['error']}"] if t.get("error") else []
        notes += [f"  {t['name']}: {item['key']}: {item['reason']}" for item in t["failed"]]
        notes += [f"  {t['name']}: {item['key']}: {item['reason']}" for item in t["skipped"]]
        if t.get("busy"):
            notes.append(f"  {t['name']}: busy: {t['busy']}")
        notes += [
            f"  {t['name']}: not claimed: {item['key']}: {item['why']}"
            for item in t.get("unclaimed", [])
        ]
        lines += notes
    if "stopped_early" in data and not data.get("error"):
        lines.append(f"  stopped early: {data['stopped_early']}")
    lines += unclaimed_text(data)
    for item in data.get("needs_attention", []):
        lines.append(f"  needs attention: {item['key']} ({item['table']}): {item['reason']}")
        lines.append(f"    to resolve: {item['command']}")
    return "\n".join(lines) or None


def plan_text(data: dict[str, Any]) -> str:
    lines = []
    for t in data["tables"]:
        files, reported = t["files"], t["reported"]
        if not files and not reported and "error" not in t:
            lines.append(f"{t['name']:<24} nothing to load")
            continue
        total = sum(f["size_bytes"] for f in files)
        lines.append(f"{t['name']:<24} {plural(len(files), 'file')} to load ({size(total)})")
        if "error" in t:
            lines.append(f"  would fail: {t['error']}")
        for f in files:
            rows = "? rows" if f["rows"] is None else plural(f["rows"], "row")
            verdict = f"would fail: {f['problem']}" if f["problem"] else "ok"
            lines.append(f"  {f['key']}  {size(f['size_bytes'])}, {rows}  {verdict}")
        for item in reported:
            lines.append(f"  {item['key']}  reported, not loaded: {item['reason']}")
    lines += unclaimed_text(data)
    checked = "" if data["values_checked"] else " (schemas only; values not read)"
    verdict = "would fail" if data["would_fail"] else "would load cleanly"
    lines.append(f"the next run {verdict}{checked}")
    return "\n".join(lines)


def status_text(data: dict[str, Any]) -> str | None:
    rows = []
    for t in data["tables"]:
        pending = f"{t['pending']:,}"
        if t["pending"]:
            pending += f" (oldest {duration(t['oldest_pending_age_seconds'])})"
        newest = t["newest_loaded_at"]
        rows.append(
            [
                t["name"],
                f"{t['files_loaded']:,}",
                f"{t['rows']:,}",
                pending,
                f"{len(t['failed']):,}",
                f"{t['skipped']:,}",
                _when(newest) if newest else "-",
            ]
        )
    totals = data["totals"]
    rows.append(
        [
            "total",
            f"{totals['files_loaded']:,}",
            f"{totals['rows']:,}",
            f"{totals['pending']:,}",
            f"{totals['failed']:,}",
            f"{sum(t['skipped'] for t in data['tables']):,}",
            "",
        ]
    )
    headers = ["table", "loaded", "rows", "pending", "failed", "skipped", "newest file's time"]
    table(f"s3://{data['bucket']}", headers, rows)
    lines = []
    for t in data["tables"]:
        name = t["name"]
        if t.get("error"):
            lines.append(f"{name}: error: {t['error']}")
        if t["newest_loaded_key"]:
            lines.append(f"{name}: newest loaded {t['newest_loaded_key']}")
        for failed in t["failed"]:
            lines.append(f"{name}: failed {failed['key']}: {failed['reason']}")
        for key in t.get("gone", []):
            lines.append(f"{name}: gone {key}: failed, then deleted from the bucket")
        skipped = t.get("newest_skipped")
        if skipped:
            trail = skipped["reason"].replace("\n", "; ")
            lines.append(
                f"{name}: {plural(t['skipped'], 'file')} skipped; newest {skipped['key']}: {trail}"
            )
        for item in t["reported"]:
            lines.append(f"{name}: reported {item['key']}: {item['reason']}")
    lines += unclaimed_text(data)
    return "\n".join(lines) or None


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}Z"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= scale:
            return f"{seconds / scale:.1f} {unit}"
    return f"{seconds:.0f} s"


def history_text(data: dict[str, Any]) -> str | None:
    files = data["files"]
    if not files:
        which = f"of table {data['table']} " if data["table"] else ""
        return f"the ledger holds no files {which}from s3://{data['bucket']} yet"
    rows = [
        [
            _when(e["updated_at"]),
            e["status"],
            e["name"],
            e["key"],
            "-" if e["rows_written"] is None else f"{e['rows_written']:,}",
            f"{e['replays']:,}",
            (e["reason"] or "").replace("\n", "; "),
        ]
        for e in files
    ]
    table(None, ["updated", "status", "table", "key", "rows", "replays", "reason"], rows)
    return None


def unclaimed_text(data: dict[str, Any]) -> list[str]:
    """The lines saying which data-looking keys no table claims, if any."""
    found = data.get("unclaimed") or {}
    if not found.get("count"):
        return []
    lines = [f"{plural(found['count'], 'data file')} in the bucket that no table claims, e.g.:"]
    lines += [f"  {key}" for key in found["examples"]]
    return lines
