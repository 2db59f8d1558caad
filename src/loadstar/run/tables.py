"""One table's share of a run: under its own lock, its files, each exactly once.

A sweep lists the table (from its watermark when it can) and loads what is
pending; an event invocation loads the files its events name, without
listing. Either way the table's advisory lock serialises it against any other
load of the same table, while other tables load side by side.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Sequence
from datetime import UTC, datetime

from loadstar.config import TableSpec
from loadstar.errors import TableBusyError
from loadstar.run import report, unclaimed
from loadstar.run.budget import Budget
from loadstar.run.loader import RunContext, load_with_retries
from loadstar.run.pending import changed_reason
from loadstar.run.prepare import describe_for_loading, next_watermark, prepare_table
from loadstar.run.summary import FileOutcome, TableSummary
from loadstar.shape.mapping import index_advice
from loadstar.shape.table import TableInfo
from loadstar.source.claims import KeyRule
from loadstar.source.discovery import SourceFile
from loadstar.telemetry import logs
from loadstar.warehouse import Status

SKIPPED_BY_OPERATOR = "skipped by an operator: `loadstar history` shows who and why"


def sweep_table(
    ctx: RunContext, spec: TableSpec, out: TableSummary, budget: Budget, *, full_listing: bool
) -> None:
    """List the table and load every pending file, oldest first."""
    with _locked(ctx, spec, budget):
        prepared = prepare_table(
            ctx.warehouse,
            ctx.s3,
            ctx.bucket,
            spec,
            ctx.catalogue,
            full_listing_interval=ctx.warehouse.settings.full_listing_interval_seconds,
            full_listing=full_listing,
        )
        unclaimed.note_table(spec, prepared, out)
        out.listed(prepared.newest_loaded, prepared.pending.waiting)
        for file, reason, command in prepared.pending.attention:
            out.skip(file.key, reason)
            report.file_skipped(spec.name, file, reason)
            out.attention.append({"key": file.key, "reason": reason, "command": command})
        if prepared.problem is not None:
            raise prepared.problem
        done: set[str] = set()
        if prepared.table is not None:
            load_files(ctx, spec, prepared.table, prepared.pending.to_load, out, budget, done)
        ctx.warehouse.listed(
            ctx.bucket,
            spec.name,
            watermark=next_watermark(prepared, done) if prepared.listing.time_ordered else None,
            time_ordered=prepared.listing.time_ordered,
            full=prepared.listing.full,
        )


def load_named(
    ctx: RunContext,
    spec: TableSpec,
    files: Sequence[SourceFile],
    out: TableSummary,
    budget: Budget,
) -> None:
    """Load the files events named, those the ledger does not hold yet; nothing is listed."""
    with _locked(ctx, spec, budget):
        known = ctx.warehouse.known_files(ctx.bucket, spec.name, [f.key for f in files])
        todo = []
        for file in files:
            etag, status = known.files.get(file.key, ("", None))
            if status == Status.LOADED and file.etag and file.etag != etag:
                # Rewritten in place after it was loaded: an operator decides.
                reason = changed_reason(file, etag)
                out.skip(file.key, reason)
                report.file_skipped(spec.name, file, reason)
                command = f"loadstar replay {shlex.quote(file.key)}"
                out.attention.append({"key": file.key, "reason": reason, "command": command})
            elif status == Status.LOADED:
                out.add(FileOutcome(spec.name, file.key, "already_loaded", instant=file.instant))
            elif status == Status.SKIPPED:
                out.skip(file.key, SKIPPED_BY_OPERATOR)
                report.file_skipped(spec.name, file, SKIPPED_BY_OPERATOR)
            else:
                todo.append(file)
        if todo:
            table = describe_for_loading(ctx.warehouse, spec)
            load_files(ctx, spec, table, sorted(todo, key=lambda f: f.order), out, budget, set())


def load_files(
    ctx: RunContext,
    spec: TableSpec,
    table: TableInfo,
    files: Sequence[SourceFile],
    out: TableSummary,
    budget: Budget,
    done: set[str],
) -> None:
    """Load each file in turn while the budget allows; a bad file never stops the rest."""
    advice = index_advice(spec, table)
    if advice:
        logs.event("version_key_unindexed", logging.WARNING, table=spec.name, advice=advice)
    for index, file in enumerate(files):
        left = budget.left()
        if not budget.allows(file.size, left):
            out.pending = [f.key for f in files[index:]]
            return
        try:
            outcome = load_with_retries(ctx, spec, table, file, time_left=left)
        except Exception:
            # The table or the run stops here: this file and the rest wait.
            out.pending = [f.key for f in files[index:]]
            raise
        budget.spent(file.size, outcome.seconds)
        out.add(outcome)
        done.add(file.key)


class _locked:
    """The table's lock for the block, or `TableBusyError` when another load keeps it."""

    def __init__(self, ctx: RunContext, spec: TableSpec, budget: Budget) -> None:
        self.ctx, self.spec = ctx, spec
        left = budget.left()
        wait = ctx.warehouse.settings.table_lock_wait_seconds
        self.wait = wait if left is None else max(0.0, min(wait, left))

    def __enter__(self) -> None:
        self.ctx.warehouse.ensure()
        if not self.ctx.warehouse.lock_table(self.spec.name, self.wait):
            raise TableBusyError(
                f"table {self.spec.name} is being loaded by another run",
                table=self.spec.name,
                hint="it loads when that run ends; nothing is lost",
            )

    def __exit__(self, *exc: object) -> None:
        self.ctx.warehouse.unlock_table(self.spec.name)


def named_file(rule: KeyRule, key: str, etag: str, size: int, at: datetime | None) -> SourceFile:
    """A file an event names, as a listing would have described it."""
    claim = rule.claim(key)
    modified = (at or datetime.now(UTC)).astimezone(UTC)
    instant = claim.instant if claim is not None and claim.instant is not None else modified
    return SourceFile(
        key=key,
        etag=etag,
        size=size,
        instant=instant,
        stamped=claim is not None and claim.instant is not None,
        last_modified=modified,
    )
