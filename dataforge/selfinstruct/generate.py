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
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

from ..errors import ConfigError, DataforgeError, Problem
from .cache import RequestCache
from .client import ClientConfig, Completion, LLMClient
from .novelty import NoveltyIndex
from .parse import Parsed, parse_alpaca
from .pipeline import run_ordered
from .prompts import Template, alpaca_prompt, load_template, request_rng, sample_alpaca_examples
from .records import OutputWriter, alpaca_record, load_seed_tasks
from .session import client_summary, open_cache, resolve_price, run_with_client, write_summary

log = logging.getLogger(__name__)

METHODS = ("alpaca", "self-instruct")

# Published sampling parameters of each generation request.
ALPACA_SAMPLING: dict[str, Any] = {
    "max_tokens": 3072,  # generate_instruction.py: "hard-code to maximize the length"
    "temperature": 1.0,  # generate_instruction.py default
    "top_p": 1.0,  # generate_instruction.py default
    "presence_penalty": 0.0,  # utils.OpenAIDecodingArguments default
    "frequency_penalty": 0.0,  # utils.OpenAIDecodingArguments default
    "stop": ["\n20", "20.", "20."],  # generate_instruction.py (20 tasks per list)
}
ALPACA_NUM_PROMPT = 3  # generate_instruction.py num_prompt_instructions
REQUEST_BATCH_SIZE = 5  # both originals: request_batch_size=5 prompts built from one pool state
TOP_K_SIMILAR = 10  # both originals keep the 10 most similar pool instructions
DEFAULT_SEED = 42  # bootstrap_instructions.py random.seed(42)
MAX_UNUSABLE_RESPONSES = 20  # ours: consecutive responses with no well-formed item stop the run


@dataclass(frozen=True)
class GenerateSettings:
    method: str
    num_instructions: int
    seed: int = DEFAULT_SEED
    num_prompt_instructions: int | None = None  # None: the method's published value
    request_batch_size: int = REQUEST_BATCH_SIZE
    sampling: dict[str, Any] = field(default_factory=dict)  # overrides of the generation request
    max_instances: int = 5  # generate_instances.py / prepare_for_finetuning.py: at most 5 per task
    clf_seeds_only: bool = False  # bootstrap_instructions.py --use_clf_seed_tasks_only
    top_k: int = TOP_K_SIMILAR
    templates_dir: Path | None = None


@dataclass
class RunState:
    """What a method needs: client, writer, novelty pool, counters."""

    settings: GenerateSettings
    client: LLMClient
    writer: OutputWriter
    pool: NoveltyIndex
    stats: Counter[str] = field(default_factory=Counter)
    templates: dict[str, Template] = field(default_factory=dict)
    occurrences: Counter[str] = field(default_factory=Counter)
    unusable_streak: int = 0

    def occurrence(self, prompt: str, params: dict[str, Any]) -> int:
        """The n-th identical request of the run (counted in request order) gets a fresh sample."""
        key = prompt + "\x00" + repr(sorted(params.items()))
        n = self.occurrences[key]
        self.occurrences[key] += 1
        return n

    def reject(self, reason: str) -> None:
        self.stats[f"rejected.{reason}"] += 1

    def ask(self, prompt: str, params: dict[str, Any]) -> Any:
        """The awaitable request for ``prompt`` (its occurrence counted in request order)."""
        return self.client.complete(prompt, params, occurrence=self.occurrence(prompt, params))

    def admitted(self, done: Completion | None, parser: Callable[..., list[Parsed]], template: Template, *,
                 num_prompt: int, counter: str) -> Iterator[tuple[Parsed, dict[str, Any]]]:
        """Parse a generation response and yield the items admitted to the pool, in order."""
        if done is None:
            self.stats["requests.failed"] += 1
            return
        chat = self.client.config.mode == "chat"
        items = parser(done.text, done.finish_reason, num_prompt=num_prompt, chat=chat)
        self._check_format(items)
        for item in items:
            self.stats[counter] += 1
            prov = self.admit(item, template, done)
            if prov is not None:
                yield item, prov

    def _check_format(self, items: list[Parsed]) -> None:
        """Stop a run whose model never answers in the list format instead of paying forever."""
        if any(item.reason not in ("malformed", "truncated") for item in items):
            self.unusable_streak = 0
            return
        self.unusable_streak += 1
        if self.unusable_streak >= MAX_UNUSABLE_RESPONSES:
            raise DataforgeError(f"{self.unusable_streak} responses in a row held no well-formed numbered item; "
                                 "the model does not follow the prompt's list format (try --mode completions "
                                 "with a base model, or another --model)")

    def admit(self, item: Parsed, template: Template, done: Completion) -> dict[str, Any] | None:
        """Count a parsed item; when it passes its rules and is novel (ROUGE-L), add it to
        the pool at once and return its provenance."""
        if item.reason:
            self.reject(item.reason)
            return None
        verdict = self.pool.check(item.instruction, top_k=self.settings.top_k)
        if not verdict.novel:
            self.reject("rouge_similar")
            return None
        self.pool.add(item.instruction)
        return {**self.base_provenance(template, done), "most_similar": self.similar(verdict.similar)}

    def similar(self, verdict_similar: list[tuple[int, float]]) -> list[dict[str, Any]]:
        return [{"instruction": self.pool.texts[i], "rouge_l": round(s, 6)} for i, s in verdict_similar]

    def base_provenance(self, template: Template, done: Completion) -> dict[str, Any]:
        return {"method": self.settings.method, "model": self.client.config.model, "template": template.provenance(),
                "request": done.key[:16], "cached": done.cached,
                "usage": {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens}}


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
        from .bootstrap import SelfInstructMethod

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
