"""Which files a run loads, at the edges: what a changed loaded file is reported as."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from loadstar.run.pending import pending_files
from loadstar.source.claims import KeyRule
from loadstar.warehouse.ledger import Known

KEY = "fact/sales_order-2024-05-24T10:00:00Z.parquet"


def test_a_loaded_file_changed_in_place_is_reported_whole_with_its_replay_command() -> None:
    listed: Any = {"Key": KEY, "ETag": '"new"', "Size": 10, "LastModified": datetime.now(UTC)}
    todo = pending_files(
        KeyRule(prefix="fact/sales_order"), [listed], Known({KEY: ("old", "loaded")})
    )
    assert todo.to_load == []
    assert [(f.key, reason, command) for f, reason, command in todo.attention] == [
        (
            KEY,
            "changed after it was loaded: ETag old is now new; "
            "the warehouse holds the first version's rows",
            f"loadstar replay {KEY}",
        )
    ]


def entry(key: str, etag: str = "e") -> Any:
    return {"Key": key, "ETag": f'"{etag}"', "Size": 10, "LastModified": datetime.now(UTC)}


def test_a_key_no_rule_claims_holds_back_none_of_the_keys_listed_after_it() -> None:
    mine = "fact/sales_order-2024-05-24T10:00:00Z.parquet"
    listing = [
        entry("fact/sales_order_line-2024-05-24.parquet"),
        entry("fact/notes.txt"),
        entry(mine),
    ]
    todo = pending_files(KeyRule(prefix="fact/sales_order"), listing, Known({}))
    assert [f.key for f in todo.to_load] == [mine]
    assert todo.not_claimed == ["fact/sales_order_line-2024-05-24.parquet", "fact/notes.txt"]


def test_changed_files_are_reported_oldest_instant_first_whatever_their_keys() -> None:
    # 01:00Z, then 23:00-05:00 the evening before, which is 04:00Z: newer, though it sorts first.
    older = "fact/sales_order-2024-05-25 01:00:00.parquet"
    newer = "fact/sales_order-2024-05-24T23:00:00-05:00.parquet"
    third = "fact/sales_order-2024-05-25 02:00:00.parquet"
    listing = [entry(newer, "n2"), entry(third, "t2"), entry(older, "o2")]
    known = Known({older: ("o1", "loaded"), newer: ("n1", "loaded"), third: ("t1", "loaded")})
    todo = pending_files(KeyRule(prefix="fact/sales_order"), listing, known)
    assert [(f.key, etag) for f, etag in todo.changed] == [
        (older, "o1"),
        (third, "t1"),
        (newer, "n1"),
    ]
