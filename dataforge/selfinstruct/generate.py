"""``dataforge self-instruct``: the run (client, cache, budget, output) and the Alpaca method.

Alpaca (stanford_alpaca generate_instruction.py): each request shows 3 seed tasks
sampled from the human seeds only, with their first instance, in ``prompt.txt``'s
numbered ``###`` format; the model continues the list (instruction, input and output
together); items are parsed and filtered (``parse.parse_alpaca``); an item whose
instruction has ROUGE-L F1 > 0.7 with any pool instruction (seeds + accepted) is
rejected, and accepted ones join the pool at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem
from .cache import RequestCache
from .client import ClientConfig, Completion, LLMClient
from .novelty import NoveltyIndex
from .parse import parse_alpaca
from .pipeline import run_ordered
from .prompts import alpaca_prompt, load_template, request_rng, sample_alpaca_examples
from .records import OutputWriter, alpaca_record, load_seed_tasks
from .session import client_summary, open_cache, resolve_price, run_with_client, write_summary
from .state import ALPACA_NUM_PROMPT, ALPACA_SAMPLING, METHODS, GenerateSettings, RunState
from .bootstrap import SelfInstructMethod

log = logging.getLogger(__name__)

class AlpacaMethod:
    def __init__(self, state: RunState, seeds: list[dict[str, Any]]) -> None:
        self.state = state
        self.examples = [{"instruction": t["instruction"], "input": t["instances"][0].get("input", ""),
                          "output": t["instances"][0]["output"]} for t in seeds]
        self.template = state.templates["alpaca_generate.txt"] = load_template(
            "alpaca_generate.txt", directory=state.settings.templates_dir)
        self.num_prompt = state.settings.num_prompt_instructions or ALPACA_NUM_PROMPT
        if self.num_prompt > len(self.examples):
            raise ConfigError(f"--num-prompt-instructions {self.num_prompt} exceeds the {len(self.examples)} seed tasks")
        self.params = {**ALPACA_SAMPLING, **state.settings.sampling}
        for ex in self.examples:
            state.pool.add(ex["instruction"])

    def make(self, i: int) -> Any:
        st = self.state
        if st.writer.count >= st.settings.num_instructions:
            return None
        shown = sample_alpaca_examples(self.examples, request_rng(st.settings.seed, "alpaca", i), self.num_prompt)
        return st.ask(alpaca_prompt(self.template, shown), self.params)

    def handle(self, i: int, done: Completion | None) -> bool:
        st = self.state
        for item, prov in st.admitted(done, parse_alpaca, self.template, num_prompt=self.num_prompt,
                                      counter="items.parsed"):
            st.writer.append(alpaca_record(item.instruction, item.input, item.output), prov)
            st.stats["accepted"] += 1
            if st.writer.count >= st.settings.num_instructions:
                return True
        return False


def run_generation(settings: GenerateSettings, config: ClientConfig, *, seed_tasks: Path, output: Path,
                   api_key: str | None, cache_path: Path | None = None, prices_path: Path | None = None,
                   price: str | None = None, sleep: Any = None) -> dict[str, Any]:
    """Run one generation end to end; returns the summary (also written beside the output).

    ``summary["stopped"]`` names the limit (--max-cost, --max-requests) that ended the run
    early, else None."""
    if settings.method not in METHODS:
        raise ConfigError([Problem("", None, "--method", f"unknown method '{settings.method}'; "
                                   f"choose one of {', '.join(METHODS)}")])
    seeds = load_seed_tasks(seed_tasks)
    unit_price = resolve_price(config, prices_path=prices_path, price=price)
    cache = open_cache(output, cache_path)
    writer = OutputWriter(output)
    started = time.time()
    try:
        summary = asyncio.run(_run(settings, config, seeds, writer, cache, api_key, unit_price, sleep))
    finally:
        writer.close()
        cache.close()
    summary["elapsed_s"] = round(time.time() - started, 3)
    write_summary(output, summary)
    return summary


async def _run(settings: GenerateSettings, config: ClientConfig, seeds: list[dict[str, Any]], writer: OutputWriter,
               cache: RequestCache, api_key: str | None, price: Any, sleep: Any) -> dict[str, Any]:
    state: RunState | None = None

    async def body(client: LLMClient) -> str | None:
        nonlocal state
        state = RunState(settings=settings, client=client, writer=writer, pool=NoveltyIndex())
        if settings.method == "alpaca":
            method = AlpacaMethod(state, seeds)
            window = max(settings.request_batch_size, config.concurrency)
            return await run_ordered(method.make, method.handle, window=window)
        return await SelfInstructMethod(state, seeds).run()

    stop, client = await run_with_client(config, cache, api_key=api_key, price=price, sleep=sleep, body=body)
    assert state is not None  # set by body before anything can fail after it
    if stop:
        log.warning("stopped cleanly: %s", stop)
    return {
        **client_summary(config, client),
        "method": settings.method,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()},
        "templates": {name: t.provenance() for name, t in state.templates.items()},
        "accepted": writer.count,
        "target": settings.num_instructions,
        "stopped": stop,
        "counts": dict(sorted(state.stats.items())),
        "pool_size": len(state.pool),
    }
