"""Cut a pipeline at its barriers into phases of independent tasks.

A task is one input file, or one part of a big one (``executor.task_bytes``, cut at
record boundaries by the reader: ``Reader.split``). Barriers are the dedup stages and
the final ``tokenize`` (with ``train:``, tokenizer training before it); each closes a
phase (its map runs in every task) and, except ``tokenize``, opens the next (its apply).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import xxhash

from ..config import PipelineConfig, StageSpec
from ..errors import ConfigError
from ..io import checksum, file_version, is_url
from ..mix import MixParams
from ..readers.base import WHOLE, Span
from ..registry import TERMINAL
from ..stage import safe_name
from ..stats import Stats
from ..tokenize.shards import MANIFEST
from ..tokenize.stage import PackSpec, TokenizeBarrier, TokenizeParams, TrainSpec, TrainTokenizer, budget_per_task


@dataclass(frozen=True)
class TaskSpec:
    """One input file (or part) of one source. The id is stable while the file is unchanged."""

    task_id: str
    source: str
    path: str
    size: int
    version: str = ""  # mtime (local) or etag (object store) when planned
    span: Span = WHOLE

    @property
    def first_part(self) -> bool:
        return self.span.part == 0


@dataclass
class Phase:
    """Stages run inside every task, between two barriers.

    ``entry`` is the barrier whose ``apply`` opens the phase (None in phase 0);
    ``exit`` is the barrier whose ``map`` closes it (None: the pipeline ends here).
    """

    index: int
    entry: StageSpec | None
    stages: list[StageSpec]
    exit: StageSpec | None
    last: bool = False  # no phase follows: the tasks keep no documents for a next one

    @property
    def final(self) -> bool:
        return self.last

    def describe(self) -> str:
        parts = ([f"{self.entry.label}.apply"] if self.entry else []) + [s.label for s in self.stages]
        parts += [f"{self.exit.label}.map"] if self.exit else []
        return " -> ".join(parts) or "(read only)"


@dataclass
class Plan:
    config: PipelineConfig
    tasks: list[TaskSpec]
    phases: list[Phase]
    mix: StageSpec | None
    tokenize: StageSpec | None  # the pipeline file's tokenize stage (its TokenizeParams)
    config_hash: str
    base: dict | None = None  # append mode: the manifest of the output this run adds to
    work_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        # keyed by the configuration and the exact set of input files (path, size, mtime):
        # another input set never resumes into results (barriers, mixture) made without it
        inputs = xxhash.xxh64("\n".join(t.task_id for t in self.tasks).encode()).hexdigest()[:8]
        self.work_dir = self.config.output / "_work" / f"{self.config_hash}-{inputs}"
        self.phases = _phases(self)

    @property
    def barriers(self) -> list[StageSpec]:
        return [p.exit for p in self.phases if p.exit is not None]

    @property
    def pack(self) -> StageSpec | None:
        """The tokenize barrier (its PackSpec), when the pipeline tokenizes."""
        return next((b for b in self.barriers if b.cls is TokenizeBarrier), None)

    def pack_spec(self) -> PackSpec:
        """The tokenize barrier's options (a pipeline with a tokenize stage only)."""
        spec = self.pack
        if spec is None or not isinstance(spec.params, PackSpec):
            raise TypeError("this pipeline has no tokenize stage")
        return spec.params


def task_id_for(source: str, path: str, size: int, version: str, span: Span = WHOLE) -> str:
    """Readable and stable: source, file name, part, and a hash of path, size and mtime (or etag)."""
    digest = xxhash.xxh64(f"{path}\0{size}\0{version}".encode()).hexdigest()[:10]
    part = f"-p{span.part:05d}of{span.parts:05d}" if span.parts > 1 else ""
    return safe_name(f"{source}--{Path(path).name}")[:80] + f"-{digest}{part}"


def make_plan(config: PipelineConfig, *, base: dict | None = None) -> Plan:
    tasks: list[TaskSpec] = []
    task_bytes = config.executor.task_bytes
    for inp in config.inputs:  # source order = priority order; files sorted within a source
        reader = inp.reader_cls(inp.reader_params, source=inp.name, stats=Stats())
        for path in inp.files:
            size, version = file_version(path)
            spans = [WHOLE] if is_url(path) else reader.split(path, size=size, task_bytes=task_bytes)
            for span in spans:
                tasks.append(TaskSpec(task_id=task_id_for(inp.name, path, size, version, span),
                                      source=inp.name, path=path, size=size, version=version, span=span))
    return Plan(config=config, tasks=tasks, phases=[], mix=config.stage("mix"), tokenize=config.stage("tokenize"),
                config_hash=config.config_hash(), base=base)


