"""The Lambda time budget: start a file only when it can finish before the timeout.

Lambda freezes a function at its timeout mid-statement; PostgreSQL then rolls
the open transaction back, so nothing is lost, but the work is wasted and the
run counts as an error. Stopping cleanly instead leaves the rest pending for
the next run.
"""

from __future__ import annotations

# Until a run has measured its own speed, assume a slow one: a few MB/s of
# Parquet through COPY into a constrained warehouse.
_ASSUMED_BYTES_PER_SECOND = 2_000_000.0


class Budget:
    """Whether the next file may start, from the context's remaining time."""

    def __init__(self, context: object | None, reserve_seconds: float) -> None:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self._remaining = remaining if callable(remaining) else None
        self._reserve = reserve_seconds
        self._bytes = 0
        self._seconds = 0.0

    def allows(self, size_bytes: int, left: float | None = None) -> bool:
        """Whether a file of ``size_bytes`` fits in ``left`` (asked of the context if not given)."""
        left = self.left() if left is None else left
        return left is None or left >= self.estimate(size_bytes)

    def left(self) -> float | None:
        """Seconds left for work before the reserve; None without a deadline."""
        if self._remaining is None:
            return None
        return float(self._remaining()) / 1000.0 - self._reserve

    def estimate(self, size_bytes: int) -> float:
        rate = self._bytes / self._seconds if self._seconds > 0 and self._bytes > 0 else 0.0
        rate = rate or _ASSUMED_BYTES_PER_SECOND
        return size_bytes / rate

    def spent(self, size_bytes: int, seconds: float) -> None:
        self._bytes += size_bytes
        self._seconds += seconds
