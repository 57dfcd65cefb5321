"""An OpenAI-compatible client that survives a real API (OpenAI, vLLM, llama.cpp, Ollama).

The published scripts retry forever (Alpaca ``utils.openai_completion``) or sleep 30 s
and return None after 3 tries (Self-Instruct ``gpt3_api.make_requests``). Here:

* bounded concurrency (a semaphore), optional RPM/TPM limits (``limits.py``);
* retries with exponential backoff and jitter on 429, 5xx, timeouts and dropped
  connections, honouring ``Retry-After`` / ``retry-after-ms``; at most
  ``max_attempts`` attempts, then the request is logged and counted as failed;
  ``max_consecutive_failures`` failed requests in a row stop the run (an unreachable
  endpoint is a fatal error, not a retry storm);
* 401/403 stop at once; an unknown model (404) stops at once;
* a context-length error shrinks ``max_tokens`` by 0.8, as both originals do;
* every answer is cached (``cache.py``) before it is used; usage summed (``budget.py``);
* the API key is handed to the SDK only: never logged, cached or written.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import openai

from ..errors import DataforgeError
from .budget import Price, Usage
from .cache import RequestCache, request_key
from .limits import RateLimiter

log = logging.getLogger(__name__)

CONTEXT_SHRINK = 0.8  # both originals: "Please reduce your prompt" -> max_tokens * 0.8
_CONTEXT_MARKERS = ("please reduce your prompt", "maximum context length", "context_length_exceeded",
                    "context length", "too many tokens")


class EndpointError(DataforgeError):
    """The endpoint refuses this run (bad key, unknown model): fix the configuration."""

    exit_code = 2


class BudgetReached(Exception):
    """--max-requests or --max-cost reached: stop issuing requests (a clean stop)."""


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
    timeout: float = 120.0  # seconds per attempt
    max_consecutive_failures: int = 5
    max_requests: int | None = None
    max_cost: float | None = None


@dataclass
class Completion:
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    key: str
    cached: bool


@dataclass
class LLMClient:
    config: ClientConfig
    cache: RequestCache
    api_key: str | None = field(default=None, repr=False)
    price: Price | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    usage: Usage = field(default_factory=Usage)

    def __post_init__(self) -> None:
        self._sdk = openai.AsyncOpenAI(api_key=self.api_key or "no-key", base_url=self.config.base_url,
                                       max_retries=0, timeout=self.config.timeout)
        self._sem = asyncio.Semaphore(self.config.concurrency)
        self._limiter = RateLimiter(rpm=self.config.rpm, tpm=self.config.tpm)
        self._rng = random.Random()  # jitter only: timing, never content
        self._reserved = 0
        self._consecutive_failures = 0

    @property
    def cost(self) -> float:
        if self.price is None:
            return 0.0
        return self.price.cost(self.usage.prompt_tokens, self.usage.completion_tokens)

    @property
    def fresh_cost(self) -> float:
        if self.price is None:
            return 0.0
        return self.price.cost(self.usage.fresh_prompt_tokens, self.usage.fresh_completion_tokens)

    async def close(self) -> None:
        await self._sdk.close()

    def _check_budget(self) -> None:
        cfg = self.config
        if cfg.max_requests is not None and self._reserved >= cfg.max_requests:
            raise BudgetReached(f"--max-requests {cfg.max_requests} reached")
        if cfg.max_cost is not None and self.cost >= cfg.max_cost:
            raise BudgetReached(f"--max-cost {cfg.max_cost} reached (estimated ${self.cost:.4f})")

    async def complete(self, prompt: str, params: dict[str, Any], *, occurrence: int = 0) -> Completion | None:
        """One prompt, answered from the cache or the endpoint; None when it failed for good."""
        cfg = self.config
        key = request_key(model=cfg.model, mode=cfg.mode, prompt=prompt, params=params, occurrence=occurrence)
        self._check_budget()
        self._reserved += 1
        hit = self.cache.get(key)
        if hit is not None:
            self.usage.add(hit["prompt_tokens"], hit["completion_tokens"], cached=True)
            return Completion(hit["text"], hit["finish_reason"], hit["prompt_tokens"], hit["completion_tokens"],
                              key, cached=True)
        body = await self._fetch(prompt, dict(params))
        if body is None:
            self._consecutive_failures += 1
            self.usage.failed += 1
            if self._consecutive_failures >= cfg.max_consecutive_failures:
                raise DataforgeError(f"{self._consecutive_failures} requests in a row failed after "
                                     f"{cfg.max_attempts} attempts each; is the endpoint "
                                     f"{cfg.base_url or 'api.openai.com'} up? (see the log above)")
            return None
        self._consecutive_failures = 0
        self.cache.put(key, body)
        self.usage.add(body["prompt_tokens"], body["completion_tokens"], cached=False)
        return Completion(body["text"], body["finish_reason"], body["prompt_tokens"], body["completion_tokens"],
                          key, cached=False)

    async def _fetch(self, prompt: str, params: dict[str, Any]) -> dict[str, Any] | None:
        cfg = self.config
        estimate = len(prompt) // 4 + int(params.get("max_tokens") or 0)
        entry = await self._limiter.acquire(estimate)
        async with self._sem:
            for attempt in range(1, cfg.max_attempts + 1):
                if attempt > 1:
                    self.usage.retries += 1
                try:
                    body = await self._call(prompt, params)
                    RateLimiter.settle(entry, body["prompt_tokens"] + body["completion_tokens"])
                    return body
                except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                    raise EndpointError(f"the endpoint {cfg.base_url or 'api.openai.com'} refused the API key "
                                        f"(HTTP {exc.status_code}); set OPENAI_API_KEY to a valid key for it"
                                        ) from None
                except openai.NotFoundError as exc:
                    raise EndpointError(f"the endpoint does not know model '{cfg.model}' (HTTP 404: "
                                        f"{_message(exc)}); check --model against the server's model list "
                                        "and --base-url (usually ending in /v1)") from None
                except openai.BadRequestError as exc:
                    if not _is_context_error(exc) or "max_tokens" not in params:
                        log.error("request rejected (HTTP 400, not retried): %s", _message(exc))
                        return None
                    params["max_tokens"] = int(params["max_tokens"] * CONTEXT_SHRINK)
                    log.warning("context length exceeded; retrying with max_tokens=%d", params["max_tokens"])
                    continue
                except (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                        openai.APIConnectionError, openai.APIStatusError) as exc:
                    status = getattr(exc, "status_code", None)
                    if isinstance(exc, openai.APIStatusError) and not _retryable_status(exc.status_code):
                        log.error("request rejected (HTTP %s, not retried): %s", status, _message(exc))
                        return None
                    if attempt == cfg.max_attempts:
                        log.error("giving up after %d attempts: %s", attempt, _describe(exc))
                        return None
                    delay = self._delay(attempt, _retry_after(exc))
                    log.warning("attempt %d/%d failed (%s); retrying in %.2fs", attempt, cfg.max_attempts,
                                _describe(exc), delay)
                    await self.sleep(delay)
            log.error("giving up after %d attempts (context length kept shrinking)", cfg.max_attempts)
            return None

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; a server's Retry-After wins when it says longer."""
        cfg = self.config
        backoff = min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1)) * self._rng.uniform(0.5, 1.0)
        if retry_after is not None:
            return max(min(retry_after, cfg.retry_after_max), backoff)
        return backoff

    async def _call(self, prompt: str, params: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        if cfg.mode == "chat":
            resp = await self._sdk.chat.completions.create(
                model=cfg.model, messages=[{"role": "user", "content": prompt}], **params)
            choice = resp.choices[0]
            text = choice.message.content or ""
        else:
            resp = await self._sdk.completions.create(model=cfg.model, prompt=prompt, **params)
            choice = resp.choices[0]  # type: ignore[assignment]
            text = choice.text  # type: ignore[attr-defined]
        usage = resp.usage
        return {"text": text, "finish_reason": choice.finish_reason,
                "prompt_tokens": int(usage.prompt_tokens) if usage else 0,
                "completion_tokens": int(usage.completion_tokens) if usage else 0,
                "model": resp.model}


def _retryable_status(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def _is_context_error(exc: openai.BadRequestError) -> bool:
    text = (_message(exc) + " " + str(getattr(exc, "code", "") or "")).lower()
    return any(marker in text for marker in _CONTEXT_MARKERS)


def _message(exc: Exception) -> str:
    return str(getattr(exc, "message", None) or exc)


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}" if status else type(exc).__name__


def _retry_after(exc: Exception) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return max(float(ms) / 1000, 0.0)
        if (value := headers.get("retry-after")) is not None:
            try:
                return max(float(value), 0.0)
            except ValueError:
                when = parsedate_to_datetime(value)
                return max((when - datetime.datetime.now(when.tzinfo)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None
    return None
