"""Cut a pipeline at its barriers into phases of independent tasks (one per input file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import xxhash

from ..config import PipelineConfig, StageSpec
from ..io import file_version
from ..registry import TERMINAL
from ..stage import safe_name


@dataclass(frozen=True)
class TaskSpec:
    """One input file of one source. The id is stable while the file is unchanged."""

    task_id: str
    source: str
    path: str
    size: int
    version: str = ""  # mtime (local) or etag (object store) when planned


@dataclass
class Phase:
    """Stages run inside every task, between two barriers.

    ``entry`` is the barrier whose ``apply`` opens the phase (None in phase 0);
    ``exit`` is the barrier whose ``map`` closes it (None in the final phase).
    """

    index: int
    entry: StageSpec | None
    stages: list[StageSpec]
    exit: StageSpec | None

    @property
    def final(self) -> bool:
        return self.exit is None

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
    tokenize: StageSpec | None
    config_hash: str
    base: dict | None = None  # append mode: the manifest of the output this run adds to
    work_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        # keyed by the configuration and the exact set of input files (path, size, mtime):
        # another input set never resumes into results (barriers, mixture) made without it
        inputs = xxhash.xxh64("\n".join(t.task_id for t in self.tasks).encode()).hexdigest()[:8]
        self.work_dir = self.config.output / "_work" / f"{self.config_hash}-{inputs}"

    @property
    def barriers(self) -> list[StageSpec]:
        return [p.exit for p in self.phases if p.exit is not None]


def task_id_for(source: str, path: str, size: int, version: str) -> str:
    """Readable and stable: source, file name, and a hash of path, size and mtime (or etag)."""
    digest = xxhash.xxh64(f"{path}\0{size}\0{version}".encode()).hexdigest()[:10]
    return safe_name(f"{source}--{Path(path).name}")[:80] + f"-{digest}"


def make_plan(config: PipelineConfig) -> Plan:
    tasks: list[TaskSpec] = []
    for inp in config.inputs:  # source order = priority order; files sorted within a source
        for path in inp.files:
            size, version = file_version(path)
            tasks.append(TaskSpec(task_id=task_id_for(inp.name, path, size, version),
                                  source=inp.name, path=path, size=size, version=version))
    body = [s for s in config.stages if s.name not in TERMINAL]
    phases: list[Phase] = []
    entry: StageSpec | None = None
    current: list[StageSpec] = []
    for spec in body:
        if spec.cls.barrier:
            phases.append(Phase(index=len(phases), entry=entry, stages=current, exit=spec))
            entry, current = spec, []
        else:
            current.append(spec)
    phases.append(Phase(index=len(phases), entry=entry, stages=current, exit=None))
    return Plan(config=config, tasks=tasks, phases=phases, mix=config.stage("mix"),
                tokenize=config.stage("tokenize"), config_hash=config.config_hash())


def append_plan(plan: Plan, base: dict) -> Plan:
    """Cron mode: keep only the input files the output's manifest has not seen.

    A file is seen when the manifest lists the same path and size, and the same version
    token (mtime/etag) or, failing that, the same content checksum.
    """
    from ..errors import ConfigError
    from ..io import checksum

    if base.get("config_hash") != plan.config_hash:
        raise ConfigError(f"{plan.config.output}: made by another pipeline configuration "
                          f"({base.get('config_hash')}, this one is {plan.config_hash}); appending would mix "
                          "two configurations: use another output directory or drop 'append: true'")
    seen = {(i["path"], i["bytes"]): i for i in base.get("inputs", [])}
    new = []
    for t in plan.tasks:
        old = seen.get((t.path, t.size))
        if old is not None and (old.get("version") == t.version or old.get("checksum") == checksum(t.path)):
            continue
        new.append(t)
    out = Plan(config=plan.config, tasks=new, phases=plan.phases, mix=plan.mix, tokenize=plan.tokenize,
               config_hash=plan.config_hash, base=base)
    return out
