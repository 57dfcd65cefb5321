"""Stages, filters and barriers: the contract every pipeline step implements.

A **stage** turns an iterator of documents into an iterator of documents, lazily: it
never calls ``list()`` on the stream. A **filter** is a stage whose rule is a pure
function ``reject(doc) -> reason | None`` (``reject_batch`` for batched models, whose
scores the stage writes into ``meta`` before the rule reads them); the base class counts
``dropped.<reason>``. A **barrier** needs the whole corpus (dedup, mixture): the runner
cuts the pipeline at it and runs it as map (in every task) -> reduce (once, in the
driver, which may fan out through ``ctx.executor``) -> apply (in every task of the next
phase); each method receives its context as an argument.

Every step is generic in its params model: ``class GopherQuality(Filter[GopherQualityParams])``
gives ``self.params`` that type, and ``Params = GopherQualityParams`` names it for the
config loader (one place, the class body).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .document import Document
from . import stats as keys
from .io import atomic_write_text
from .stats import Stats


class Params(BaseModel):
    """Base for every step's options: unknown keys are an error, not silently ignored, and
    no float option may be NaN or infinite (pydantic's ``allow_inf_nan=False``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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

    def map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]],
            on_done: Callable[[int, Any], None] | None = None) -> list[Any]: ...


@dataclass
class RunInfo:
    """Run-wide facts every stage may read. Picklable; the same in every worker."""

    seed: int
    output_dir: Path  # final output directory (stages write there only through publish_dir)
    work_dir: Path  # run scratch: <output>/_work/<config hash>
    sources: list[str]  # input names in pipeline-file order = source priority
    pipeline_name: str = ""
    log_file: str | None = None  # the run's log file; worker processes append to it too
    storage_options: dict[str, dict[str, Any]] | None = None  # fsspec defaults per protocol (object stores)
    append: bool = False  # cron mode: this run adds to its output (and to its own dedup-index generations)

    @property
    def owner(self) -> str:
        """Who owns what this run adds to a shared index: its output folder (absolute)."""
        return str(Path(self.output_dir).resolve())


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

    @property
    def steps_dir(self) -> Path:
        """Work that survives a killed reduce (``run_steps`` results and their files)."""
        return self.run.work_dir / "barriers" / f"{safe_name(self.label)}.steps"

    def run_steps(self, name: str, fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]],
                  on_done: Callable[[int, Any], None] | None = None) -> list[Any]:
        """Fan ``fn(*job)`` out through the executor, each job's (JSON) result kept under
        ``steps_dir/<name>/<i>.json``: a reduce killed half-way redoes only the jobs that
        had not finished. A job must write its files under ``steps_dir`` and be
        deterministic (a redone job rewrites the same bytes)."""
        folder = self.steps_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        results: list[Any] = [None] * len(jobs)
        todo = []
        for i in range(len(jobs)):
            done = folder / f"{i:06d}.json"
            if done.exists():
                results[i] = json.loads(done.read_text())
            else:
                todo.append(i)

        def finished(k: int, result: Any) -> None:
            i = todo[k]
            results[i] = result
            atomic_write_text(folder / f"{i:06d}.json", json.dumps(result, sort_keys=True))
            if on_done is not None:
                on_done(i, result)

        self.executor.map(fn, [jobs[i] for i in todo], on_done=finished)
        return results


def safe_name(name: str) -> str:
    """A string usable as one path component: no separators, no '..'."""
    out = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name)
    return out.strip(".") or "_"


P = TypeVar("P", bound=Params)
#: the base class under another name: inside a step's class body, ``Params`` is its own attribute
AnyParams = Params


