"""One run: a sweep of every table, or the files events name, each table under its lock.

A sweep takes the tables in load order (dimensions before facts); an event
invocation only the tables its files belong to. A run always reports itself:
whatever stops it, even an exception nobody foresaw, it ends in one
``run_finished`` line and returns its summary, which says what failed and at
what scope.
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from contextlib import closing
from typing import TYPE_CHECKING

from loadstar.aws import s3_client
from loadstar.config import Settings, TableKind, TableSpec, load_order
from loadstar.errors import LoadstarError, TableBusyError, scope_of
from loadstar.run import report, tables, unclaimed
from loadstar.run.budget import Budget
from loadstar.run.events import Notice
from loadstar.run.loader import Progress, RunContext
from loadstar.run.summary import RunSummary, TableSummary, new_run_id
from loadstar.source.claims import KeyRule
from loadstar.source.discovery import SourceFile
from loadstar.source.s3 import head_object
from loadstar.telemetry import logs
from loadstar.warehouse import Warehouse

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def run(
    settings: Settings,
    *,
    kinds: Collection[TableKind] = ("dimension", "fact"),
    context: object | None = None,
    s3: S3Client | None = None,
    progress: Progress | None = None,
    full_listing: bool = False,
) -> RunSummary:
    """Sweep: list every selected table and load what is pending; never raises."""
    specs = load_order(t for t in settings.tables if t.kind in kinds)

    def work(ctx: RunContext, summary: RunSummary, budget: Budget) -> None:
        _each_table(
            specs,
            summary,
            lambda spec, out: tables.sweep_table(ctx, spec, out, budget, full_listing=full_listing),
        )
        unclaimed.check_bucket(ctx.s3, summary.bucket, settings.tables, summary)

    return _run(settings, specs, work, context=context, s3=s3, progress=progress)


def run_files(
    settings: Settings,
    notices: Sequence[Notice],
    *,
    context: object | None = None,
    s3: S3Client | None = None,
) -> RunSummary:
    """Load the files events name, table by table in load order; never raises."""
    rules = [(spec, KeyRule.of(spec)) for spec in settings.tables]
    by_table: dict[str, list[Notice]] = defaultdict(list)
    for notice in notices:
        owners = [spec.name for spec, rule in rules if rule.claim(notice.key)]
        by_table[owners[0] if len(owners) == 1 else ""].append(notice)
    specs = [s for s in load_order(settings.tables) if s.name in by_table]

    def work(ctx: RunContext, summary: RunSummary, budget: Budget) -> None:
        summary.unowned = [n.key for n in by_table.get("", [])]
        rule_of = {spec.name: rule for spec, rule in rules}

        def one(spec: TableSpec, out: TableSummary) -> None:
            files = []
            for notice in by_table[spec.name]:
                file = _named(ctx, rule_of[spec.name], notice)
                if file is None:
                    out.settled.add(notice.key)  # deleted since: nothing is left to load
                else:
                    files.append(file)
            tables.load_named(ctx, spec, files, out, budget)

        _each_table(specs, summary, one)

    return _run(settings, specs, work, context=context, s3=s3, progress=None)


def _run(
    settings: Settings,
    specs: list[TableSpec],
    work: Callable[[RunContext, RunSummary, Budget], None],
    *,
    context: object | None,
    s3: S3Client | None,
    progress: Progress | None,
) -> RunSummary:
    freeze_startup_objects()
    started = time.monotonic()
    summary = RunSummary(run_id=new_run_id(), bucket=settings.require_bucket())
    unforeseen: BaseException | None = None
    with logs.bound(run_id=summary.run_id), closing(Warehouse(settings)) as warehouse:
        try:
            warehouse.open()
            budget = Budget(context, settings.time_reserve_seconds)
            client = s3 or s3_client()
            ctx = RunContext(
                warehouse, client, summary.bucket, summary.run_id, progress, budget, settings.tables
            )
            work(ctx, summary, budget)
        except Exception as exc:
            summary.stop(exc)
            summary.not_reached = [s.name for s in specs if s.name not in summary.tables]
            unforeseen = None if isinstance(exc, LoadstarError) else exc
        finally:
            summary.seconds = time.monotonic() - started
            report.run_finished(summary, unforeseen)
    return summary


def _each_table(
    specs: list[TableSpec],
    summary: RunSummary,
    load: Callable[[TableSpec, TableSummary], None],
) -> None:
    """Each table in turn; a table's problem stops that table only, a run's the run."""
    for spec in specs:
        if summary.stopped_early:
            # Facts wait for their dimensions: once a run stops short, every
            # later table waits for the next run.
            summary.not_reached.append(spec.name)
            continue
        out = summary.table(spec.name)
        try:
            load(spec, out)
        except Exception as exc:
            if scope_of(exc) != "table":
                raise
            out.stop(exc)
            if isinstance(exc, TableBusyError):
                report.table_busy(spec.name, exc)
            else:
                report.table_failed(spec.name, exc)
            continue
        summary.stopped_early = bool(out.pending)


def _named(ctx: RunContext, rule: KeyRule, notice: Notice) -> SourceFile | None:
    """The file a notice names; its ETag and size asked of S3 when the event lacks them."""
    etag, size = notice.etag, notice.size
    if etag is None or size is None:
        found = head_object(ctx.s3, notice.bucket, notice.key)
        if found is None:
            return None  # deleted since: nothing to load
        etag, size = found
    return tables.named_file(rule, notice.key, etag, size, notice.time)


def freeze_startup_objects() -> None:
    """Move what imports left behind out of the collector's way, once per process.

    boto3's service models and pyarrow's bindings are hundreds of thousands of
    objects that live as long as the process; every full collection during a
    run would walk them all. With 20,000 loaded files to list, that was a third
    of a run's own time.
    """
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


_frozen = False
