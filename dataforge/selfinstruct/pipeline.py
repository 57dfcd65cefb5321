"""An ordered request pipeline: many requests in flight, results handled in request order.

Request ``i`` is built only once the results of requests ``< i - window + 1`` have been
handled, and results are handled strictly in index order. So what request ``i`` sees
(the pool of accepted instructions) depends on ``window`` and the seed only, never on
which response arrived first: a rerun - answered from the cache - yields the same
output byte for byte.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .client import BudgetReached

log = logging.getLogger(__name__)
T = TypeVar("T")


async def run_ordered(make: Callable[[int], Awaitable[T] | None], handle: Callable[[int, T], bool], *,
                      window: int) -> str | None:
    """Drive ``make(i)`` / ``handle(i, result)`` until ``make`` returns None, ``handle``
    returns True (target reached) or the budget runs out.

    Returns the budget message when the budget stopped the run, else None. Requests
    already in flight when the run stops are awaited (their answers land in the
    cache, so a longer rerun does not pay for them again) but not handled.
    """
    inflight: deque[tuple[int, asyncio.Task[T]]] = deque()
    index, exhausted, stop = 0, False, None
    try:
        while True:
            while not exhausted and stop is None and len(inflight) < window:
                awaitable = make(index)
                if awaitable is None:
                    exhausted = True
                    break
                inflight.append((index, asyncio.ensure_future(awaitable)))
                index += 1
            if not inflight:
                return stop
            i, task = inflight.popleft()
            try:
                result = await task
            except BudgetReached as exc:
                stop = stop or str(exc)
                continue
            if stop is None and handle(i, result):
                exhausted = True
                await _drain(inflight)
                return None
    finally:
        for _, task in inflight:
            task.cancel()


async def _drain(inflight: deque[tuple[int, asyncio.Task[Any]]]) -> None:
    results = await asyncio.gather(*(t for _, t in inflight), return_exceptions=True)
    inflight.clear()
    for res in results:
        if isinstance(res, BaseException) and not isinstance(res, BudgetReached):
            log.debug("request after the target was reached failed: %r", res)
