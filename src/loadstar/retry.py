"""How long to wait before trying again: capped exponential backoff, full jitter.

Full jitter (a uniform wait between 0 and the capped exponential) spreads
retries from runs that failed together, such as the scheduled run and
Lambda's own retry after a warehouse restart.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    attempts: int = 4
    """Tries in all, the first included."""
    base_seconds: float = 0.5
    cap_seconds: float = 8.0

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The wait before each try after the first."""
        draw = rng or random
        for retry in range(self.attempts - 1):
            yield draw.uniform(0, min(self.cap_seconds, self.base_seconds * 2**retry))


CONNECT = Backoff()
FILE = Backoff(attempts=3, base_seconds=1.0)
