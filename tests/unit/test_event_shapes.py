"""Events loadstar cannot read are named, never a raw exception that returns a whole batch."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loadstar.errors import ConfigError
from loadstar.run.events import read_event

BROKEN_PARTS: list[Any] = [
    {"bucket": {"name": "b"}, "object": "fact/x.parquet"},
    {"bucket": "b", "object": {"key": "fact/x.parquet"}},
    {"bucket": {"name": "b"}, "object": None},
    {"bucket": {"name": ["b"]}, "object": {"key": "k"}},
    {"bucket": {"name": "b"}, "object": {"key": 7}},
]


def s3_record(s3: Any) -> dict[str, Any]:
    return {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": s3}


@pytest.mark.parametrize("s3", BROKEN_PARTS)
def test_a_queued_notification_of_the_wrong_shape_is_unreadable_alone(s3: Any) -> None:
    good = {"bucket": {"name": "b"}, "object": {"key": "fact/a+b.parquet"}}
    records = [
        {
            "messageId": "bad",
            "eventSource": "aws:sqs",
            "body": json.dumps({"Records": [s3_record(s3)]}),
        },
        {
            "messageId": "good",
            "eventSource": "aws:sqs",
            "body": json.dumps({"Records": [s3_record(good)]}),
        },
    ]
    trigger = read_event({"Records": records})
    assert set(trigger.unreadable) == {"bad"}
    assert [(n.key, n.message_id) for n in trigger.notices] == [("fact/a b.parquet", "good")]


@pytest.mark.parametrize("s3", BROKEN_PARTS)
def test_a_direct_notification_of_the_wrong_shape_is_a_configuration_error(s3: Any) -> None:
    with pytest.raises(ConfigError, match="must be"):
        read_event({"Records": [s3_record(s3)]})


@pytest.mark.parametrize(
    "detail",
    ["text", {"bucket": "b", "object": {"key": "k"}}, {"bucket": {"name": "b"}, "object": []}],
)
def test_an_eventbridge_event_of_the_wrong_shape_is_a_configuration_error(detail: Any) -> None:
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": detail}
    with pytest.raises(ConfigError, match="must be"):
        read_event(event)
