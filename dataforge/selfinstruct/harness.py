"""One run of a model-driven method that writes records (``evol-instruct``, ``judge``): the
cache and output writer beside ``output``, the client, a ``RunState``, and the summary keys
they all share. The method is a coroutine ``drive(state) -> stop message | None``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .client import ClientConfig, LLMClient
from .state import GenerateSettings, RunState
from .novelty import NoveltyIndex
from .records import OutputWriter
from .rouge import ROUGE_THRESHOLD
from .session import client_summary, open_cache, resolve_price, run_with_client, write_summary


def run_method(method: str, config: ClientConfig, drive: Callable[[RunState], Awaitable[str | None]], *,
               output: Path, api_key: str | None, cache_path: Path | None = None, prices_path: Path | None = None,
               price: str | None = None, sleep: Any = None, novelty_threshold: float = ROUGE_THRESHOLD,
               summary: Callable[[RunState], dict[str, Any]] = lambda state: {}) -> dict[str, Any]:
    """Run ``drive`` and write ``output``, its provenance and its summary (returned)."""
    unit_price = resolve_price(config, prices_path=prices_path, price=price)
    cache = open_cache(output, cache_path)
    writer = OutputWriter(output)
    started = time.time()
    states: list[RunState] = []

    async def body(client: LLMClient) -> str | None:
        states.append(RunState(settings=GenerateSettings(method=method, num_instructions=0), client=client,
                               writer=writer, pool=NoveltyIndex(novelty_threshold)))
        return await drive(states[0])

    try:
        stop, client = asyncio.run(run_with_client(config, cache, api_key=api_key, price=unit_price, sleep=sleep,
                                                   body=body))
    finally:
        writer.close()
        cache.close()
    state = states[0]
    out = {**client_summary(config, client), "method": method, "records": writer.count, "stopped": stop,
           "templates": {n: t.provenance() for n, t in state.templates.items()},
           "counts": dict(sorted(state.stats.items())), **summary(state),
           "elapsed_s": round(time.time() - started, 3)}
    write_summary(output, out)
    return out
