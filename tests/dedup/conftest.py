"""A hand-built barrier harness: map per task, reduce once, apply per task, commit."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dataforge.document import Document
from dataforge.stage import ReduceContext, RunInfo, TaskContext
from dataforge.stats import Stats

DATA = Path(__file__).resolve().parents[2] / "data"


class SerialExecutor:
    workers = 1

    def map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> list[Any]:
        return [fn(*a) for a in args]


@dataclass
class Run:
    kept: list[list[Document]]
    stats: Stats
    out: Path
    barrier_dir: Path
    stage_dirs: list[Path] = field(default_factory=list)

    @property
    def kept_ids(self) -> set[str]:
        return {d.id for task in self.kept for d in task}

    def dropped_ids(self, tasks: list[list[Document]]) -> set[str]:
        return {d.id for t in tasks for d in t} - self.kept_ids


class Harness:
    def __init__(self, root: Path) -> None:
        self.root = root

    def run(self, stage_cls: type, params: dict[str, Any], tasks: list[list[Document]], *,
            name: str = "run", sources: list[str] | None = None, seed: int = 1234,
            commit: bool = True, after_map: Callable[[list[Path]], None] | None = None,
            append: bool = False) -> Run:
        out = self.root / name / "out"
        work = self.root / name / "work"
        srcs = sources or sorted({d.source for t in tasks for d in t})
        info = RunInfo(seed=seed, output_dir=out, work_dir=work, sources=srcs, append=append)
        p = stage_cls.Params(**params)
        label = "1:dedup"
        stats = Stats()
        task_dirs = []
        for i, docs in enumerate(tasks):
            tdir = work / "phase0" / f"t{i:03d}"
            ctx = TaskContext(run=info, task_id=f"t{i:03d}", label=label, stats=stats, task_dir=tdir,
                              publish_dir=out)
            passed = list(stage_cls(p).map(iter(docs), ctx))
            assert passed == docs  # map passes every document through, in order
            task_dirs.append(tdir)
        rctx = ReduceContext(run=info, label=label, stats=stats, task_dirs=task_dirs,
                             barrier_dir=work / "barriers" / "1_dedup", executor=SerialExecutor(), publish_dir=out)
        if after_map:
            after_map(rctx.stage_dirs())
        stage_cls(p).reduce(rctx)
        kept = []
        for i, docs in enumerate(tasks):
            ctx = TaskContext(run=info, task_id=f"t{i:03d}", label=label, stats=stats,
                              task_dir=work / "phase1" / f"t{i:03d}", publish_dir=out)
            kept.append(list(stage_cls(p).apply(iter(docs), ctx)))
        if commit:
            token = stage_cls(p).commit(rctx)  # pending ...
            if token is not None:
                stage_cls(p).confirm(rctx, token)  # ... then confirmed, as after the run's manifest
        return Run(kept, stats, out, rctx.barrier_dir, rctx.stage_dirs())


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def c4_texts(n: int | None = None) -> list[str]:
    """Real web documents from the bundled C4 sample."""
    with open(DATA / "c4" / "tiny_c4_sample.jsonl", encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    return texts[:n] if n else texts
