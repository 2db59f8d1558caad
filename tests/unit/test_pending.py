"""Which files a run loads, given the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loadstar.discovery import SourceFile
from loadstar.ledger import LedgerRow, Status
from loadstar.pending import pending_files

T0 = datetime(2024, 5, 24, tzinfo=UTC)


def file(n: int, etag: str = "e") -> SourceFile:
    return SourceFile(f"k{n}", etag, 10, T0 + timedelta(hours=n), True)


def row(n: int, status: Status, etag: str = "e") -> LedgerRow:
    return LedgerRow(f"k{n}", "t", etag, status, T0 + timedelta(hours=n), 1, None)


def test_everything_new_is_pending_oldest_first() -> None:
    todo = pending_files("fact", [file(1), file(2), file(3)], {})
    assert [f.key for f in todo.to_load] == ["k1", "k2", "k3"]


def test_loaded_files_are_not_pending_and_failed_ones_are() -> None:
    known = {"k1": row(1, Status.LOADED), "k2": row(2, Status.FAILED)}
    todo = pending_files("fact", [file(1), file(2), file(3)], known)
    assert [f.key for f in todo.to_load] == ["k2", "k3"]


def test_changed_etag_of_a_loaded_file_is_reported_not_reloaded() -> None:
    todo = pending_files("fact", [file(1, etag="new")], {"k1": row(1, Status.LOADED, etag="old")})
    assert todo.to_load == []
    assert [(f.key, r.etag) for f, r in todo.changed] == [("k1", "old")]


def test_older_dimension_file_than_one_applied_is_out_of_order() -> None:
    known = {"k5": row(5, Status.LOADED)}
    todo = pending_files("dimension", [file(3), file(5), file(6)], known)
    assert [f.key for f in todo.out_of_order] == ["k3"]
    assert [f.key for f in todo.to_load] == ["k6"]


def test_older_fact_file_still_loads() -> None:
    todo = pending_files("fact", [file(3), file(5)], {"k5": row(5, Status.LOADED)})
    assert [f.key for f in todo.to_load] == ["k3"]


def test_skipped_and_out_of_order_files_stay_put() -> None:
    known = {"k1": row(1, Status.SKIPPED), "k2": row(2, Status.OUT_OF_ORDER)}
    todo = pending_files("dimension", [file(1), file(2), file(3)], known)
    assert [f.key for f in todo.to_load] == ["k3"]
