"""What every generation method shares: the published settings and the run's state
(client, writer, novelty pool, counters). Its own module so that the methods (Alpaca in
``generate.py``, Self-Instruct in ``bootstrap.py``, Evol-Instruct, judging) import it
without importing each other."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataforgeError
from .client import Completion, LLMClient
from .novelty import NoveltyIndex
from .parse import Parsed
from .prompts import Template
from .records import OutputWriter

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
