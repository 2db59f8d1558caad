"""Which files a run loads, given the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from loadstar.run.pending import pending_files
from loadstar.source.claims import KeyRule
from loadstar.warehouse.ledger import Known

T0 = datetime(2024, 5, 24, tzinfo=UTC)
PREFIX = "fact/sales_order"
RULE = KeyRule(prefix=PREFIX)


def key(n: int) -> str:
    return f"{PREFIX}-{T0 + timedelta(hours=n):%Y-%m-%dT%H:%M:%SZ}.parquet"


def listed(n: int, etag: str = "e") -> Any:
    return {"Key": key(n), "ETag": f'"{etag}"', "Size": 10, "LastModified": T0}


def known(*rows: tuple[int, str], etag: str = "e") -> Known:
    return Known({key(n): (etag, status) for n, status in rows})


def keys(*ns: int) -> list[str]:
    return [key(n) for n in ns]


def test_everything_new_is_pending_oldest_first() -> None:
    todo = pending_files(RULE, [listed(3), listed(1), listed(2)], known())
    assert [f.key for f in todo.to_load] == keys(1, 2, 3)


def test_other_tables_files_are_not_pending() -> None:
    other: Any = {
        "Key": "fact/sales_order_line-2024.parquet",
        "ETag": '"e"',
        "Size": 1,
        "LastModified": T0,
    }
    todo = pending_files(RULE, [other], known())
    assert todo.to_load == []
    assert todo.not_claimed == [other["Key"]]
    assert todo.listed == {other["Key"]}


def test_loaded_files_are_not_pending_and_failed_ones_are() -> None:
    listing = [listed(1), listed(2), listed(3)]
    todo = pending_files(RULE, listing, known((1, "loaded"), (2, "failed")))
    assert [f.key for f in todo.to_load] == keys(2, 3)
    assert todo.settled == {key(1)}


def test_changed_etag_of_a_loaded_file_is_reported_not_reloaded() -> None:
    todo = pending_files(RULE, [listed(1, etag="new")], known((1, "loaded"), etag="old"))
    assert todo.to_load == []
    assert [(f.key, f.etag, old) for f, old in todo.changed] == [(key(1), "new", "old")]
    [(_, reason, command)] = todo.attention
    assert "ETag old is now new" in reason
    assert command == f"loadstar replay {key(1)}"


def test_a_file_older_than_one_loaded_still_loads() -> None:
    listing = [listed(3), listed(5), listed(6)]
    todo = pending_files(RULE, listing, known((5, "loaded")))
    assert [f.key for f in todo.to_load] == keys(3, 6)


def test_skipped_files_stay_put_and_ones_once_held_back_load() -> None:
    listing = [listed(1), listed(2), listed(3)]
    todo = pending_files(RULE, listing, known((1, "skipped"), (2, "out_of_order")))
    assert [f.key for f in todo.to_load] == keys(2, 3)
    assert todo.settled == {key(1)}
