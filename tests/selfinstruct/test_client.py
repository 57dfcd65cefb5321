"""The client against the local endpoint: retries, give-up, Retry-After, 401, context length, cache, limits."""

from __future__ import annotations

import asyncio

import pytest

from dataforge.errors import DataforgeError
from dataforge.selfinstruct.budget import Price, load_prices, price_for
from dataforge.selfinstruct.cache import RequestCache, request_key
from dataforge.selfinstruct.client import BudgetReached, ClientConfig, EndpointError, LLMClient
from dataforge.selfinstruct.limits import RateLimiter

from .conftest import Reply

PARAMS = {"max_tokens": 100, "temperature": 0.0, "stop": ["\n\n"]}


class Sleeps:
    """Records the delays the client asks for; sleeps for none of them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def run(llm, tmp_path, coro_fn, **cfg):
    sleeps = Sleeps()
    config = ClientConfig(model="fake-model", base_url=llm.url, concurrency=cfg.pop("concurrency", 2),
                          backoff_base=0.01, timeout=cfg.pop("timeout", 5.0), **cfg)

    async def main():
        client = LLMClient(config, RequestCache(tmp_path / "cache.sqlite"), api_key="sk-x", sleep=sleeps)
        try:
            return await coro_fn(client), client
        finally:
            await client.close()

    result, client = asyncio.run(main())
    return result, client, sleeps


def test_retries_429_honouring_retry_after_then_succeeds(llm_server, tmp_path):
    llm_server.script.extend([Reply(status=429, headers={"retry-after": "2"}, error="Rate limit reached"),
                              Reply(status=429, headers={"retry-after-ms": "1500"}), Reply(text="hello")])
    done, client, sleeps = run(llm_server, tmp_path, lambda c: c.complete("p", PARAMS))
    assert done.text == "hello" and done.finish_reason == "stop" and not done.cached
    assert sleeps.delays[0] == 2.0 and sleeps.delays[1] == 1.5  # the server's word, not our backoff
    assert client.usage.retries == 2 and len(llm_server.requests) == 3


def test_backoff_grows_exponentially_with_jitter(llm_server, tmp_path):
    llm_server.script.extend([Reply(status=500)] * 4 + [Reply(text="ok")])
    done, client, sleeps = run(llm_server, tmp_path, lambda c: c.complete("p", PARAMS), max_attempts=5)
    assert done.text == "ok"
    for attempt, delay in enumerate(sleeps.delays, start=1):
        assert 0.5 * 0.01 * 2 ** (attempt - 1) <= delay <= 0.01 * 2 ** (attempt - 1)


def test_timeouts_and_dropped_connections_are_retried(llm_server, tmp_path):
    llm_server.script.extend([Reply(delay=1.0), Reply(drop=True), Reply(text="after all")])
    done, client, _ = run(llm_server, tmp_path, lambda c: c.complete("p", PARAMS), timeout=0.3)
    assert done.text == "after all" and client.usage.retries == 2


def test_gives_up_after_bounded_attempts_and_counts_it(llm_server, tmp_path):
    llm_server.script.extend([Reply(status=503)] * 3 + [Reply(text="next one works")])

    async def two(c):
        return [await c.complete("a", PARAMS), await c.complete("b", PARAMS)]

    (first, second), client, _ = run(llm_server, tmp_path, two, max_attempts=3)
    assert first is None and second.text == "next one works"
    assert client.usage.failed == 1 and len(llm_server.requests) == 4


def test_consecutive_failures_stop_the_run(llm_server, tmp_path):
    llm_server.script.extend([Reply(status=500)] * 10)

    async def many(c):
        for p in "abcde":
            await c.complete(p, PARAMS)

    with pytest.raises(DataforgeError, match="2 requests in a row failed"):
        run(llm_server, tmp_path, many, max_attempts=2, max_consecutive_failures=2)
    assert len(llm_server.requests) == 4


def test_401_stops_at_once(llm_server, tmp_path):
    llm_server.script.extend([Reply(status=401, error="Incorrect API key")] * 5)
    with pytest.raises(EndpointError, match="refused the API key"):
        run(llm_server, tmp_path, lambda c: c.complete("p", PARAMS))
    assert len(llm_server.requests) == 1


def test_context_length_error_shrinks_max_tokens(llm_server, tmp_path):
    llm_server.script.extend([Reply(status=400, error="This model's maximum context length is 4097 tokens. "
                                    "Please reduce your prompt; or completion length."), Reply(text="fits")])
    done, _, _ = run(llm_server, tmp_path, lambda c: c.complete("p", PARAMS))
    assert done.text == "fits"
    assert [r["max_tokens"] for r in llm_server.requests] == [100, 80]


def test_other_400_is_not_retried(llm_server, tmp_path):
    llm_server.script.append(Reply(status=400, error="Invalid value for 'stop'"))
    done, client, _ = run(llm_server, tmp_path, lambda c: c.complete("p", PARAMS))
    assert done is None and len(llm_server.requests) == 1 and client.usage.failed == 1


def test_cache_answers_repeats_and_occurrences_get_fresh_samples(llm_server, tmp_path):
    async def calls(c):
        return [await c.complete("p", PARAMS), await c.complete("p", PARAMS, occurrence=1),
                await c.complete("p", PARAMS)]

    (a, b, again), client, _ = run(llm_server, tmp_path, calls)
    assert len(llm_server.requests) == 2 and again.cached and again.text == a.text and b.key != a.key
    assert client.usage.requests == 3 and client.usage.cached == 1
    assert client.usage.prompt_tokens == 3 and client.usage.fresh_prompt_tokens == 2  # 1 word prompt each


def test_request_key_covers_model_prompt_params_and_occurrence():
    base = dict(model="m", mode="chat", prompt="p", params={"temperature": 1.0}, occurrence=0)
    key = request_key(**base)
    assert key == request_key(**{**base, "params": {"temperature": 1.0}})
    for change in ({"model": "n"}, {"prompt": "q"}, {"params": {"temperature": 0.9}}, {"occurrence": 1},
                   {"mode": "completions"}):
        assert request_key(**{**base, **change}) != key


def test_max_requests_budget(llm_server, tmp_path):
    async def three(c):
        await c.complete("a", PARAMS)
        await c.complete("b", PARAMS)
        await c.complete("c", PARAMS)

    with pytest.raises(BudgetReached, match="--max-requests 2"):
        run(llm_server, tmp_path, three, max_requests=2)
    assert len(llm_server.requests) == 2


def test_bounded_concurrency(llm_server, tmp_path):
    llm_server.latency = 0.05

    async def many(c):
        return await asyncio.gather(*(c.complete(str(i), PARAMS) for i in range(8)))

    results, _, _ = run(llm_server, tmp_path, many, concurrency=3)
    assert all(r is not None for r in results) and len(llm_server.requests) == 8
    assert 1 < llm_server.peak_inflight <= 3


def test_rate_limiter_admits_rpm_and_tpm_per_minute():
    now = [0.0]

    async def scenario():
        rpm = RateLimiter(rpm=2, tpm=None, clock=lambda: now[0])
        await rpm.acquire(1)
        await rpm.acquire(1)
        waiter = asyncio.ensure_future(rpm.acquire(1))
        await asyncio.sleep(0.02)
        blocked = not waiter.done()
        now[0] = 61.0
        await asyncio.wait_for(waiter, 5)
        tpm = RateLimiter(rpm=None, tpm=100, clock=lambda: now[0])
        entry = await tpm.acquire(90)
        RateLimiter.settle(entry, 10)  # the response used fewer tokens than estimated
        await asyncio.wait_for(tpm.acquire(80), 5)
        return blocked

    assert asyncio.run(scenario())


def test_price_table():
    prices = load_prices()
    assert price_for(prices, "gpt-4o-mini-2024-07-18") == prices["gpt-4o-mini"]
    assert price_for(prices, "llama-3-8b") is None
    assert Price(input=1.0, output=2.0).cost(1_000_000, 500_000) == 2.0


def test_budget_admits_by_worst_case_and_stops_once_nothing_in_flight_can_free_room():
    from dataforge.selfinstruct.budget import Budget

    async def scenario():
        budget = Budget(max_requests=None, max_cost=1.0, price=Price(1.0, 1.0))
        for _ in range(3):  # 0.3 each: float sums that never come back to exactly 0
            await budget.admit(0.3)
        waiter = asyncio.ensure_future(budget.admit(0.3))  # 0.9 reserved + 0.3 > 1.0: waits
        await asyncio.sleep(0.01)
        assert not waiter.done()
        await budget.settle(0.3, actual=0.1)  # room again: 0.1 spent + 0.6 reserved + 0.3 fits
        await asyncio.wait_for(waiter, 5)
        for _ in range(3):
            await budget.settle(0.3, actual=0.1)
        assert budget.in_flight == 0 and budget.reserved == 0.0 and budget.spent == pytest.approx(0.4)
        with pytest.raises(BudgetReached, match="may cost up to \\$0.7000"):
            await asyncio.wait_for(budget.admit(0.7), 5)  # 0.4 + 0.7 > 1 and nothing in flight: stop, not wait
        await budget.admit(0.6)  # 0.4 + 0.6 == 1.0 fits exactly

    asyncio.run(scenario())
