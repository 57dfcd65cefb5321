"""An OpenAI-compatible client that survives a real API (OpenAI, vLLM, llama.cpp, Ollama).

The published scripts retry forever (Alpaca ``utils.openai_completion``) or sleep 30 s
and return None after 3 tries (Self-Instruct ``gpt3_api.make_requests``). Here:

* bounded concurrency (a semaphore), optional RPM/TPM limits (``limits.py``);
* ``timeout`` bounds each whole attempt by the wall clock (the HTTP library's timeout
  is per read, so a server trickling a byte every half second would never time out);
* retries with exponential backoff and jitter on 429, 5xx, timeouts, dropped
  connections and bad HTTP 200 bodies (``response.py``: HTML, broken JSON, no choices,
  oversized, ... counted by kind), honouring ``Retry-After`` / ``retry-after-ms``; at most
  ``max_attempts`` attempts, then the request is logged and counted as failed;
  ``max_consecutive_failures`` failed requests in a row stop the run (exit 1) with the
  last failure's cause;
* 401/403 stop at once; an unknown model (404) stops at once;
* a context-length error shrinks ``max_tokens`` by 0.8, as both originals do;
* ``--max-cost`` and ``--max-requests`` never overshoot (``budget.Budget``);
* every answer is cached (``cache.py``) before it is used; usage summed (``budget.Usage``);
* the API key is handed to the transport only: never logged, cached or written, and
  redacted from every answer and error message (a model or server may echo it).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from ..errors import DataforgeError
from .budget import Budget, BudgetReached, Price, Usage, worst_case_tokens
from .cache import RequestCache
from .limits import RateLimiter
from .response import MAX_RESPONSE_BYTES, BadResponse, Redactor, parse_completion
from .transport import AttemptError, RequestBody, make_transport

log = logging.getLogger(__name__)

__all__ = ["BudgetReached", "ClientConfig", "Completion", "EndpointError", "LLMClient"]

CONTEXT_SHRINK = 0.8  # both originals: "Please reduce your prompt" -> max_tokens * 0.8
_CONTEXT_MARKERS = ("please reduce your prompt", "maximum context length", "context_length_exceeded",
                    "context length", "too many tokens")


class EndpointError(DataforgeError):
    """The endpoint refuses this run (bad key, unknown model): fix the configuration."""

    exit_code = 2


@dataclass(frozen=True)
class ClientConfig:
    model: str
    base_url: str | None = None
    mode: str = "chat"  # "chat" | "completions"
    concurrency: int = 8  # in-flight requests
    rpm: int | None = None
    tpm: int | None = None
    max_attempts: int = 6  # per request, first try included
    backoff_base: float = 1.0  # seconds; doubled per attempt, jittered
    backoff_max: float = 60.0
    retry_after_max: float = 300.0  # longest Retry-After honoured
    timeout: float = 120.0  # seconds per attempt, wall clock, from sending to the last byte
    max_consecutive_failures: int = 5
    max_requests: int | None = None
    max_cost: float | None = None
    max_response_bytes: int = MAX_RESPONSE_BYTES
    transport: str = "http"  # "http" | "sdk" (transport.py)


@dataclass
class Completion:
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    key: str
    cached: bool


class _Failed(Exception):
    """An attempt failed; ``billed_unknown`` when the provider may still have charged it."""

    def __init__(self, description: str, *, retryable: bool, billed_unknown: bool,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(description)
        self.retryable, self.billed_unknown, self.headers = retryable, billed_unknown, headers or {}


@dataclass
class LLMClient:
    config: ClientConfig
    cache: RequestCache
    api_key: str | None = field(default=None, repr=False)
    price: Price | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    usage: Usage = field(default_factory=Usage)

    def __post_init__(self) -> None:
        cfg = self.config
        self.redact = Redactor(self.api_key)
        self._transport = make_transport(cfg.transport, api_key=self.api_key, base_url=cfg.base_url,
                                         timeout=cfg.timeout, concurrency=cfg.concurrency,
                                         max_bytes=cfg.max_response_bytes)
        self._sem = asyncio.Semaphore(cfg.concurrency)
        self._limiter = RateLimiter(rpm=cfg.rpm, tpm=cfg.tpm)
        self.budget = Budget(max_requests=cfg.max_requests, max_cost=cfg.max_cost, price=self.price)
        self._rng = random.Random()  # jitter only: timing, never content
        self._consecutive_failures = 0
        self._last_failure = ""

    @property
    def cost(self) -> float:
        """USD of every answer used (cached ones included), from the usage they report."""
        return 0.0 if self.price is None else self.price.cost(self.usage.prompt_tokens, self.usage.completion_tokens)

    @property
    def fresh_cost(self) -> float:
        if self.price is None:
            return 0.0
        return self.price.cost(self.usage.fresh_prompt_tokens, self.usage.fresh_completion_tokens)

    async def close(self) -> None:
        await self._transport.close()

    async def complete(self, prompt: str, params: dict[str, Any], *, occurrence: int = 0) -> Completion | None:
        """One prompt, answered from the cache or the endpoint; None when it failed for good.

        Raises BudgetReached before sending when the budget cannot take it."""
        cfg = self.config
        body = RequestBody.build(model=cfg.model, mode=cfg.mode, prompt=prompt, params=params)
        key = hashlib.sha256(body.key_json(occurrence).encode("utf-8")).hexdigest()
        worst = self.budget.worst(prompt, params)
        await self.budget.admit(worst)
        hit = self.cache.get(key)
        if hit is not None:
            hit = self.redact.body(hit)  # a cache written before the key was known to be echoed
            self.usage.add(hit["prompt_tokens"], hit["completion_tokens"], cached=True)
            await self.budget.settle(worst, actual=self._cost(hit))
            return Completion(hit["text"], hit["finish_reason"], hit["prompt_tokens"], hit["completion_tokens"],
                              key, cached=True)
        unknown = 0
        answer: dict[str, Any] | None = None
        try:
            answer, unknown = await self._fetch(body, prompt, dict(params))
        finally:
            await self.budget.settle(worst, actual=self._cost(answer) if answer else 0.0, unknown=worst * unknown)
        if answer is None:
            self._consecutive_failures += 1
            self.usage.failed += 1
            if self._consecutive_failures >= cfg.max_consecutive_failures:
                raise DataforgeError(f"{self._consecutive_failures} requests in a row failed after "
                                     f"{cfg.max_attempts} attempts each (last: {self._last_failure}); is the "
                                     f"endpoint {cfg.base_url or 'api.openai.com'} up and OpenAI-compatible? "
                                     "(see the log above)")
            return None
        self._consecutive_failures = 0
        if not answer.pop("usage_reported"):  # charged at an upper bound, so --max-cost still holds
            answer["prompt_tokens"] = worst_case_tokens(prompt, {"max_tokens": 0})[0]
            answer["completion_tokens"] = min(int(params.get("max_tokens") or 1 << 30),
                                              len(answer["text"].encode("utf-8")) + 1)
            self.usage.usage_estimated += 1
        self.cache.put(key, answer)
        self.usage.add(answer["prompt_tokens"], answer["completion_tokens"], cached=False)
        return Completion(answer["text"], answer["finish_reason"], answer["prompt_tokens"],
                          answer["completion_tokens"], key, cached=False)

    def _cost(self, body: Mapping[str, Any]) -> float:
        return 0.0 if self.price is None else self.price.cost(body["prompt_tokens"], body["completion_tokens"])

    async def _fetch(self, body: RequestBody, prompt: str, params: dict[str, Any]) -> tuple[dict[str, Any] | None, int]:
        """(answer or None, attempts that may have been billed without an answer)."""
        cfg = self.config
        estimate = len(prompt) // 4 + int(params.get("max_tokens") or 0)
        entry = await self._limiter.acquire(estimate)
        unknown = 0
        async with self._sem:
            for attempt in range(1, cfg.max_attempts + 1):
                if attempt > 1:
                    self.usage.retries += 1
                try:
                    raw = await _deadline(self._transport.send(body, prompt=prompt, params=params, model=cfg.model),
                                          cfg.timeout)
                    answer = self.redact.body(parse_completion(raw, mode=cfg.mode))
                    RateLimiter.settle(entry, answer["prompt_tokens"] + answer["completion_tokens"])
                    return answer, unknown
                except asyncio.TimeoutError:
                    failure = _Failed(f"no complete answer within --timeout {cfg.timeout:g}s", retryable=True,
                                      billed_unknown=True)
                except BadResponse as exc:
                    self.usage.bad_responses[exc.kind] += 1
                    failure = _Failed(self.redact(str(exc)), retryable=True, billed_unknown=True)
                except AttemptError as exc:
                    if exc.kind == "status" and exc.status == 400 and _is_context_error(exc) and "max_tokens" in params:
                        params["max_tokens"] = int(params["max_tokens"] * CONTEXT_SHRINK)
                        body = RequestBody.build(model=cfg.model, mode=cfg.mode, prompt=prompt, params=params)
                        log.warning("context length exceeded; retrying with max_tokens=%d", params["max_tokens"])
                        continue
                    failure = self._classify(exc)
                unknown += failure.billed_unknown
                self._last_failure = str(failure)
                if not failure.retryable:
                    log.error("request rejected (not retried): %s", failure)
                    return None, unknown
                if attempt == cfg.max_attempts:
                    log.error("giving up after %d attempts: %s", attempt, failure)
                    return None, unknown
                delay = self._delay(attempt, _retry_after(failure.headers))
                log.warning("attempt %d/%d failed (%s); retrying in %.2fs", attempt, cfg.max_attempts, failure, delay)
                await self.sleep(delay)
            log.error("giving up after %d attempts (context length kept shrinking)", cfg.max_attempts)
            self._last_failure = "context length exceeded at every max_tokens tried"
            return None, unknown

    def _classify(self, exc: AttemptError) -> _Failed:
        """What one failed attempt means for the run: stop, retry, or give up on this request."""
        cfg = self.config
        message = self.redact(exc.message)
        if exc.kind == "timeout":
            return _Failed(f"timeout ({message})", retryable=True, billed_unknown=True)
        if exc.kind in ("connect", "connection"):
            return _Failed(f"connection failed ({message})", retryable=True, billed_unknown=exc.kind == "connection")
        status = exc.status or 0
        if status in (401, 403):
            raise EndpointError(f"the endpoint {cfg.base_url or 'api.openai.com'} refused the API key "
                                f"(HTTP {status}); set OPENAI_API_KEY to a valid key for it")
        if status == 404:
            raise EndpointError(f"the endpoint does not know model '{cfg.model}' (HTTP 404: {message}); check "
                                "--model against the server's model list and --base-url (usually ending in /v1)")
        return _Failed(f"HTTP {status}: {message}", retryable=_retryable_status(status), billed_unknown=False,
                       headers=exc.headers)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; a server's Retry-After wins when it says longer."""
        cfg = self.config
        backoff = min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1)) * self._rng.uniform(0.5, 1.0)
        if retry_after is not None:
            return max(min(retry_after, cfg.retry_after_max), backoff)
        return backoff


async def _deadline(coro: Awaitable[bytes], seconds: float) -> bytes:
    """``coro`` within ``seconds`` of wall clock, else asyncio.TimeoutError. ``asyncio.timeout``
    (3.11+) needs no extra task per attempt, as ``wait_for`` does."""
    if hasattr(asyncio, "timeout"):
        async with asyncio.timeout(seconds):
            return await coro
    return await asyncio.wait_for(coro, seconds)  # pragma: no cover - Python 3.10


def _retryable_status(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def _is_context_error(exc: AttemptError) -> bool:
    text = (exc.message + " " + str(exc.code or "")).lower()
    return any(marker in text for marker in _CONTEXT_MARKERS)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            seconds = float(ms) / 1000
        elif (value := headers.get("retry-after")) is not None:
            try:
                seconds = float(value)
            except ValueError:
                when = parsedate_to_datetime(value)
                seconds = (when - datetime.datetime.now(when.tzinfo)).total_seconds()
        else:
            return None
    except (TypeError, ValueError, OverflowError):
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None
