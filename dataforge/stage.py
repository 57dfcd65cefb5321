"""Stages, filters and barriers: the contract every pipeline step implements.

A **stage** turns an iterator of documents into an iterator of documents, lazily: it
never calls ``list()`` on the stream. A **filter** is a stage whose rule is a pure
function ``reject(doc) -> reason | None``; the base class counts ``dropped.<reason>``.
A **barrier** needs the whole corpus (dedup, mixture): the runner cuts the pipeline at
it and runs it as map (in every task) -> reduce (once, in the driver, which may fan out
through ``ctx.executor``) -> apply (in every task of the next phase).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from .document import Document
from .stats import Stats, logit_bin, unit_bin


class Params(BaseModel):
    """Base for every stage's options: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FilterParams(Params):
    """Options every filter has."""

    # Write up to this many rejected documents per reason and task, with their reason,
    # to rejected/<stage>/<task>.jsonl under the output (`dataforge report` shows them).
    # 0 = none. Our choice: 3 per reason is enough to see what a rule catches, and costs
    # a few KB per task.
    sample_rejected: int = Field(3, ge=0)


# a sampled rejected document keeps at most this much text (a report shows the start)
SAMPLE_TEXT_CHARS = 20_000


class Executor(Protocol):
    """What a barrier's reduce may use to fan work out (local processes or Ray)."""

    workers: int

    def map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> list[Any]: ...


@dataclass
class RunInfo:
    """Run-wide facts every stage may read. Picklable; the same in every worker."""

    seed: int
    output_dir: Path  # final output directory (stages write there only through publish_dir)
    work_dir: Path  # run scratch: <output>/_work/<config hash>
    sources: list[str]  # input names in pipeline-file order = source priority
    pipeline_name: str = ""
    log_file: str | None = None  # the run's log file; worker processes append to it too


@dataclass
class TaskContext:
    """Handed to a stage built inside a task (one input file)."""

    run: RunInfo
    task_id: str
    label: str  # this stage's unique label in the pipeline, e.g. "3:gopher_quality"
    stats: Stats
    task_dir: Path  # scratch for this task; committed atomically with the task
    publish_dir: Path  # files here are moved to the same relative path under output_dir at commit
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("dataforge.stage"))

    @property
    def stage_dir(self) -> Path:
        """This stage's own folder inside the task (side outputs such as signatures)."""
        d = self.task_dir / safe_name(self.label)
        d.mkdir(parents=True, exist_ok=True)
        return d


@dataclass
class ReduceContext:
    """Handed to a barrier's reduce, once per run, in the driver."""

    run: RunInfo
    label: str
    stats: Stats
    task_dirs: list[Path]  # finished task folders of the phase before, in task order
    barrier_dir: Path  # where reduce writes its result (apply reads it from here)
    executor: Executor
    publish_dir: Path
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("dataforge.stage"))

    def stage_dirs(self) -> list[Path]:
        """Each task's folder for this stage (written by ``map``), in task order."""
        return [t / safe_name(self.label) for t in self.task_dirs]


def safe_name(name: str) -> str:
    """A string usable as one path component: no separators, no '..'."""
    out = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name)
    return out.strip(".") or "_"


