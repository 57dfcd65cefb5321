"""The Self-Instruct method (Wang et al. 2022; yizhongw/self-instruct), three steps per task:

1. instruction generation (bootstrap_instructions.py): 8 in-context instructions -
   up to 2 generated + the rest human seeds, shuffled - the model continues the list;
   instructions are parsed and filtered (``parse.parse_bootstrap``) and kept when
   ROUGE-L F1 <= 0.7 against seeds + generated (new ones join the pool at once);
2. classification identification (identify_clf_or_not.py): template_1 + the task +
   "Is it classification?", answer Yes/No;
3. instance generation (generate_instances.py): output-first template for
   classification tasks, input-first for the rest; instances parsed and filtered
   as prepare_for_finetuning.py does, at most 5 kept per task.

Steps 2-3 of each accepted instruction run as soon as it is accepted, concurrently with
step 1; records are written in acceptance order.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import ConfigError
from .client import BudgetReached, Completion
from .state import RunState
from .parse import is_classification, parse_bootstrap, parse_instances
from .pipeline import run_ordered
from .prompts import (Template, bootstrap_prompt, clf_prompt, instance_prompt, load_template, request_rng,
                      sample_bootstrap_instructions)
from .records import alpaca_record

SI_SAMPLING: dict[str, Any] = {  # bootstrap_instructions.py make_gpt3_requests(...)
    "max_tokens": 1024,
    "temperature": 0.7,
    "top_p": 0.5,
    "frequency_penalty": 0.0,
    "presence_penalty": 2.0,
    "stop": ["\n\n", "\n16", "16.", "16 ."],
}
SI_NUM_PROMPT = 8  # bootstrap_instructions.py --num_prompt_instructions
SI_NUM_MACHINE = 2  # bootstrap_instructions.py sample_machine_instructions(n=2)
CLF_SAMPLING: dict[str, Any] = {  # identify_clf_or_not.py
    "max_tokens": 3, "temperature": 0.0, "top_p": 0.0, "frequency_penalty": 0.0, "presence_penalty": 0.0,
    "stop": ["\n", "Task"],
}
INSTANCE_SAMPLING: dict[str, Any] = {  # generate_instances.py
    "temperature": 0.0, "top_p": 0.0, "frequency_penalty": 0.0, "presence_penalty": 1.5,
}
INSTANCE_MAX_TOKENS_CLF = 300  # generate_instances.py: "the clf template is longer"
INSTANCE_MAX_TOKENS_GEN = 350  # generate_instances.py


class SelfInstructMethod:
    def __init__(self, state: RunState, seeds: list[dict[str, Any]]) -> None:
        self.state = state
        st = state.settings
        if st.clf_seeds_only:
            seeds = [t for t in seeds if t.get("is_classification")]
        self.seeds = [t["instruction"] for t in seeds]
        self.num_prompt = st.num_prompt_instructions or SI_NUM_PROMPT
        if self.num_prompt > len(self.seeds):
            raise ConfigError(f"--num-prompt-instructions {self.num_prompt} exceeds the {len(self.seeds)} seed tasks")

        def load(name: str) -> Template:
            state.templates[name] = load_template(name, directory=st.templates_dir)
            return state.templates[name]

        self.header = load("si_bootstrap_clf.txt" if st.clf_seeds_only else "si_bootstrap.txt")
        self.clf_template = load("si_clf_identify.txt")
        self.inst_clf = load("si_instance_clf.txt")
        self.inst_gen = load("si_instance_gen.txt")
        self.params = {**SI_SAMPLING, **st.sampling}
        self.machine: list[str] = []
        self.chains: list[asyncio.Task[list[tuple[dict[str, str], dict[str, Any]]]]] = []
        self.emitted = 0
        self.stop: str | None = None
        for inst in self.seeds:
            state.pool.add(inst)

    async def run(self) -> str | None:
        st = self.state
        stop = await run_ordered(self.make, self.handle, window=st.settings.request_batch_size)
        for k in range(self.emitted, len(self.chains)):
            await asyncio.wait([self.chains[k]])
        self._emit_ready()
        return stop or self.stop

    # -- step 1 --------------------------------------------------------------------------

    def make(self, i: int) -> Any:
        st = self.state
        if len(self.machine) >= st.settings.num_instructions:
            return None
        rng = request_rng(st.settings.seed, "self-instruct", i)
        shown = sample_bootstrap_instructions(self.seeds, self.machine, rng, num_prompt=self.num_prompt,
                                              num_machine=SI_NUM_MACHINE)
        return st.ask(bootstrap_prompt(self.header, shown), self.params)

    def handle(self, i: int, done: Completion | None) -> bool:
        st = self.state
        for item, prov in st.admitted(done, parse_bootstrap, self.header, num_prompt=self.num_prompt,
                                      counter="instructions.parsed"):
            self.machine.append(item.instruction)
            st.stats["instructions.accepted"] += 1
            self.chains.append(asyncio.ensure_future(self._chain(len(self.machine) - 1, item.instruction, prov)))
            if len(self.machine) >= st.settings.num_instructions:
                break
        self._emit_ready()
        return len(self.machine) >= st.settings.num_instructions

    # -- steps 2 and 3 -------------------------------------------------------------------

    async def _chain(self, k: int, instruction: str,
                     prov: dict[str, Any]) -> list[tuple[dict[str, str], dict[str, Any]]]:
        st = self.state
        try:
            answer = await st.ask(clf_prompt(self.clf_template, instruction), CLF_SAMPLING)
            if answer is None:
                st.stats["requests.failed"] += 1
                return []
            clf = is_classification(answer.text)
            template = self.inst_clf if clf else self.inst_gen
            params = {**INSTANCE_SAMPLING,
                      "max_tokens": INSTANCE_MAX_TOKENS_CLF if clf else INSTANCE_MAX_TOKENS_GEN,
                      "stop": [f"Example {st.settings.max_instances + 1}", "Task:"]}
            done = await st.ask(instance_prompt(template, instruction), params)
        except BudgetReached as exc:
            self.stop = self.stop or str(exc)
            return []
        if done is None:
            st.stats["requests.failed"] += 1
            return []
        st.stats["tasks.classification" if clf else "tasks.generation"] += 1
        items, task_reason = parse_instances(done.text, done.finish_reason, instruction=instruction,
                                             classification=clf)
        if task_reason:
            st.reject(task_reason)
            return []
        valid = []
        for it in items:
            st.stats["instances.parsed"] += 1
            if it.reason:
                st.reject(it.reason)
            else:
                valid.append(it)
        rng = request_rng(st.settings.seed, "instances", k)
        kept = rng.sample(valid, min(len(valid), st.settings.max_instances))
        if len(valid) > len(kept):
            st.stats["rejected.over_max_instances"] += len(valid) - len(kept)
        out_prov = {**prov, "is_classification": clf, "classification_answer": answer.text,
                    "instance_request": done.key[:16], "instance_template": template.provenance()}
        return [(alpaca_record(it.instruction, it.input, it.output), out_prov) for it in kept]

    def _emit_ready(self) -> None:
        """Write finished tasks' records in acceptance order."""
        while self.emitted < len(self.chains) and self.chains[self.emitted].done():
            for record, prov in self.chains[self.emitted].result():
                self.state.writer.append(record, prov)
                self.state.stats["accepted"] += 1
            self.emitted += 1
