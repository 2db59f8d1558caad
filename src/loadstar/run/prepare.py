"""Getting a table ready to load: the one way every command finds what a run would do.

Known files from the ledger, the table's listing, the pending selection, and
(when anything is to load) the table as the warehouse describes it, checked
against the catalogue. Runs, ``plan``, ``status`` and ``replay`` all start
here, so what ``plan`` shows is what ``run`` does.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from loadstar.config import DEFAULT_FULL_LISTING_INTERVAL_SECONDS, TableSpec
from loadstar.errors import ClaimConflictError, TableError
from loadstar.run.pending import Pending, pending_files
from loadstar.shape.mapping import check_table
from loadstar.shape.table import TableInfo
from loadstar.source.claims import KeyRule, looks_like_data
from loadstar.source.discovery import SourceFile, source_file
from loadstar.source.s3 import list_objects
from loadstar.warehouse import Known, TableState, Warehouse

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectTypeDef


@dataclass(frozen=True)
class Listing:
    """How a table was listed: from where, and whether in full."""

    start_after: str | None
    """The watermark listed from; None for a full listing."""
    time_ordered: bool
    """Whether the table's keys sort in the order of their instants (known from full listings)."""

    @property
    def full(self) -> bool:
        return self.start_after is None


@dataclass(frozen=True)
class PreparedTable:
    spec: TableSpec
    known: Known
    pending: Pending
    listing: Listing
    newest_loaded: datetime | None = None
    """The instant of the newest file of the table ever loaded, for freshness."""
    table: TableInfo | None = None
    """The warehouse's description, checked; None when nothing is to load, or on ``problem``."""
    problem: TableError | None = None
    """Why none of the table's files can load now (the table missing, a catalogue mismatch)."""
    unclaimed: tuple[tuple[str, str], ...] = ()
    """Keys under the table's listing that look like data but no table claims, and why."""
    claimed_keys: tuple[str, ...] = ()
    """The table's keys in this listing, in key order."""

    @property
    def claimed(self) -> int:
        """How many of the listed keys are the table's files, loaded or not."""
        return len(self.claimed_keys)


def describe_for_loading(warehouse: Warehouse, spec: TableSpec) -> TableInfo:
    """The table as the warehouse has it, checked against the catalogue; `TableError` if unfit."""
    table = warehouse.describe(spec.name)
    check_table(spec, table)
    return table


def prepare_table(
    warehouse: Warehouse,
    s3: S3Client,
    bucket: str,
    spec: TableSpec,
    catalogue: Sequence[TableSpec] = (),
    *,
    full_listing_interval: float = DEFAULT_FULL_LISTING_INTERVAL_SECONDS,
    full_listing: bool = False,
) -> PreparedTable:
    """What a run would do with the table now.

    The table is listed from its watermark when its keys sort in time order
    and its last full listing is recent (within ``full_listing_interval``
    seconds; ``full_listing`` forces one), and the ledger is asked only about
    the keys listed, plus the files that failed before, which are tried
    again. A problem of the table itself is returned, not raised, so that
    callers can still show the files waiting behind it; any other error is
    raised. The other tables of the ``catalogue`` decide which unclaimed keys
    are nobody's, and a key two tables claim is a problem of both.
    """
    rule = KeyRule.of(spec)
    others = [(t.name, KeyRule.of(t)) for t in catalogue if t.name != spec.name]
    listing = _how_to_list(warehouse.listing_state(bucket, spec.name), full_listing_interval)
    if full_listing:
        listing = Listing(None, listing.time_ordered)
    objects = list(list_objects(s3, bucket, rule.listing_prefix, start_after=listing.start_after))
    known = warehouse.known_files(bucket, spec.name, [o["Key"] for o in objects])
    pending = pending_files(rule, objects, known)
    if not listing.full:
        # Below the watermark nothing is listed: files that failed there are
        # tried again from what the ledger recorded of them.
        pending.to_load = sorted(
            [*pending.to_load, *_failed_before(warehouse, bucket, spec, rule, pending)],
            key=lambda f: f.order,
        )
    claimed = tuple(sorted(k for k in pending.listed if k not in set(pending.not_claimed)))
    if listing.full:
        listing = Listing(None, _time_ordered(rule, objects))
    nobodys = tuple(
        (key, rule.why_not(key))
        for key in pending.not_claimed
        if looks_like_data(key) and not any(other.claim(key) for _, other in others)
    )
    newest = warehouse.newest_loaded(bucket, spec.name)
    found = PreparedTable(
        spec,
        known,
        pending,
        listing,
        newest_loaded=newest[0] if newest else None,
        unclaimed=nobodys,
        claimed_keys=claimed,
    )
    conflict = _conflict(spec, rule, pending, others)
    if conflict is not None:
        return dataclasses.replace(found, problem=conflict)
    if not pending.to_load:
        return found
    try:
        return dataclasses.replace(found, table=describe_for_loading(warehouse, spec))
    except TableError as exc:
        return dataclasses.replace(found, problem=exc)


def next_watermark(prepared: PreparedTable, done: set[str]) -> str | None:
    """The last claimed key up to which every claimed key is settled in the ledger.

    ``done`` are the keys this run loaded, failed or skipped; a key the run
    did not reach (out of time) holds the watermark below it.
    """
    watermark = prepared.listing.start_after
    for key in prepared.claimed_keys:
        if key not in prepared.pending.settled and key not in done:
            break
        watermark = key
    return watermark


def _how_to_list(state: TableState, interval: float) -> Listing:
    due = (
        state.last_full_listing is None
        or (datetime.now(UTC) - state.last_full_listing).total_seconds() >= interval
    )
    if due or not state.time_ordered or state.watermark is None:
        return Listing(None, state.time_ordered)
    return Listing(state.watermark, state.time_ordered)


def _time_ordered(rule: KeyRule, objects: list[ObjectTypeDef]) -> bool:
    """Whether the table's keys, as strings, sort as their instants do: listing from a
    watermark then finds every new file (a key that sorts lower would be missed)."""
    files = [f for o in objects if (f := source_file(rule, o))]
    if not all(f.stamped for f in files):
        return False
    by_key = sorted(files, key=lambda f: f.key)
    return all(a.instant <= b.instant for a, b in itertools.pairwise(by_key))


def _failed_before(
    warehouse: Warehouse, bucket: str, spec: TableSpec, rule: KeyRule, pending: Pending
) -> list[SourceFile]:
    files = []
    for recorded in warehouse.failed_files(bucket, spec.name):
        if recorded.key in pending.listed:
            continue
        claim = rule.claim(recorded.key)
        files.append(
            SourceFile(
                key=recorded.key,
                etag=recorded.etag,
                size=recorded.size,
                instant=recorded.instant,
                stamped=claim is not None and claim.instant is not None,
            )
        )
    return files


def _conflict(
    spec: TableSpec, rule: KeyRule, pending: Pending, others: Sequence[tuple[str, KeyRule]]
) -> ClaimConflictError | None:
    """A file this table would load that another table's rule claims too."""
    for file in pending.to_load:
        for name, other in others:
            if other.claim(file.key):
                return ClaimConflictError(
                    f"key {file.key!r} is claimed by both {spec.name} ({rule.describe}) "
                    f"and {name} ({other.describe})",
                    table=spec.name,
                    hint="a key may belong to one table: give each table its own prefix "
                    "(a folder ends in '/') or pattern",
                )
    return None
