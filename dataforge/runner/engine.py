"""Run a validated pipeline: phases of tasks, barrier reduces, then encode + pack + manifest.

Every step is skipped when its marker exists, so a rerun of a finished pipeline does
no work, and a run killed at any moment resumes where it stopped and writes the same
bytes as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import PipelineConfig, StageSpec
from ..dedup.generations import Generations, index_lock
from ..errors import DataforgeError, Interrupted, TaskOutputError
from ..io import atomic_write_text, remove_partial_writes
from ..outputs import OutputDir, compact_ledger, record, recorded, remove_recorded
from ..readers.base import READ_LABEL
from ..stage import Filter, ReduceContext, RunInfo, safe_name
from ..lang.defaults import LANGUAGE_LOSS_MIN_DOCS
from ..stats import PACK_LABEL, SKIPPED, Stats, language_losses, stage_row
from ..train import run_training
from . import failpoints
from .events import OnEvent, PhaseEnd, PhaseStart, StepEnd, StepStart, TaskDone, UpToDate, ignore
from .executor import make_executor
from .finalize import publish_shards, write_run_manifest
from .plan import Plan, append_plan, make_plan, number_tasks
from .remote import publish
from .signals import stop_on_signals
from .state import clear_stale, commit_dir, fresh_tmp_dir, is_done, marker, remove_quietly
from .task import STATS_FILE, TaskJob, attach_run_log, count_part, run_task

log = logging.getLogger(__name__)

COMPLETE = "COMPLETE"
PUBLISHED = "PUBLISHED"


@dataclass
class RunResult:
    output: Path
    stats: Stats
    manifest: dict[str, Any] | None
    nothing_to_do: bool = False
    seconds: float = 0.0
    steps_run: int = 0
    warnings: list[str] = field(default_factory=list)
    train: dict[str, Any] | None = None


def run_pipeline(config: PipelineConfig, *, workers: int | None = None, on_event: OnEvent = ignore) -> RunResult:
    """Run ``config`` to completion under the output lock; see the module docstring."""
    t0 = time.perf_counter()
    plan = make_plan(config)
    out = config.output
    with OutputDir(out, kind="pipeline"), contextlib.ExitStack() as held:
        for path in _index_paths(plan):  # every cross-run index this run reads or writes, for the whole run
            held.enter_context(index_lock(path))
        for folder in (out, out / "shards", out / "logs"):  # what a killed run was writing when it died
            remove_partial_writes(folder)
        base = _read_json(out / "manifest.json")
        _settle_indexes(plan, base)
        if config.append and base is not None:
            plan = append_plan(plan, base)
            if not plan.tasks:
                on_event(UpToDate(output=str(out)))
                _log_up_to_date(out, plan, "every input is in the manifest already (append)", t0)
                return RunResult(output=out, stats=Stats(), manifest=plan.base, nothing_to_do=True,
                                 seconds=time.perf_counter() - t0)
        complete = plan.work_dir / COMPLETE
        if complete.exists() and (out / "stats.json").exists() and config.train is not None \
                and _train_done(plan) is None and (out / "manifest.json").exists():
            return _train_only(plan, out, on_event, t0)  # the data is done; train: changed since
        if complete.exists() and (out / "stats.json").exists():
            stats = Stats.load(out / "stats.json")
            manifest = _read_json(out / "manifest.json")
            on_event(UpToDate(output=str(out)))
            if config.publish_url and not (plan.work_dir / PUBLISHED).exists():  # an earlier publish broke off
                publish(out, config.publish_url)
                atomic_write_text(plan.work_dir / PUBLISHED, config.publish_url + "\n")
            _log_up_to_date(out, plan, "this configuration and these inputs were run to completion already", t0)
            return RunResult(output=out, stats=stats, manifest=manifest, nothing_to_do=True,
                             seconds=time.perf_counter() - t0)
        if not config.append and not plan.work_dir.exists():
            _remove_earlier_outputs(out)  # another configuration's (or input set's) documents, samples, clusters
        record(out, "_work", folder=True)
        _clear_other_configs(out, plan.work_dir.name)
        compact_ledger(out)
        with _RunLog(out) as run_log:
            log.info("run %s: config %s, %d tasks, output %s", config.name, plan.config_hash, len(plan.tasks), out)
            executor = make_executor(config.executor, workers=workers)
            aborted = True
            try:
                with stop_on_signals():
                    result = _run(plan, executor, on_event, t0, log_file=run_log.path)
                aborted = False
            except BaseException as exc:
                status = "interrupted" if isinstance(exc, (Interrupted, KeyboardInterrupt)) else "failed"
                with contextlib.suppress(OSError):  # a full disk must not hide the error that stopped the run
                    run_log.summary({"status": status, "error": f"{type(exc).__name__}: {exc}",
                                     "seconds": round(time.perf_counter() - t0, 3)})
                raise
            finally:
                executor.close(abort=aborted)
            if config.publish_url:
                on_event(StepStart(f"publish to {config.publish_url}"))
                publish(out, config.publish_url)
                atomic_write_text(plan.work_dir / PUBLISHED, config.publish_url + "\n")
                on_event(StepEnd(f"publish to {config.publish_url}"))
            run_log.summary({"status": "done", "seconds": round(result.seconds, 3), "steps_run": result.steps_run,
                             "warnings": result.warnings + (result.manifest or {}).get("warnings", []),
                             "tokens": (result.manifest or {}).get("tokens"), "train": result.train,
                             "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "config_hash": plan.config_hash,
                             "pipeline": config.raw})
            return result


def _log_up_to_date(out: Path, plan: Plan, why: str, t0: float) -> None:
    """A run with nothing to do (exit 4) still leaves its log line and summary (for cron)."""
    with _RunLog(out) as run_log:
        log.info("run %s: nothing to do (%s); output %s", plan.config.name, why, out)
        run_log.summary({"status": "up_to_date", "why": why, "seconds": round(time.perf_counter() - t0, 3),
                         "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "config_hash": plan.config_hash})


class _RunLog:
    """Each run's log (everything the library logs, workers included) and summary under ``logs/``."""

    def __init__(self, out: Path) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.dir = out / "logs"
        self.path = self.dir / f"run-{stamp}.log"
        self._handler: logging.Handler | None = None

    def __enter__(self) -> "_RunLog":
        record(self.dir.parent, self.dir, folder=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._handler = attach_run_log(self.path)
        return self

    def summary(self, info: dict[str, Any]) -> None:
        text = json.dumps(info, indent=1, default=str) + "\n"
        atomic_write_text(self.path.with_suffix(".summary.json"), text)
        atomic_write_text(self.dir / "last_run.json", text)

    def __exit__(self, *exc: object) -> None:
        if self._handler is not None:
            logging.getLogger("dataforge").removeHandler(self._handler)
            self._handler.close()


def _train_only(plan: Plan, out: Path, on_event: OnEvent, t0: float) -> RunResult:
    """A finished run whose ``train:`` section (or whose shards, for it) changed: train again only."""
    with _RunLog(out) as run_log:
        log.info("run %s: the data is up to date; train: changed, training again", plan.config.name)
        with stop_on_signals():
            summary, steps = _train(plan, on_event)
        result = RunResult(output=out, stats=Stats.load(out / "stats.json"), manifest=_read_json(out / "manifest.json"),
                           steps_run=steps, seconds=time.perf_counter() - t0, nothing_to_do=False, train=summary)
        run_log.summary({"status": "done", "seconds": round(result.seconds, 3), "steps_run": steps, "train": summary,
                         "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "config_hash": plan.config_hash})
        return result


def _run(plan: Plan, executor: Any, on_event: OnEvent, t0: float, *, log_file: Path | None = None) -> RunResult:
    config, out = plan.config, plan.config.output
    run = RunInfo(seed=config.seed, output_dir=out, work_dir=plan.work_dir,
                  sources=[i.name for i in config.inputs], pipeline_name=config.name,
                  log_file=str(log_file) if log_file else None, storage_options=config.storage_options,
                  append=config.append)
    inputs = {i.name: i for i in config.inputs}
    stats = Stats()
    steps = 0
    _number_split_files(plan, executor, on_event)
    barrier_phase: dict[str, Path] = {}
    for phase in plan.phases:
        phase_dir = plan.work_dir / f"phase-{phase.index}"
        prev_dir = plan.work_dir / f"phase-{phase.index - 1}" if phase.index else None
        jobs = [(TaskJob(run=run, phase=phase, task=t, phase_dir=phase_dir,
                         prev_dir=(prev_dir / t.task_id) if prev_dir else None,
                         input=inputs[t.source] if prev_dir is None else None,
                         output="none" if phase.last else "docs"),) for t in plan.tasks]
        steps += _run_tasks(executor, jobs, stats, on_event, phase_dir, f"phase {phase.index}: {phase.describe()}")
        if phase.exit is not None:
            try:
                steps += _reduce(phase.exit, run, executor, plan, phase_dir, stats, on_event)
            except TaskOutputError as exc:
                if not exc.task_dirs:
                    raise  # the damage is in cross-run state (the index): fatal, the message says how to fix
                # a task's side file is corrupt: redo those tasks, then the reduce (once)
                log.warning("%s; redoing %d task(s) of phase %d", exc, len(exc.task_dirs), phase.index)
                redo = {Path(d).name for d in exc.task_dirs}
                for name in redo:
                    remove_quietly(marker(phase_dir / name))
                    remove_quietly(phase_dir / name)
                # their stats were merged already and a redo counts the same documents: not merged again
                steps += _run_tasks(executor, [j for j in jobs if j[0].task.task_id in redo], Stats(), on_event,
                                    phase_dir, f"phase {phase.index}: redo tasks with corrupt side files")
                steps += _reduce(phase.exit, run, executor, plan, phase_dir, stats, on_event)
            barrier_phase[phase.exit.label] = phase_dir

    manifest = None
    if plan.pack is not None:
        manifest, published = publish_shards(plan, stats, on_event)  # shards in place; not listed yet
        steps += published
        _refuse_empty_output(plan, stats, manifest)
        failpoints.reached("published")

    stats.stages = stage_table(plan)
    losses = language_losses(stats.to_dict(), [s.label for s in config.stages], share=config.language_loss_warning,
                             min_docs=LANGUAGE_LOSS_MIN_DOCS)
    stats.notes["language_losses"] = losses
    warnings = [f"{x['stage']} dropped {x['dropped_share']:.0%} of the '{x['lang']}' documents that reached it "
                f"({x['docs_in'] - x['kept']:,} of {x['docs_in']:,}): are its thresholds right for this language? "
                "(per_language: options, or language_loss_warning to change this warning)" for x in losses]
    for w in warnings:
        log.warning("%s", w)
    record(out, "stats.json")
    stats.to_json_file(out / "stats.json")
    if plan.pack is None:
        _refuse_empty_documents(plan, stats)
    # cross-run state, as one transaction with the manifest: each index generation is added
    # pending, the manifest (the commit point) records them, then they are confirmed
    pending: list[tuple[StageSpec, dict[str, Any]]] = []
    for spec in plan.barriers:
        token = spec.cls(spec.params).commit(_reduce_ctx(spec, run, executor, plan, stats, barrier_phase.get(spec.label)))
        if token is not None:
            pending.append((spec, token))
    failpoints.reached("committed")
    if manifest is not None:
        if pending:
            manifest["runs"][-1]["index"] = [t for _, t in pending]
        write_run_manifest(plan, manifest)
        failpoints.reached("manifest")
    for spec, token in pending:
        spec.cls(spec.params).confirm(_reduce_ctx(spec, run, executor, plan, stats, None), token)
    failpoints.reached("confirmed")

    train_summary = None
    if config.train is not None and manifest is not None:
        train_summary, trained = _train(plan, on_event)
        steps += trained
    _drop_heavy_intermediates(plan)
    atomic_write_text(plan.work_dir / COMPLETE, time.strftime("%Y-%m-%dT%H:%M:%S") + "\n")
    failpoints.reached("complete")
    return RunResult(output=out, stats=stats, manifest=manifest, steps_run=steps, seconds=time.perf_counter() - t0,
                     nothing_to_do=steps == 0, train=train_summary, warnings=warnings)


def _index_paths(plan: Plan) -> list[Path]:
    paths = {p.resolve() for b in plan.barriers for p in b.cls(b.params).index_paths()}
    return sorted(paths)


def _settle_indexes(plan: Plan, manifest: dict[str, Any] | None) -> None:
    """Before any work: this output's pending index generations are confirmed when its
    manifest lists them (a run killed after writing its manifest) and dropped otherwise
    (killed before: no manifest describes them)."""
    listed: dict[str, set[str]] = {}
    for run_entry in (manifest or {}).get("runs", []):
        for token in run_entry.get("index", []):
            listed.setdefault(str(token["index"]), set()).add(str(token["run"]))
    owner = str(plan.config.output.resolve())
    for path in _index_paths(plan):
        Generations(path).settle(output=owner, confirmed_runs=listed.get(str(path), set()))


def _culprit(plan: Plan, stats: Stats, fallback: str) -> str:
    """The first stage that dropped every document it saw, as the error names it; raises
    nothing and returns "" when that stage is a dedup with a cross-run ``index:``: every
    document was one an earlier run kept, which is a quiet night in cron, not a failure."""
    for spec in plan.config.stages:
        t = stats.totals(spec.label)
        if t.get("docs_in", 0) > 0 and t.get("docs_out", 0) == 0:
            index = getattr(spec.params, "index", None)
            if spec.cls.barrier and index:
                log.warning("%s: every one of the %d documents that reached it duplicates one an earlier run "
                            "kept (index %s): nothing new to write", spec.label, int(t["docs_in"]), index)
                return ""
            return f"stage {spec.label} (it dropped all {int(t['docs_in']):,} documents it saw)"
    return fallback


def _refuse_all_skipped(plan: Plan, stats: Stats) -> None:
    """No document read because the readers skipped every record: an error with the reasons
    (the records were there; a user must not find an empty output with exit 0)."""
    totals = stats.totals(READ_LABEL)
    if totals.get("docs_out", 0) > 0:
        return
    skipped = {k.removeprefix(SKIPPED): int(v) for k, v in sorted(totals.items()) if k.startswith(SKIPPED) and v}
    if skipped:
        reasons = ", ".join(f"{r} {n:,}" for r, n in skipped.items())
        raise DataforgeError(f"{plan.config.output}: no document was read: the readers skipped every record "
                             f"({reasons}); each is logged as file:line: skipped: reason in "
                             f"{plan.config.output / 'logs'} (reader options such as max_record_bytes decide)")


def _refuse_empty_output(plan: Plan, stats: Stats, manifest: dict[str, Any]) -> None:
    """A run that reads documents and writes no token is an error, naming the stage that removed everything."""
    _refuse_all_skipped(plan, stats)
    tokens = manifest.get("tokens", {})
    read = stats.totals(READ_LABEL).get("docs_out", 0)
    if read == 0 or sum(tokens.values()) > 0:
        return
    culprit = _culprit(plan, stats, "the mixture and packing (too few tokens for one row of seq_len?)")
    if not culprit:
        return
    raise DataforgeError(f"{plan.config.output}: {int(read):,} documents were read but no shard has a token: "
                         f"removed by {culprit}; see {plan.config.output / 'stats.json'} or `dataforge stats`")


def _refuse_empty_documents(plan: Plan, stats: Stats) -> None:
    """A pipeline without tokenize whose write stages got no document from non-empty inputs
    failed at its one job: an error naming the stage that removed everything (stats.json is
    written first, so `dataforge stats` shows the funnel)."""
    writes = [s for s in plan.config.stages if s.name == "write"]
    if writes:
        _refuse_all_skipped(plan, stats)
    read = stats.totals(READ_LABEL).get("docs_out", 0)
    if not writes or read == 0 or any(stats.totals(w.label).get("docs_in", 0) > 0 for w in writes):
        return
    culprit = _culprit(plan, stats, "the stages before it")
    if not culprit:
        return
    raise DataforgeError(f"{plan.config.output}: {int(read):,} documents were read but no document was written: "
                         f"removed by {culprit}; see {plan.config.output / 'stats.json'} or `dataforge stats`")


def stage_table(plan: Plan) -> list[dict[str, Any]]:
    """What each stats label is (the ``stages`` table of stats.json), in pipeline order."""
    rows = [stage_row(READ_LABEL, "read", "reader", READ_LABEL)]
    extra = {b.label: b for b in plan.barriers if b.label not in {s.label for s in plan.config.stages}}
    for spec in plan.config.stages:
        for b in [x for x in extra.values() if x.label.startswith(f"{spec.label}.")]:
            rows.append(stage_row(b.label, b.name, "tokenizer", safe_name(b.label)))
        if spec.name in ("mix", "tokenize"):
            kind = spec.name
        elif spec.cls.barrier:
            kind = "barrier"
        elif issubclass(spec.cls, Filter):
            kind = "filter"
        else:
            kind = "stage"
        rows.append(stage_row(spec.label, spec.name, kind, safe_name(spec.label), spec.sources))
    if plan.pack is not None:
        rows.append(stage_row(PACK_LABEL, "pack", "pack", PACK_LABEL))
    return rows


def _number_split_files(plan: Plan, executor: Any, on_event: OnEvent) -> None:
    """The parts of a split file learn their first record numbers (for ids and messages):
    each part counts its records in a worker, the driver adds up (cached for a resume)."""
    todo = [t for t in plan.tasks if t.span.parts > 1]
    if not todo:
        return
    cache = plan.work_dir / "spans.json"
    if cache.exists():
        counts = json.loads(cache.read_text())
    else:
        inputs = {i.name: i for i in plan.config.inputs}
        on_event(StepStart(f"count records in {len(todo)} parts of split files"))
        results = executor.map(count_part, [(inputs[t.source], t.path, t.span) for t in todo])
        counts = {t.task_id: n for t, n in zip(todo, results)}
        atomic_write_text(cache, json.dumps(counts, sort_keys=True))
        on_event(StepEnd(f"count records in {len(todo)} parts of split files"))
    number_tasks(plan, counts)


TRAIN_DONE = "train.json"


def _train_key(plan: Plan) -> str:
    """What a finished ``train:`` step depends on: its settings and the shards (their sha256s).
    ``train:`` does not shape the output, so it is not in the config hash; this key is."""
    manifest = _read_json(plan.config.output / "manifest.json") or {}
    shards = [(s.get("path"), s.get("sha256")) for s in manifest.get("shards", []) if isinstance(s, dict)]
    blob = json.dumps({"train": plan.config.train.model_dump(mode="json"), "shards": shards}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _train_done(plan: Plan) -> dict[str, Any] | None:
    """The summary of the training these settings and shards had already, else None."""
    done = _read_json(plan.work_dir / TRAIN_DONE)
    if isinstance(done, dict) and done.get("key") == _train_key(plan) and isinstance(done.get("summary"), dict):
        return done["summary"]
    return None


def _train(plan: Plan, on_event: OnEvent) -> tuple[dict[str, Any], int]:
    """The pipeline's ``train:`` section: prove the shards train. Runs again when its settings or
    the shards changed since the last training (a new training in ``train/``, the old run's files
    removed); a killed training resumes where its checkpoint is."""
    done = _train_done(plan)
    if done is not None:
        return done, 0
    on_event(StepStart("train on the shards"))
    # "auto": continue a checkpoint of these settings and shards, else start afresh
    summary = run_training(plan.config.train, shards=plan.config.output, output=plan.config.output / "train",
                           resume="auto")
    atomic_write_text(plan.work_dir / TRAIN_DONE,
                      json.dumps({"key": _train_key(plan), "summary": summary}, indent=1, default=str) + "\n")
    on_event(StepEnd("train on the shards"))
    return summary, 1


def _run_tasks(executor: Any, jobs: list[tuple[TaskJob]], stats: Stats, on_event: OnEvent, phase_dir: Path,
               title: str) -> int:
    todo = [j for j in jobs if not is_done(phase_dir / j[0].task.task_id)]
    for j in jobs:
        if is_done(phase_dir / j[0].task.task_id):
            stats.merge(Stats.load(phase_dir / j[0].task.task_id / STATS_FILE))
        else:
            clear_stale(phase_dir / j[0].task.task_id)
    on_event(PhaseStart(title=title, total=len(jobs), done=len(jobs) - len(todo)))

    def done(i: int, result: dict[str, Any]) -> None:
        stats.merge_dict(result)
        on_event(TaskDone(title=title, task=todo[i][0].task.task_id))

    executor.map(run_task, todo, on_done=done)
    on_event(PhaseEnd(title=title))
    return len(todo)


def _reduce_ctx(spec: StageSpec, run: RunInfo, executor: Any, plan: Plan, stats: Stats,
                phase_dir: Path | None, barrier_dir: Path | None = None, publish: Path | None = None) -> ReduceContext:
    task_dirs = [phase_dir / t.task_id for t in plan.tasks] if phase_dir else []
    bdir = barrier_dir or plan.work_dir / "barriers" / safe_name(spec.label)
    return ReduceContext(run=run, label=spec.label, stats=stats, task_dirs=task_dirs, barrier_dir=bdir,
                         executor=executor, publish_dir=publish or bdir / "publish")


def _reduce(spec: StageSpec, run: RunInfo, executor: Any, plan: Plan, phase_dir: Path, stats: Stats,
            on_event: OnEvent) -> int:
    final = plan.work_dir / "barriers" / safe_name(spec.label)
    if is_done(final):
        if (final / STATS_FILE).exists():
            stats.merge(Stats.load(final / STATS_FILE))
        return 0
    clear_stale(final)
    tmp = fresh_tmp_dir(final)
    own = Stats()
    on_event(StepStart(f"{spec.label}: reduce"))
    ctx = _reduce_ctx(spec, run, executor, plan, own, phase_dir, barrier_dir=tmp, publish=tmp / "publish")
    spec.cls(spec.params).reduce(ctx)
    own.to_json_file(tmp / STATS_FILE)
    commit_dir(tmp, final, output_dir=plan.config.output, info={"barrier": spec.label})
    stats.merge(own)
    on_event(StepEnd(f"{spec.label}: reduce"))
    return 1


#: what an earlier configuration's run leaves that a recompute replaces at its end (the
#: published shards stay readable until the new manifest is written) or keeps (logs)
_KEPT_UNTIL_REPLACED = ("shards", "manifest.json", "tokenizer.json", "logs", "_work", "train")


def _remove_earlier_outputs(out: Path) -> None:
    """A recompute starts clean: what earlier runs of another configuration published
    (documents/, rejected/, dedup/, ...; only what the ledger says a run wrote) is removed."""
    files, folders = recorded(out)
    tops = sorted({p.split("/", 1)[0] for p in files} | {f.split("/", 1)[0] for f in folders})
    for top in tops:
        if top not in _KEPT_UNTIL_REPLACED:
            remove_recorded(out, top)


def _clear_other_configs(out: Path, keep: str) -> None:
    """Work folders of other configurations cannot be resumed into this one."""
    work = out / "_work"
    if work.is_dir():
        for d in sorted(work.iterdir()):
            if d.name != keep:
                remove_recorded(out, d)


def _drop_heavy_intermediates(plan: Plan) -> None:
    """After success keep markers, stats and small results, not the documents and tokens
    between phases, nor the shuffle's scatter files."""
    for phase_dir in plan.work_dir.glob("phase-*"):
        for path in phase_dir.glob("*/*"):
            if path.is_file() and path.name == "docs.parquet":
                path.unlink()
        for path in phase_dir.glob("*/*/*"):
            if path.is_file() and path.name in ("tokens.bin", "index.parquet", "tokenizer_sample.parquet"):
                path.unlink()
    for steps in plan.work_dir.glob("barriers/*.steps"):
        for name in ("scatter", "shards"):
            remove_quietly(steps / name)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
