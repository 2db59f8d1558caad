"""Which keys of the bucket belong to a table: three ways to say it, one rule each.

- A ``prefix`` ending in ``/`` is a folder: every key below it whose name ends
  in the table's suffix and whose part below the folder carries a timestamp,
  in the file name or in date folders (``dim_staff/2025/06/09/x.parquet``).
  A key directly in the folder with no timestamp (``dim_staff/dim_staff.parquet``)
  belongs too, ordered by its LastModified.
- Any other ``prefix`` claims a key when what follows it is the suffix alone
  (``dimension/staff.parquet``), or begins — after at most one of ``-_/.`` —
  with a timestamp and ends in the suffix. So ``dimension/payment`` never
  claims ``dimension/payment_type-…``, nor ``dimension/level`` ``dimension/level2-…``.
- A ``pattern`` from the bucket root, where ``{timestamp}`` stands for a
  timestamp (date folders included) and ``*`` for any characters within one
  path segment: ``"{timestamp}/staff.parquet"``, ``"exports/*/staff-{timestamp}.parquet"``.

Every part of loadstar reads keys through `KeyRule`, so a key means the same
to a run, ``plan``, ``status``, ``replay`` and `get_latest_parquet_file`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from loadstar.config import TableSpec
from loadstar.source.keys import SEPARATORS, instant_from_key, is_timestamp, starts_with_timestamp

DATA_SUFFIX = ".parquet"


@dataclass(frozen=True)
class Claim:
    """A key a table claims, and the instant it carries (None: ordered by LastModified)."""

    key: str
    instant: datetime | None


@dataclass(frozen=True)
class KeyRule:
    """The rule one table claims keys by."""

    prefix: str | None = None
    pattern: str | None = None
    suffix: str = DATA_SUFFIX

    @classmethod
    def of(cls, spec: TableSpec) -> KeyRule:
        return cls(prefix=spec.prefix, pattern=spec.pattern, suffix=spec.suffix)

    @property
    def listing_prefix(self) -> str:
        """What to list: the prefix, or the pattern's text up to its first wildcard."""
        if self.pattern is None:
            return self.prefix or ""
        return re.split(r"[*{]", self.pattern, maxsplit=1)[0]

    @property
    def describe(self) -> str:
        """The rule as a person would write it in the catalogue."""
        if self.pattern is not None:
            return f"pattern {self.pattern!r}"
        suffix = "" if self.suffix == DATA_SUFFIX else f", suffix {self.suffix!r}"
        return f"prefix {self.prefix!r}{suffix}"

    def claim(self, key: str) -> Claim | None:
        """The key as a file of this table; None when it is not one."""
        if self.pattern is not None:
            return self._claim_by_pattern(key)
        prefix = self.prefix or ""
        if not key.startswith(prefix) or not _ends_with(key, self.suffix):
            return None
        rest = key[len(prefix) :]
        if prefix.endswith("/"):
            instant = instant_from_key(_without(rest, self.suffix))
            if instant is None and ("/" in rest or not rest):
                return None  # below a subfolder, or the folder itself: no readable timestamp
            return Claim(key, instant)
        if rest.lower() == self.suffix.lower():
            return Claim(key, None)
        body = rest[1:] if rest[:1] and rest[0] in SEPARATORS else rest
        if not starts_with_timestamp(body):
            return None
        return Claim(key, instant_from_key(_without(rest, self.suffix)))

    def why_not(self, key: str) -> str:
        """Why a key under this rule's listing is not one of its files, for a person."""
        if self.pattern is not None:
            return f"does not match the pattern {self.pattern!r}"
        if not _ends_with(key, self.suffix):
            ending = f"end in {self.suffix!r}" if self.suffix else "be any key"
            return f"does not {ending} (set the table's suffix if its files have another)"
        prefix = self.prefix or ""
        if prefix.endswith("/"):
            return f"no timestamp in {key[len(prefix) :]!r} below the folder"
        rest = key[len(prefix) :]
        if rest[:1] in ("/",) or not prefix:
            return f"no timestamp follows {prefix!r}"
        return (
            f"what follows {prefix!r} ({rest!r}) does not begin with a timestamp; "
            f"if this is the table's folder, write the prefix as {prefix.rsplit('/', 1)[0] + '/'!r}"
            if "/" in rest
            else f"what follows {prefix!r} ({rest!r}) does not begin with a timestamp"
        )

    def _claim_by_pattern(self, key: str) -> Claim | None:
        found = self._regex.fullmatch(key)
        if found is None:
            return None
        stamp = found.groupdict().get("timestamp")
        if stamp is None:
            return Claim(key, None)
        if not is_timestamp(stamp):
            return None
        return Claim(key, instant_from_key(stamp))

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        assert self.pattern is not None
        parts = re.split(r"(\{timestamp\}|\*)", self.pattern)
        text = "".join(
            "(?P<timestamp>.+?)"
            if part == "{timestamp}"
            else "[^/]*"
            if part == "*"
            else re.escape(part)
            for part in parts
        )
        return re.compile(text, re.DOTALL)


def looks_like_data(key: str) -> bool:
    """Whether an object looks like a data file: Parquet, or a name with no extension.

    A dot followed by digits is a timestamp's fraction, not an extension.
    """
    name = key.rsplit("/", 1)[-1]
    if not name or name.startswith(("_", ".")):
        return False  # folder markers, _SUCCESS, .crc files
    extension = re.search(r"\.([A-Za-z][A-Za-z0-9]*)$", name)
    return extension is None or extension[1].lower() == DATA_SUFFIX[1:]


def _ends_with(key: str, suffix: str) -> bool:
    return key.lower().endswith(suffix.lower())


def _without(rest: str, suffix: str) -> str:
    return rest[: len(rest) - len(suffix)]
