"""Requests-per-minute and tokens-per-minute limits over a sliding 60 s window."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0  # provider limits are stated per minute
POLL_S = 0.25  # longest single wait before the window is checked again


class RateLimiter:
    """Admits a request once the last minute holds fewer than ``rpm`` requests and
    fewer than ``tpm`` tokens (estimated up front, settled from the response's usage).
    A single request larger than ``tpm`` is admitted alone rather than never."""

    def __init__(self, *, rpm: int | None, tpm: int | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rpm, self.tpm, self._clock = rpm, tpm, clock
        self._events: deque[list[float]] = deque()  # [time, tokens]
        self._lock = asyncio.Lock()

    async def acquire(self, tokens: int) -> list[float]:
        if self.rpm is None and self.tpm is None:
            return [0.0, float(tokens)]
        async with self._lock:
            while True:
                now = self._clock()
                while self._events and self._events[0][0] <= now - WINDOW_S:
                    self._events.popleft()
                used = sum(e[1] for e in self._events)
                rpm_ok = self.rpm is None or len(self._events) < self.rpm
                tpm_ok = self.tpm is None or not self._events or used + tokens <= self.tpm
                if rpm_ok and tpm_ok:
                    entry = [now, float(tokens)]
                    self._events.append(entry)
                    return entry
                # re-check at least every POLL_S: cheap, and a clock that jumps is seen promptly
                await asyncio.sleep(min(max(self._events[0][0] + WINDOW_S - now, 0.01), POLL_S))

    @staticmethod
    def settle(entry: list[float], tokens: int) -> None:
        """Replace the estimate with the tokens the response reported."""
        entry[1] = float(tokens)
