"""Token usage, an editable price table, and the --max-cost / --max-requests budget."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem


@dataclass
class Usage:
    """Token and request counts summed from responses (cached ones included)."""

    requests: int = 0  # answered requests, fresh + from the cache
    cached: int = 0  # of which served from the cache (not paid again this run)
    failed: int = 0  # gave up after the bounded number of attempts
    retries: int = 0  # attempts beyond the first
    prompt_tokens: int = 0
    completion_tokens: int = 0
    fresh_prompt_tokens: int = 0  # paid this run
    fresh_completion_tokens: int = 0

    def add(self, prompt_tokens: int, completion_tokens: int, *, cached: bool) -> None:
        self.requests += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        if cached:
            self.cached += 1
        else:
            self.fresh_prompt_tokens += prompt_tokens
            self.fresh_completion_tokens += completion_tokens

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Price:
    input: float  # USD per 1M prompt tokens
    output: float  # USD per 1M completion tokens

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


def load_prices(path: Path | None = None) -> dict[str, Price]:
    """The price table: the package's ``templates/prices.json`` or the user's file."""
    if path is None:
        raw = (resources.files("dataforge.selfinstruct") / "templates" / "prices.json").read_bytes()
        where = "dataforge/selfinstruct/templates/prices.json"
    else:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError([Problem(str(path), None, "--prices", f"cannot read the price table ({exc})")]) from exc
        where = str(path)
    try:
        data: dict[str, Any] = json.loads(raw)
        return {model: Price(float(p["input"]), float(p["output"]))
                for model, p in data.items() if not model.startswith("_")}
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError([Problem(where, None, "--prices", 'expected {"model": {"input": USD_per_1M, '
                                   f'"output": USD_per_1M}}, got an error: {exc}')]) from exc


def price_for(prices: dict[str, Price], model: str) -> Price | None:
    """Exact model name first, then the longest listed prefix (dated snapshots: gpt-4o-2024-08-06)."""
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(name)]
    return prices[max(matches, key=len)] if matches else None