def _phases(plan: Plan) -> list[Phase]:
    config = plan.config
    barriers: list[StageSpec] = []
    body = [s for s in config.stages if s.name not in TERMINAL]
    tok = plan.tokenize
    if tok is not None:
        body += _final_barriers(plan, tok)
    phases: list[Phase] = []
    entry: StageSpec | None = None
    current: list[StageSpec] = []
    for spec in body:
        if spec.cls.barrier:
            phases.append(Phase(index=len(phases), entry=entry, stages=current, exit=spec))
            barriers.append(spec)
            entry, current = spec, []
        else:
            current.append(spec)
    if tok is None or current or entry is None or entry.cls is not TokenizeBarrier:
        phases.append(Phase(index=len(phases), entry=entry, stages=current, exit=None))
    phases[-1].last = True
    return phases


def _final_barriers(plan: Plan, tok: StageSpec) -> list[StageSpec]:
    """tokenize (and mix) as barriers: [TrainTokenizer,] TokenizeBarrier."""
    params = tok.params
    if not isinstance(params, TokenizeParams):
        raise TypeError(f"{tok.label}: expected TokenizeParams, got {type(params).__name__}")
    out: list[StageSpec] = []
    if params.train is not None:
        train = StageSpec(name="tokenize.train", label=f"{tok.label}.train", cls=TrainTokenizer,
                          params=TrainSpec(params=params.train, eos=params.eos,
                                           budget_per_task=budget_per_task(params.train.sample_bytes,
                                                                           len(plan.tasks))),
                          line=tok.line)
        out.append(train)
        tokenizer = str(plan.work_dir / "barriers" / safe_name(train.label) / "tokenizer.json")
    else:
        assert params.tokenizer is not None  # TokenizeParams: exactly one of tokenizer / train
        tokenizer = str(Path(params.tokenizer).resolve())
    mix = plan.mix.params if plan.mix is not None else None
    if mix is not None and not isinstance(mix, MixParams):
        raise TypeError(f"{plan.mix.label if plan.mix else 'mix'}: expected MixParams, got {type(mix).__name__}")
    start = {split: sum(1 for s in (plan.base or {}).get("shards", []) if s["split"] == split)
             for split in ("train", "validation")}
    inputs = plan.config.inputs
    spec = PackSpec(tokenize=params, mix=mix, tokenizer_path=tokenizer, sources=tuple(i.name for i in inputs),
                    weights={i.name: i.weight for i in inputs}, budgets={i.name: i.tokens for i in inputs},
                    start_index=start)
    out.append(StageSpec(name="tokenize", label=tok.label, cls=TokenizeBarrier, params=spec, line=tok.line))
    return out


def number_tasks(plan: Plan, counts: dict[str, int | None]) -> None:
    """Fix ``first_record`` of every part of a split file from the parts' record counts
    (``Reader.count``, run in the workers): a prefix sum per file, O(parts)."""
    by_file: dict[tuple[str, str], list[int]] = {}
    for i, t in enumerate(plan.tasks):
        if t.span.parts > 1:
            by_file.setdefault((t.source, t.path), []).append(i)
    for idx in by_file.values():
        first = plan.tasks[idx[0]].span.first_record
        for i in sorted(idx, key=lambda j: plan.tasks[j].span.part):
            t = plan.tasks[i]
            n = counts.get(t.task_id)
            plan.tasks[i] = replace(t, span=replace(t.span, first_record=first if n is not None else t.span.first_record))
            if n is not None:
                first += n


def append_plan(plan: Plan, base: dict) -> Plan:
    """Cron mode: keep only the input files the output's manifest has not seen.

    A file is seen when the manifest lists the same path and size, and the same version
    token (mtime/etag) or, failing that, the same content checksum.
    """
    if base.get("config_hash") != plan.config_hash:
        raise ConfigError(f"{plan.config.output}: made by another pipeline configuration "
                          f"({base.get('config_hash')}, this one is {plan.config_hash}); appending would mix "
                          "two configurations: use another output directory or drop 'append: true'")
    seen = {(i["path"], i["bytes"]): i for i in base.get("inputs", [])}
    new, known = [], {}
    for t in plan.tasks:
        key = (t.path, t.size)
        if key not in known:
            old = seen.get(key)
            known[key] = old is not None and (old.get("version") == t.version or old.get("checksum") == checksum(t.path))
        if not known[key]:
            new.append(t)
    return Plan(config=plan.config, tasks=new, phases=[], mix=plan.mix, tokenize=plan.tokenize,
                config_hash=plan.config_hash, base=base)


def read_base(out: Path) -> dict[str, Any] | None:
    path = out / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None
