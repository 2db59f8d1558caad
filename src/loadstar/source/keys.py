"""The instant a key carries, in any of the forms upstream steps stamp their files with.

Upstream steps stamp their files in many ways; loadstar orders a table's files
by the instant in the key, never by the key's string order (which puts
``…-9.parquet`` after ``…-10.parquet`` and ignores time zones).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

SEPARATORS = "-_/."

_DATETIME = re.compile(
    r"""
    (?<!\d)
    (?P<Y>\d{4}) (?P<ds>[-/_]?) (?P<m>\d{2}) (?P=ds) (?P<d>\d{2})
    [ T_/-]?
    (?P<H>\d{2}) (?P<ts>[:\-_.]?) (?P<M>\d{2}) (?P=ts) (?P<S>\d{2})
    (?: [.,]? (?P<f>\d{1,9}) )?
    (?P<tz> Z | [+-]\d{2}:\d{2} )?
    (?!\d)
    """,
    re.VERBOSE | re.ASCII,
)
_DATE = re.compile(
    r"(?<!\d)(?P<Y>\d{4})(?P<ds>[-/_]?)(?P<m>\d{2})(?P=ds)(?P<d>\d{2})(?!\d)", re.ASCII
)
_EPOCH = re.compile(r"(?<!\d)(?P<n>\d{9,19})(?:\.(?P<f>\d{1,9}))?(?!\d)", re.ASCII)
_FORMS = (_DATETIME, _EPOCH, _DATE)

# Epoch numbers are told apart by their number of digits: seconds of this era
# have 10, milliseconds 13, microseconds 16, nanoseconds 19.
_EPOCH_DIVISOR = {
    range(9, 11): 1,
    range(11, 14): 1_000,
    range(14, 17): 1_000_000,
    range(17, 20): 1_000_000_000,
}


def starts_with_timestamp(text: str) -> bool:
    """Whether ``text`` begins with a timestamp in one of the forms keys carry."""
    return any(form.match(text) for form in _FORMS)


def is_timestamp(text: str) -> bool:
    """Whether ``text`` is, whole, a timestamp in one of the forms keys carry."""
    return any(form.fullmatch(text) for form in _FORMS) and instant_from_key(text) is not None


def instant_from_key(rest: str) -> datetime | None:
    """The UTC instant stamped in a key's remainder, or None when it has none.

    Naive timestamps are taken as UTC. A full date and time wins over an epoch
    number, which wins over a bare date; of several of one kind the last (the
    file name, after any date folders) wins.
    """
    # No form reads past a non-digit, so a suffix such as ``.parquet`` needs no stripping.
    for parse in (_last_datetime, _last_epoch, _last_date):
        found = parse(rest)
        if found is not None:
            return found
    return None


def _last_datetime(text: str) -> datetime | None:
    found = None
    for m in _DATETIME.finditer(text):
        try:
            fraction = (m["f"] or "").ljust(6, "0")[:6]
            value = datetime(
                int(m["Y"]),
                int(m["m"]),
                int(m["d"]),
                int(m["H"]),
                int(m["M"]),
                int(m["S"]),
                int(fraction),
                tzinfo=_zone(m["tz"]),
            )
        except ValueError:
            continue
        found = value.astimezone(UTC)
    return found


def _last_epoch(text: str) -> datetime | None:
    found = None
    for m in _EPOCH.finditer(text):
        digits = m["n"]
        divisor = next(d for r, d in _EPOCH_DIVISOR.items() if len(digits) in r)
        if m["f"] and divisor != 1:
            continue
        whole, part = divmod(int(digits), divisor)
        micros = part * 1_000_000 // divisor
        if m["f"]:
            micros = int(m["f"].ljust(6, "0")[:6])
        try:
            found = datetime.fromtimestamp(whole, UTC) + timedelta(microseconds=micros)
        except (OverflowError, OSError, ValueError):
            continue
    return found


def _last_date(text: str) -> datetime | None:
    found = None
    for m in _DATE.finditer(text):
        try:
            found = datetime(int(m["Y"]), int(m["m"]), int(m["d"]), tzinfo=UTC)
        except ValueError:
            continue
    return found


def _zone(text: str | None) -> timezone:
    if not text or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if offset >= timedelta(hours=24):
        raise ValueError(f"time zone offset out of range: {text}")
    return timezone(sign * offset)
