"""``dataforge evol-instruct``: WizardLM's Evol-Instruct (Xu et al. 2023, arXiv:2304.12244) over any seed set.

Each round, every lineage's current instruction is evolved once with one method drawn
uniformly from ``--methods`` (in depth: add constraints, deepen, concretize, increase
reasoning steps, complicate input; in breadth: a new, rarer instruction of the same
domain), by the published prompts (``templates/evol_instruct.json``). The evolution is
then checked by the elimination rules (``evol_rules``): the free ones first, then the
model's equality judgement (Appendix G), then the model answers the evolved
instruction (as ``main.py`` does) and the answer is checked. A survivor must also pass
the ROUGE-L novelty filter against the pool (seeds + accepted) other than its own
lineage (an in-depth evolution extends its parent by design; the equality judgement
covers a copy); it is written with its
answer and becomes its lineage's instruction for the next round; a failure returns the
old instruction to the pool (section 3.3). ``--rounds`` is M (WizardLM: 4).

Requests go through the shared client (cache, retries, budget). Each request's cache
key carries (round, lineage, step), so a rerun answers every one from the cache and
writes the same output, whatever the concurrency.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem
from .client import ClientConfig
from .evol_rules import answer_reason, evolution_reason, judged_equal
from .state import RunState
from .harness import run_method
from .pipeline import run_ordered
from .prompts import Template, load_template, request_rng
from .records import alpaca_record
from .rouge import ROUGE_THRESHOLD

log = logging.getLogger(__name__)

DEPTH_METHODS = ("constraints", "deepen", "concretize", "reasoning", "complicate_input")
METHODS = DEPTH_METHODS + ("breadth",)
EVOL_SAMPLING: dict[str, Any] = {  # WizardLM Evol_Instruct/openai_access.py get_oai_completion
    "temperature": 1.0, "max_tokens": 2048, "top_p": 0.95, "frequency_penalty": 0.0, "presence_penalty": 0.0}
EQUAL_MAX_TOKENS = 16  # ours: the judgement is "Equal" or "Not Equal"
ROUNDS = 4  # WizardLM: four rounds of evolution over Alpaca's 52k (250k instructions)
_STEPS = {"evolve": 0, "equal": 1, "answer": 2}


@dataclass(frozen=True)
class EvolSettings:
    rounds: int = ROUNDS
    methods: tuple[str, ...] = METHODS
    seed: int = 42  # as self-instruct's default (bootstrap_instructions.py random.seed(42))
    limit: int | None = None  # evolve only the first N seeds
    instruction_field: str = "instruction"
    novelty_threshold: float = ROUGE_THRESHOLD  # 1.0 turns the novelty filter off
    sampling: dict[str, Any] = field(default_factory=dict)  # overrides of EVOL_SAMPLING


@dataclass
class Prompts:
    """The parsed template file: formatted per request, read once per run."""

    template: Template
    depth: str
    methods: dict[str, str]
    breadth: str
    equal: str

    @classmethod
    def load(cls) -> "Prompts":
        tmpl = load_template("evol_instruct.json")
        data = json.loads(tmpl.text)
        return cls(tmpl, data["depth"], data["depth_methods"], data["breadth"], data["equal"])

    def evolve(self, method: str, instruction: str) -> str:
        if method == "breadth":
            return self.breadth.replace("{instruction}", instruction)
        return self.depth.replace("{method}", self.methods[method]).replace("{instruction}", instruction)

    def equality(self, first: str, second: str) -> str:
        return self.equal.replace("{first}", first).replace("{second}", second)


def load_seed_instructions(path: Path, *, field_name: str = "instruction") -> list[str]:
    """Instructions of a seed file: Self-Instruct seed tasks, Alpaca JSON, or JSONL with ``field_name``.

    As WizardLM's main.py, a record's input is appended after ``\\r\\n``. Every bad record
    is reported (file:line), none skipped."""
    if not Path(path).is_file():
        raise ConfigError([Problem(str(path), None, "SEEDS", "file not found")])
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            rows = list(enumerate(json.loads(text), start=1))
        except json.JSONDecodeError as exc:
            raise ConfigError([Problem(str(path), exc.lineno, "", f"not valid JSON ({exc.msg})")]) from exc
    else:
        rows = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((lineno, json.loads(line)))
                except json.JSONDecodeError as exc:
                    rows.append((lineno, exc))
    out: list[str] = []
    problems: list[Problem] = []
    for where, rec in rows:
        inst = rec.get(field_name) if isinstance(rec, dict) else None
        if not isinstance(inst, str) or not inst.strip():
            why = "not valid JSON" if isinstance(rec, Exception) else f"no non-empty string '{field_name}'"
            problems.append(Problem(str(path), where, "", f"{why} (choose the field with --instruction-field)"))
            continue
        inp = rec.get("input")
        if inp is None and isinstance(rec.get("instances"), list) and rec["instances"]:
            inp = rec["instances"][0].get("input") if isinstance(rec["instances"][0], dict) else None
        out.append(inst.strip() + ("\r\n" + inp.strip() if isinstance(inp, str) and inp.strip() else ""))
    if problems:
        raise ConfigError(problems)
    if not out:
        raise ConfigError([Problem(str(path), None, "SEEDS", "no instructions in the file")])
    return out


@dataclass
class Candidate:
    method: str
    parent: str
    text: str = ""
    answer: str = ""
    reason: str | None = None
    requests: list[str] = field(default_factory=list)


class EvolMethod:
    def __init__(self, state: RunState, settings: EvolSettings, seeds: list[str]) -> None:
        self.state, self.settings = state, settings
        self.prompts = Prompts.load()
        state.templates[self.prompts.template.name] = self.prompts.template
        self.params = {**EVOL_SAMPLING, **settings.sampling}
        self.equal_params = {**self.params, "max_tokens": EQUAL_MAX_TOKENS}
        self.lineages = list(seeds)
        # each lineage's instructions (seed, then accepted evolutions) by pool position: excluded from its own
        # novelty check, since in-depth evolving extends them by design
        self.ancestry: list[list[int]] = [[state.pool.add(seed)] for seed in seeds]
        self.round = 0

    async def run(self) -> str | None:
        for r in range(1, self.settings.rounds + 1):
            self.round = r
            before = self.state.writer.count
            stop = await run_ordered(self.make, self.handle, window=self.state.client.config.concurrency)
            self.state.stats[f"round_{r}.accepted"] = self.state.writer.count - before
            if stop:
                return stop
        return None

    def _ask(self, prompt: str, params: dict[str, Any], index: int, step: str) -> Any:
        occurrence = (self.round * 1_000_003 + index) * 3 + _STEPS[step]  # unique per (round, lineage, step)
        return self.state.client.complete(prompt, params, occurrence=occurrence)

    def make(self, i: int) -> Any:
        if i >= len(self.lineages):
            return None
        rng = request_rng(self.settings.seed, f"evol:{self.round}", i)
        return self._chain(i, rng.choice(self.settings.methods), self.lineages[i])

    async def _chain(self, i: int, method: str, parent: str) -> Candidate:
        cand = Candidate(method=method, parent=parent)
        done = await self._ask(self.prompts.evolve(method, parent), self.params, i, "evolve")
        if done is None:
            cand.reason = "request_failed"
            return cand
        cand.text, cand.requests = done.text.strip(), [done.key[:16]]
        cand.reason = evolution_reason(cand.text)
        if cand.reason:
            return cand
        judged = await self._ask(self.prompts.equality(parent, cand.text), self.equal_params, i, "equal")
        if judged is None or judged_equal(judged.text):
            cand.reason = "request_failed" if judged is None else "no_information_gain"
            return cand
        answer = await self._ask(cand.text, self.params, i, "answer")
        if answer is None:
            cand.reason = "request_failed"
            return cand
        cand.answer, cand.requests = answer.text.strip(), cand.requests + [judged.key[:16], answer.key[:16]]
        cand.reason = answer_reason(cand.answer)
        return cand

    def handle(self, i: int, cand: Candidate) -> bool:
        st = self.state
        st.stats["evolved"] += 1
        st.stats[f"method.{cand.method}"] += 1
        if cand.reason is None:
            # against the pool, not the lineage's own instructions: an in-depth evolution adds 10-20 words to
            # its parent by design (ROUGE-L F1 ~0.75 for a 20-word parent); the equality judge decides that case
            verdict = st.pool.check(cand.text, exclude=frozenset(self.ancestry[i]))
            if not verdict.novel:
                cand.reason = "rouge_similar"
        if cand.reason:
            st.reject(cand.reason)
            return False
        self.ancestry[i].append(st.pool.add(cand.text))
        st.writer.append(alpaca_record(cand.text, "", cand.answer), {
            "method": "evol-instruct", "evol_method": cand.method, "round": self.round, "lineage": i,
            "parent": cand.parent, "model": st.client.config.model, "template": self.prompts.template.provenance(),
            "requests": cand.requests})
        st.stats["accepted"] += 1
        self.lineages[i] = cand.text
        return False


def run_evol(settings: EvolSettings, config: ClientConfig, *, seeds_path: Path, output: Path, api_key: str | None,
             cache_path: Path | None = None, prices_path: Path | None = None, price: str | None = None,
             sleep: Any = None) -> dict[str, Any]:
    """Evolve ``seeds_path`` for ``settings.rounds`` rounds into ``output``; returns the summary."""
    unknown = sorted(set(settings.methods) - set(METHODS))
    if unknown or not settings.methods:
        raise ConfigError([Problem("", None, "--methods", f"unknown {', '.join(unknown) or 'empty list'}; choose from "
                                   f"{', '.join(METHODS)}")])
    seeds = load_seed_instructions(seeds_path, field_name=settings.instruction_field)[:settings.limit]
    return run_method("evol-instruct", config, lambda state: EvolMethod(state, settings, seeds).run(), output=output,
                      api_key=api_key, cache_path=cache_path, prices_path=prices_path, price=price, sleep=sleep,
                      novelty_threshold=settings.novelty_threshold,
                      summary=lambda state: {"seeds": len(seeds), "accepted": state.writer.count,
                                             "pool_size": len(state.pool),
                                             "settings": {**asdict(settings), "methods": list(settings.methods)}})
