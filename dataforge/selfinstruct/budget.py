"""Token usage, prices (a table or ``--price IN/OUT``), and the --max-cost / --max-requests budget.

The budget never overshoots. A request is admitted only when what has been spent, plus
the *worst case* of every request still in flight, plus this request's worst case, fits
under ``--max-cost``. A request's worst case is its prompt at one token per UTF-8 byte
(an upper bound for byte-level BPE tokenizers, where every token is at least one byte)
plus ``CHAT_OVERHEAD`` tokens, and ``max_tokens`` of completion. When it answers, the
reservation is replaced by the usage it reports. An attempt whose outcome the client
cannot know (a timeout, a dropped connection, a body that is not a completion) may
still have been billed, so it stays charged at its worst case.

A request that does not fit waits while others are in flight (their answers usually
cost less than reserved), and the run stops (``BudgetReached``) once nothing in flight
could make room.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem

MAX_PRICE = 1e6  # USD per 1M tokens: far above any listed model, so a higher figure is a typo
CHAT_OVERHEAD = 16  # tokens a chat request adds around one message (OpenAI counts 3-4 per message)


class BudgetReached(Exception):
    """--max-requests or --max-cost reached: stop issuing requests (a clean stop)."""


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
    usage_estimated: int = 0  # answers without a usage object: charged at an upper bound
    bad_responses: Counter[str] = field(default_factory=Counter)  # by kind (response.BadResponse)

    def add(self, prompt_tokens: int, completion_tokens: int, *, cached: bool) -> None:
        self.requests += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        if cached:
            self.cached += 1
        else:
            self.fresh_prompt_tokens += prompt_tokens
            self.fresh_completion_tokens += completion_tokens

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in self.__dict__.items() if k != "bad_responses"}
        out["bad_responses"] = dict(sorted(self.bad_responses.items()))
        return out


@dataclass(frozen=True)
class Price:
    input: float  # USD per 1M prompt tokens
    output: float  # USD per 1M completion tokens

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


def worst_case_tokens(prompt: str, params: dict[str, Any]) -> tuple[int, int]:
    """(prompt, completion) tokens a request can cost at most; see the module docstring."""
    max_tokens = params.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens < 0:
        raise ConfigError([Problem("", None, "--max-cost", "every request needs max_tokens to bound its cost; "
                                   "set --max-tokens")])
    return len(prompt.encode("utf-8")) + CHAT_OVERHEAD, max_tokens


_PRICE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*/\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")


def parse_price(text: str) -> Price:
    """``"0.15/0.60"`` -> Price(input=0.15, output=0.60), USD per 1M input/output tokens."""
    m = _PRICE_RE.match(text)
    if m is None or not all(math.isfinite(float(g)) and float(g) <= MAX_PRICE for g in m.groups()):
        raise ConfigError([Problem("", None, "--price", f"'{text}' is not IN/OUT in USD per 1M input/output "
                                   f"tokens (each at most {MAX_PRICE:g}), e.g. --price 0.15/0.60")])
    return Price(float(m.group(1)), float(m.group(2)))


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
        prices = {model: Price(float(p["input"]), float(p["output"]))
                  for model, p in data.items() if not model.startswith("_")}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError([Problem(where, None, "--prices", 'expected {"model": {"input": USD_per_1M, '
                                   f'"output": USD_per_1M}}, got an error: {exc}')]) from exc
    bad = [m for m, p in prices.items() if not (math.isfinite(p.input) and math.isfinite(p.output)
                                                and p.input >= 0 and p.output >= 0)]
    if bad:
        raise ConfigError([Problem(where, None, f"{m}", "prices must be finite and >= 0") for m in bad])
    return prices


def price_for(prices: dict[str, Price], model: str) -> Price | None:
    """Exact model name first, then the longest listed prefix (dated snapshots: gpt-4o-2024-08-06)."""
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(name)]
    return prices[max(matches, key=len)] if matches else None


class Budget:
    """Admission control for --max-requests and --max-cost (see the module docstring)."""

    def __init__(self, *, max_requests: int | None, max_cost: float | None, price: Price | None) -> None:
        if max_cost is not None and price is None:
            raise ConfigError([Problem("", None, "--max-cost", "needs a price for the model")])
        if max_cost is not None and (math.isnan(max_cost) or max_cost < 0):
            raise ConfigError([Problem("", None, "--max-cost", f"{max_cost} is not a cost in USD (>= 0)")])
        self.max_requests, self.max_cost, self.price = max_requests, max_cost, price
        self.admitted = 0  # requests admitted (cached ones included)
        self.settled_cost = 0.0  # USD of answered requests (usage they reported)
        self.unknown_cost = 0.0  # USD of attempts that may have been billed (worst case)
        self.reserved = 0.0  # USD of the worst cases of requests in flight
        self.in_flight = 0  # their number (the float sum alone never returns exactly to 0)
        self._changed = asyncio.Condition()

    @property
    def spent(self) -> float:
        return self.settled_cost + self.unknown_cost

    def worst(self, prompt: str, params: dict[str, Any]) -> float:
        if self.price is None or self.max_cost is None:
            return 0.0
        return self.price.cost(*worst_case_tokens(prompt, params))

    async def admit(self, worst: float) -> None:
        """Reserve ``worst`` USD, waiting for requests in flight to settle; BudgetReached when it cannot fit."""
        if self.max_requests is not None and self.admitted >= self.max_requests:
            raise BudgetReached(f"--max-requests {self.max_requests} reached")
        if self.max_cost is not None:
            async with self._changed:
                while self.spent + self.reserved + worst > self.max_cost:
                    if self.in_flight == 0:
                        raise BudgetReached(
                            f"--max-cost {self.max_cost:g} reached: spent ${self.spent:.4f}, and the next request "
                            f"may cost up to ${worst:.4f} (its prompt at one token per byte + max_tokens); "
                            "raise --max-cost or lower --max-tokens to go on")
                    await self._changed.wait()
                self.reserved += worst
                self.in_flight += 1
        self.admitted += 1

    async def settle(self, worst: float, *, actual: float = 0.0, unknown: float = 0.0) -> None:
        """Replace a reservation by what the request cost (``actual``) and what it may have cost (``unknown``)."""
        if self.max_cost is None:
            self.settled_cost += actual
            self.unknown_cost += unknown
            return
        async with self._changed:
            self.in_flight -= 1
            self.reserved = self.reserved - worst if self.in_flight else 0.0
            self.settled_cost += actual
            self.unknown_cost += unknown
            self._changed.notify_all()