class Stage:
    """A streaming step. Subclasses set ``Params`` and implement ``process``."""

    Params: ClassVar[type[Params]] = Params
    #: barrier stages split the pipeline into phases
    barrier: ClassVar[bool] = False
    #: does this stage change document text? (documentation and ordering checks)
    rewrites_text: ClassVar[bool] = False

    def __init__(self, params: Params, ctx: TaskContext | ReduceContext) -> None:
        self.params = params
        self.ctx = ctx
        self._sampled: dict[str, int] = {}
        self._rejected_fh: Any = None

    @classmethod
    def check(cls, params: Params) -> list[tuple[str, str]]:
        """Problems the pipeline file can be refused for before any work starts, beyond
        the Params types: e.g. a model or list file that does not exist. Returns
        ``(option name, message)`` pairs; the config loader adds file:line."""
        return []

    @property
    def label(self) -> str:
        return self.ctx.label

    def count(self, doc: Document, key: str, n: float = 1) -> None:
        self.ctx.stats.add(self.ctx.label, doc.source, key, n)

    def observe(self, doc: Document, name: str, score: float, *, logit: bool = False) -> None:
        """Count a score in [0, 1] into histogram ``name`` (`dataforge report` plots it): 20
        equal bins, or with ``logit`` 24 bins of log-odds for scores that crowd near 0 or 1."""
        self.count(doc, f"hist.{name}.{logit_bin(score) if logit else unit_bin(score)}")

    def dropped(self, doc: Document, reason: str) -> None:
        """Count a drop, and keep the first ``sample_rejected`` documents of
        each reason in this task for inspection, when the stage's options have that."""
        self.count(doc, f"dropped.{reason}")
        limit = int(getattr(self.params, "sample_rejected", 0) or 0)
        if limit <= self._sampled.get(reason, 0) or not isinstance(self.ctx, TaskContext):
            return
        self._sampled[reason] = self._sampled.get(reason, 0) + 1
        if self._rejected_fh is None:
            path = self.ctx.publish_dir / "rejected" / safe_name(self.label) / f"{safe_name(self.ctx.task_id)}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._rejected_fh = open(path, "w", encoding="utf-8")
        rec = {"id": doc.id, "source": doc.source, "reason": reason, "chars": len(doc.text),
               "text": doc.text[:SAMPLE_TEXT_CHARS], "meta": doc.meta}
        self._rejected_fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        raise NotImplementedError

    def close(self) -> None:
        """Called once after the stream is exhausted (flush side outputs here; call super)."""
        if self._rejected_fh is not None:
            self._rejected_fh.close()
            self._rejected_fh = None


class Filter(Stage):
    """A stage that keeps or drops each document by a pure rule, and counts why."""

    Params: ClassVar[type[Params]] = FilterParams

    def reject(self, doc: Document) -> str | None:
        """Return a short reason (snake_case) to drop ``doc``, or None to keep it."""
        raise NotImplementedError

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        for doc in docs:
            reason = self.reject(doc)
            if reason is None:
                yield doc
            else:
                self.dropped(doc, reason)


class Barrier(Stage):
    """A step that needs the whole corpus: map in every task, reduce once, apply after.

    * ``map(docs)``: in each task of phase k; pass documents through (usually all of
      them) and write side outputs into ``ctx.stage_dir``.
    * ``reduce()``: once, in the driver, with a ``ReduceContext``; read every task's
      ``stage_dir`` and write the result into ``ctx.barrier_dir``. May fan out through
      ``ctx.executor.map`` (top-level picklable functions only).
    * ``apply(docs)``: in each task of phase k+1, reading ``barrier_dir`` (path via
      ``barrier_dir_for``); e.g. drop the documents on a drop list.
    * ``commit()``: once, in the driver, after the whole run succeeded.

    A new instance is built for each of the three calls; keep no state between them
    except through files.
    """

    barrier: ClassVar[bool] = True

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:  # pragma: no cover
        raise TypeError(f"{self.label} is a barrier; the runner calls map/reduce/apply")

    def map(self, docs: Iterable[Document]) -> Iterator[Document]:
        yield from docs

    def reduce(self) -> None:
        pass

    def apply(self, docs: Iterable[Document]) -> Iterator[Document]:
        yield from docs

    def commit(self) -> None:
        """Once, in the driver, after the whole run succeeded (ReduceContext): persist
        cross-run state (e.g. a dedup index) atomically. A failed run never calls it."""

    def barrier_dir_for(self) -> Path:
        """Where reduce wrote its result (usable from map/apply contexts too)."""
        return self.ctx.run.work_dir / "barriers" / safe_name(self.ctx.label)
