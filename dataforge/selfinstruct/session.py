"""What every model-driven command shares (``self-instruct``, ``evol-instruct``, ``judge``):
the price, the request cache beside the output, the client, and the run summary.

Side files are named after the output's whole name (``records.side_path``):
``x.jsonl.cache.sqlite``, ``x.jsonl.run.json``, ``x.jsonl.provenance.jsonl``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from .. import __version__
from ..errors import ConfigError, Problem
from ..io import atomic_write_text
from .budget import Price, load_prices, parse_price, price_for
from .cache import RequestCache
from .client import ClientConfig, LLMClient
from .records import cache_path_for, legacy_cache_path, summary_path

log = logging.getLogger(__name__)
T = TypeVar("T")


def resolve_price(config: ClientConfig, *, prices_path: Path | None = None, price: str | None = None) -> Price | None:
    """``--price IN/OUT`` wins; else the model's entry in the price table (``--prices`` or the package's).
    Checked before any output or cache file is opened."""
    if config.max_cost is not None and (math.isnan(config.max_cost) or config.max_cost < 0):
        raise ConfigError([Problem("", None, "--max-cost", f"{config.max_cost} is not a cost in USD (>= 0)")])
    if price is not None:
        return parse_price(price)
    found = price_for(load_prices(prices_path), config.model)
    if config.max_cost is not None and found is None:
        raise ConfigError([Problem(str(prices_path or "prices.json"), None, "--max-cost",
                                   f"no price for model '{config.model}'; give one with --price IN/OUT (USD per "
                                   "1M input/output tokens, e.g. --price 0.15/0.60; 0/0 for a free local model) "
                                   "or add it to a price table and pass --prices FILE")])
    return found


def open_cache(output: Path, cache_path: Path | None) -> RequestCache:
    path = cache_path or cache_path_for(output)
    legacy = legacy_cache_path(output)
    if cache_path is None and not path.exists() and legacy.exists():
        log.warning("%s: a cache from an earlier release is here (it was shared by every output named %s.*); "
                    "pass --cache %s to reuse its answers", legacy, legacy.name.split(".")[0], legacy)
    return RequestCache(path)


async def run_with_client(config: ClientConfig, cache: RequestCache, *, api_key: str | None, price: Price | None,
                          sleep: Any, body: Callable[[LLMClient], Awaitable[T]]) -> tuple[T, LLMClient]:
    client = LLMClient(config, cache, api_key=api_key, price=price, **({"sleep": sleep} if sleep else {}))
    try:
        return await body(client), client
    finally:
        await client.close()


def client_summary(config: ClientConfig, client: LLMClient) -> dict[str, Any]:
    """The keys every model-driven command's summary has."""
    priced = client.price is not None
    return {
        "dataforge_version": __version__,
        "model": config.model,
        "base_url": config.base_url,
        "mode": config.mode,
        "transport": config.transport,
        "usage": client.usage.as_dict(),
        "estimated_cost_usd": round(client.cost, 6) if priced else None,
        "estimated_cost_this_run_usd": round(client.fresh_cost, 6) if priced else None,
        # attempts that got no usable answer but may have been billed, at their worst case
        "possibly_billed_unanswered_usd": round(client.budget.unknown_cost, 6) if priced else None,
        "max_cost": config.max_cost,
    }


def write_summary(output: Path, summary: dict[str, Any]) -> Path:
    path = summary_path(output)
    atomic_write_text(path, json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return path