class Step(Generic[P]):
    """What every pipeline step has: its params model and the checks made before any work."""

    Params: ClassVar[type[Params]] = Params
    #: barrier steps split the pipeline into phases
    barrier: ClassVar[bool] = False
    #: does this step change document text? (documentation and ordering checks)
    rewrites_text: ClassVar[bool] = False
    #: drop reasons it can count (``dropped.<reason>`` in stats.json) -> what each means, for
    #: ``dataforge stages NAME`` and docs/stages.md; ``{n}`` in a reason stands for a number
    reasons: ClassVar[dict[str, str]] = {}

    @classmethod
    def check_run_seed(cls, params: AnyParams, seed: int) -> str | None:
        """Why the pipeline's ``seed`` cannot drive this step (a library that takes fewer
        bits), or None. Checked before any work, like ``check``."""
        return None

    @classmethod
    def check(cls, params: AnyParams) -> list[tuple[str, str]]:
        """Problems the pipeline file can be refused for before any work starts, beyond
        the Params types: e.g. a model or list file that does not exist. Returns
        ``(option name, message)`` pairs; the config loader adds file:line."""
        return []


class Recorder:
    """One stage's counters in one task, and its sample of rejected documents.

    ``dropped`` keeps the first ``sample_rejected`` documents of each reason in the task
    under ``rejected/<stage>/<task>.jsonl`` (what `dataforge report` shows), with the
    measured value that failed the rule when the stage gives one."""

    def __init__(self, ctx: TaskContext, *, label: str | None = None, sample_rejected: int = 0) -> None:
        self.ctx = ctx
        self.label = label or ctx.label
        self.limit = sample_rejected
        self._sampled: dict[str, int] = {}
        self._fh: Any = None

    def count(self, doc: Document, key: str, n: float = 1) -> None:
        self.ctx.stats.add(self.label, doc.source, key, n)

    def observe(self, doc: Document, name: str, score: float, *, logit: bool = False) -> None:
        """Count a score in [0, 1] into histogram ``name``: 20 equal bins, or with ``logit``
        24 bins of log-odds for scores that crowd near 0 or 1."""
        self.count(doc, keys.hist_key(name, keys.logit_bin(score) if logit else keys.unit_bin(score)))

    def dropped(self, doc: Document, reason: str, value: Any = None) -> None:
        self.count(doc, keys.dropped_key(reason))
        if self.limit <= self._sampled.get(reason, 0):
            return
        self._sampled[reason] = self._sampled.get(reason, 0) + 1
        if self._fh is None:
            path = self.ctx.publish_dir / "rejected" / safe_name(self.label) / f"{safe_name(self.ctx.task_id)}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "w", encoding="utf-8")
        rec: dict[str, Any] = {"id": doc.id, "source": doc.source, "reason": reason, "chars": len(doc.text),
                               "text": doc.text[:SAMPLE_TEXT_CHARS], "meta": doc.meta}
        if value is not None:
            rec["value"] = value
        self._fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class Stage(Step[P]):
    """A streaming step, built inside a task. Subclasses set ``Params`` and implement ``process``."""

    def __init__(self, params: P, ctx: TaskContext) -> None:
        self.params: P = params
        self.ctx = ctx
        self.rec = Recorder(ctx, sample_rejected=int(getattr(params, "sample_rejected", 0) or 0))

    @property
    def label(self) -> str:
        return self.ctx.label

    def count(self, doc: Document, key: str, n: float = 1) -> None:
        self.rec.count(doc, key, n)

    def observe(self, doc: Document, name: str, score: float, *, logit: bool = False) -> None:
        self.rec.observe(doc, name, score, logit=logit)

    def dropped(self, doc: Document, reason: str, value: Any = None) -> None:
        """Count a drop (and sample the document, see ``Recorder``)."""
        self.rec.dropped(doc, reason, value)

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        raise NotImplementedError

    def close(self) -> None:
        """Called once after the stream is exhausted (flush side outputs here; call super)."""
        self.rec.close()


#: scores a batched filter measured for one document (written into meta by ``annotate``)
Scores = dict[str, Any]


