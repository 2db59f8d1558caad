"""Counts and sizes as people read them, for every place loadstar prints for people."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 file``, ``2 files``, ``1,204 rows``."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def human_size(count: float) -> str:
    """Bytes as a person reads them: ``812 B``, ``9.6 kB``, ``1.3 MB``, ``2.1 GB``."""
    units = (("B", 1.0), ("kB", 1e3), ("MB", 1e6), ("GB", 1e9))
    at = max([0, *(i for i, (_, scale) in enumerate(units) if count >= scale)])
    if at and at < len(units) - 1 and round(count / units[at][1], 1) >= 1000:
        at += 1  # 999,960 bytes is 1.0 MB, not 1000.0 kB
    unit, scale = units[at]
    return f"{count:.0f} B" if at == 0 else f"{count / scale:.1f} {unit}"
