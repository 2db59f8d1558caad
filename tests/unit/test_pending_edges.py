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