class Filter(Stage[P]):
    """A stage that keeps or drops each document by a pure rule, and counts why.

    Text rules implement ``reject(doc)``. Model-based filters implement ``score_batch``
    (one model call per batch of ``batch_size`` documents); the stage writes the scores
    into ``meta`` (``annotate``) and then asks ``reject``/``reject_batch``, which only
    read them. ``after`` sees every decision (histograms of kept vs dropped scores).
    """

    @property
    def batch_size(self) -> int:
        return int(getattr(self.params, "batch_size", 1) or 1)

    def score_batch(self, docs: list[Document]) -> list[Scores] | None:
        """A model's scores for each document (pure: no document is changed); None = no model."""
        return None

    def annotate(self, doc: Document, scores: Scores) -> None:
        """Write a document's scores into its meta (the stage's job, not the rule's)."""
        doc.meta.update(scores)

    def reject(self, doc: Document) -> str | None:
        """Return a short reason (snake_case) to drop ``doc``, or None to keep it."""
        raise NotImplementedError

    def reject_batch(self, docs: list[Document]) -> list[str | None]:
        """Decisions for a batch (after ``annotate``); by default ``reject`` per document."""
        return [self.reject(d) for d in docs]

    def after(self, doc: Document, reason: str | None) -> None:
        """Called with every decision (e.g. to histogram the score kept vs dropped)."""

    def decide(self, batch: list[Document]) -> list[str | None]:
        """Score, annotate and decide one batch."""
        scores = self.score_batch(batch)
        if scores is not None:
            for doc, s in zip(batch, scores):
                self.annotate(doc, s)
        reasons = self.reject_batch(batch)
        for doc, reason in zip(batch, reasons):
            self.after(doc, reason)
        return reasons

    def keep(self, batch: list[Document]) -> Iterator[Document]:
        """Decide ``batch``; yield the kept documents, count the dropped ones."""
        for doc, reason in zip(batch, self.decide(batch)):
            if reason is None:
                yield doc
            else:
                self.dropped(doc, reason)

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        n = self.batch_size
        if n == 1:
            for doc in docs:
                yield from self.keep([doc])
            return
        it = iter(docs)
        while batch := list(islice(it, n)):
            yield from self.keep(batch)


class Barrier(Step[P]):
    """A step that needs the whole corpus: map in every task, reduce once, apply after.

    * ``map(docs, ctx)``: in each task of phase k; pass documents through (usually all of
      them) and write side outputs into ``ctx.stage_dir``.
    * ``reduce(ctx)``: once, in the driver; read every task's ``stage_dir`` and write the
      result into ``ctx.barrier_dir``. May fan out through ``ctx.executor.map``
      (top-level picklable functions only).
    * ``apply(docs, ctx)``: in each task of phase k+1, reading ``barrier_dir(ctx)``; e.g.
      drop the documents on a drop list.
    * ``commit(ctx)``: once, in the driver, after the whole run succeeded.

    The instance holds only its params; state between the calls goes through files.
    """

    barrier: ClassVar[bool] = True

    def __init__(self, params: P) -> None:
        self.params: P = params

    def recorder(self, ctx: TaskContext) -> Recorder:
        return Recorder(ctx, sample_rejected=int(getattr(self.params, "sample_rejected", 0) or 0))

    def map(self, docs: Iterable[Document], ctx: TaskContext) -> Iterator[Document]:
        yield from docs

    def reduce(self, ctx: ReduceContext) -> None:
        pass

    def apply(self, docs: Iterable[Document], ctx: TaskContext) -> Iterator[Document]:
        yield from docs

    def index_paths(self) -> list[Path]:
        """Cross-run state folders this step reads and writes (locked for the whole run)."""
        return []

    def commit(self, ctx: ReduceContext) -> dict[str, Any] | None:
        """Once, in the driver, after the whole run succeeded and before its manifest:
        persist cross-run state (e.g. a dedup index generation) as *pending*, atomically.
        Returns what the manifest records so that ``confirm`` (or the next run) can
        confirm it; a failed run never calls it."""
        return None

    def confirm(self, ctx: ReduceContext, token: dict[str, Any]) -> None:
        """After the manifest was written: mark what ``commit`` added as confirmed."""

    @staticmethod
    def barrier_dir(ctx: TaskContext | ReduceContext) -> Path:
        """Where reduce wrote its result (the same path from any context)."""
        return ctx.run.work_dir / "barriers" / safe_name(ctx.label)
