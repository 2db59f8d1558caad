"""What an invocation was asked to do, read from the event AWS sent.

- a schedule (EventBridge's scheduled event, or anything that names no file):
  a sweep of every table;
- SQS messages from an event source mapping, each an S3 event notification,
  an SNS envelope around one, or S3's ``s3:TestEvent`` (ignored);
- S3 event notifications delivered directly;
- EventBridge's "Object Created" events from S3.

S3 notifications URL-encode their keys (``+`` for a space); EventBridge's do
not. Each file keeps the SQS message it came from, so the handler can hand
back exactly the messages whose files could not be loaded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from loadstar.errors import ConfigError


@dataclass(frozen=True)
class Notice:
    """One object an event says was created."""

    bucket: str
    key: str
    etag: str | None = None
    size: int | None = None
    time: datetime | None = None
    message_id: str | None = None
    """The SQS message it came in, when it came through a queue."""


@dataclass(frozen=True)
class Trigger:
    """The invocation's work: a sweep, or the files events name."""

    notices: tuple[Notice, ...] = ()
    messages: tuple[str, ...] = ()
    """Every SQS message id of the batch, files or not."""
    from_queue: bool = False
    sweep_bucket: str | None = None
    """A scheduled event's own bucket (``bucket`` or ``detail.bucket``), if it names one."""
    ignored: list[str] = field(default_factory=list)
    """Messages that carried nothing to load (test events, other event types), and why."""
    unreadable: dict[str, str] = field(default_factory=dict)
    """SQS messages that are no notification loadstar can read (by id), and why: they go
    back to the queue, and on to its dead-letter queue, rather than vanish."""

    @property
    def is_sweep(self) -> bool:
        return not self.notices and not self.from_queue and not self.ignored

    @property
    def buckets(self) -> set[str]:
        return {n.bucket for n in self.notices}


def read_event(event: Any) -> Trigger:
    """The work an event asks for; `ConfigError` for an event loadstar cannot read."""
    if not isinstance(event, Mapping):
        return Trigger()
    records = event.get("Records")
    if isinstance(records, list) and records:
        if all(isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records):
            return _from_queue(records)
        notices, ignored = _from_s3_records(records, message_id=None)
        return Trigger(notices=tuple(notices), ignored=ignored)
    if event.get("source") == "aws.s3":
        return _from_eventbridge(event)
    if event.get("Event") == "s3:TestEvent":
        return Trigger(ignored=["S3's test event"])
    return Trigger(sweep_bucket=_named_bucket(event))


def _from_queue(records: list[Any]) -> Trigger:
    notices: list[Notice] = []
    ignored: list[str] = []
    unreadable: dict[str, str] = {}
    ids: list[str] = []
    for record in records:
        message_id = str(record.get("messageId", ""))
        ids.append(message_id)
        try:
            found, why = _from_message(record.get("body"), message_id)
        except ConfigError as exc:
            unreadable[message_id] = str(exc)
            continue
        notices.extend(found)
        ignored.extend(why)
    return Trigger(
        notices=tuple(notices),
        messages=tuple(ids),
        from_queue=True,
        ignored=ignored,
        unreadable=unreadable,
    )


def _from_message(text: object, message_id: str) -> tuple[list[Notice], list[str]]:
    """One SQS message's notices, and why any part of it carried nothing to load."""
    body = _json(text, "the message body")
    if isinstance(body, Mapping) and body.get("Type") == "Notification":
        # S3 → SNS → SQS: the notification is the SNS message.
        body = _json(body.get("Message"), "the SNS message")
    if not isinstance(body, Mapping):
        raise ConfigError("the message body is not an S3 notification")
    if body.get("Event") == "s3:TestEvent":
        return [], [f"{message_id}: S3's test event"]
    if body.get("source") == "aws.s3":  # EventBridge → SQS
        trigger = _from_eventbridge(body, message_id=message_id)
        return list(trigger.notices), trigger.ignored
    records = body.get("Records")
    if not isinstance(records, list) or not records:
        raise ConfigError("the message is neither an S3 notification nor an EventBridge event")
    return _from_s3_records(records, message_id)


def _json(text: object, what: str) -> Any:
    if not isinstance(text, str):
        raise ConfigError(f"{what} is not text")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{what} is not JSON: {exc}") from None


def _from_s3_records(records: list[Any], message_id: str | None) -> tuple[list[Notice], list[str]]:
    notices, ignored = [], []
    for record in records:
        s3 = record.get("s3") if isinstance(record, Mapping) else None
        name = str(record.get("eventName", "")) if isinstance(record, Mapping) else ""
        if not isinstance(s3, Mapping):
            ignored.append(f"{message_id or 'event'}: a record with no s3 part")
            continue
        if not name.startswith("ObjectCreated"):
            ignored.append(f"{message_id or 'event'}: {name or 'an event'} is not a new object")
            continue
        obj = _mapping(s3.get("object"), "the notification's object")
        bucket = _mapping(s3.get("bucket"), "the notification's bucket").get("name")
        notices.append(
            Notice(
                bucket=_text(bucket, "the notification's bucket"),
                key=unquote_plus(_text(obj.get("key"), "the notification's key")),
                etag=_etag(obj.get("eTag")),
                size=_int(obj.get("size")),
                time=_time(record.get("eventTime")),
                message_id=message_id,
            )
        )
    return notices, ignored


def _from_eventbridge(event: Mapping[str, Any], message_id: str | None = None) -> Trigger:
    if event.get("detail-type") != "Object Created":
        return Trigger(ignored=[f"{event.get('detail-type')!r} is not a new object"])
    detail = _mapping(event.get("detail"), "the event's detail")
    obj = _mapping(detail.get("object"), "the event's detail.object")
    bucket = _mapping(detail.get("bucket"), "the event's detail.bucket").get("name")
    notice = Notice(
        bucket=_text(bucket, "the event's detail.bucket.name"),
        key=_text(obj.get("key"), "the event's detail.object.key"),
        etag=_etag(obj.get("etag")),
        size=_int(obj.get("size")),
        time=_time(event.get("time")),
        message_id=message_id,
    )
    return Trigger(notices=(notice,))


def _named_bucket(event: Mapping[str, Any]) -> str | None:
    candidates = [event.get("bucket")]
    detail = event.get("detail")
    if isinstance(detail, Mapping):
        candidates.append(detail.get("bucket"))
    for value in candidates:
        if value is not None:
            return _text(value, "the event's bucket")
    return None


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must be an object, got {value!r}")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _etag(value: object) -> str | None:
    return value.strip('"') if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
