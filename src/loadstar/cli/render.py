"""The commands' output for people: short lines, counts first, problems under their table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any


def run_text(data: dict[str, Any]) -> str:
    lines = [
        f"run {data['run_id']}: {data['status']}, {data['files_loaded']} files loaded, "
        f"{data['rows_written']:,} rows written, {data['files_failed']} failed, "
        f"{data['files_pending']} pending, {data['seconds']} s"
    ]
    if "reason" in data:
        lines.append(f"  {data['reason']}")
    for name, table in data["tables"].items():
        lines.append(
            f"  {name:<24} {table['files_loaded']:>4} loaded {table['rows_written']:>10,} rows"
            f"{count(table['failed'], 'failed')}{count(table['skipped'], 'skipped')}"
            f"{count(table['pending'], 'pending')}"
        )
        if table.get("error"):
            lines.append(f"    error: {table['error']}")
        for item in [*table["failed"], *table["skipped"]]:
            lines.append(f"    {item['key']}: {item['reason']}")
        if table.get("busy"):
            lines.append(f"    busy: {table['busy']}")
        for item in table.get("unclaimed", []):
            lines.append(f"    not claimed: {item['key']}: {item['why']}")
    if "stopped_early" in data:
        lines.append(f"  stopped early: {data['stopped_early']}")
    lines += unclaimed_text(data)
    for item in data.get("needs_attention", []):
        lines.append(f"  needs attention: {item['key']} ({item['table']}): {item['reason']}")
        lines.append(f"    to resolve: {item['command']}")
    return "\n".join(lines)


def count(items: Sequence[object], label: str) -> str:
    return f", {len(items)} {label}" if items else ""


def plan_text(data: dict[str, Any]) -> str:
    lines = []
    for table in data["tables"]:
        files, reported = table["files"], table["reported"]
        if not files and not reported and "error" not in table:
            lines.append(f"{table['table']:<24} nothing to load")
            continue
        size = sum(f["size_bytes"] for f in files)
        lines.append(f"{table['table']:<24} {len(files)} to load ({size / 1e6:.1f} MB)")
        if "error" in table:
            lines.append(f"  would fail: {table['error']}")
        for f in files:
            rows = "?" if f["rows"] is None else f"{f['rows']:,}"
            verdict = f"would fail: {f['problem']}" if f["problem"] else "ok"
            lines.append(f"  {f['key']}  {f['size_bytes']:,} bytes, {rows} rows  {verdict}")
        for item in reported:
            lines.append(f"  {item['key']}  reported, not loaded: {item['reason']}")
    lines += unclaimed_text(data)
    checked = "" if data["values_checked"] else " (schemas only; values not read)"
    verdict = "would fail" if data["would_fail"] else "would load cleanly"
    lines.append(f"the next run {verdict}{checked}")
    return "\n".join(lines)


def status_text(data: dict[str, Any]) -> str:
    lines = []
    for t in data["tables"]:
        line = f"{t['table']:<20} {t['files_loaded']:>5} loaded {t['rows']:>12,} rows  "
        line += f"{t['pending']:>3} pending"
        if t["pending"]:
            line += f" (oldest {duration(t['oldest_pending_age_seconds'])})"
        if t["failed"]:
            line += f"  {len(t['failed'])} FAILED"
        if t["newest_loaded_key"]:
            when = f"{datetime.fromisoformat(t['newest_loaded_at']):%Y-%m-%d %H:%M:%SZ}"
            line += f"  newest {when} {t['newest_loaded_key']}"
        lines.append(line)
        if t.get("error"):
            lines.append(f"    error: {t['error']}")
        if t.get("watermark"):
            full = t["last_full_listing"]
            when = f"{datetime.fromisoformat(full):%Y-%m-%d %H:%M:%SZ}" if full else "never"
            lines.append(f"    listed from {t['watermark']} (last full listing {when})")
        for failed in t["failed"]:
            lines.append(f"    failed {failed['key']}: {failed['reason']}")
        for key in t.get("gone", []):
            lines.append(f"    gone {key}: failed, then deleted from the bucket")
        for item in t["reported"]:
            lines.append(f"    reported {item['key']}: {item['reason']}")
    totals = data["totals"]
    lines += unclaimed_text(data)
    lines.append(
        f"{'total':<20} {totals['files_loaded']:>5} loaded {totals['rows']:>12,} rows  "
        f"{totals['pending']:>3} pending  {totals['failed']} failed"
    )
    return "\n".join(lines)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def history_text(data: list[dict[str, Any]]) -> str:
    if not data:
        return "the ledger holds no files yet"
    lines = []
    for e in data:
        rows = "" if e["rows_written"] is None else f" {e['rows_written']:,} rows"
        replays = f", replayed {e['replays']}x" if e["replays"] else ""
        reason = f"  {e['reason']}" if e["reason"] else ""
        lines.append(
            f"{e['updated_at']:%Y-%m-%d %H:%M:%S}  {e['status']:<12} {e['table']:<22} "
            f"{e['key']}{rows}{replays}{reason}"
        )
    return "\n".join(lines)


def unclaimed_text(data: dict[str, Any]) -> list[str]:
    """The lines saying which data-looking keys no table claims, if any."""
    found = data.get("unclaimed") or {}
    if not found.get("count"):
        return []
    lines = [f"{found['count']} data file(s) in the bucket that no table claims, e.g.:"]
    lines += [f"  {key}" for key in found["examples"]]
    return lines
