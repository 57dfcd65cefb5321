"""Build every variant through the normal runner, train each with the same seeds and budget, score, compare.

Layout of an ablation output (claimed and locked as an ``ablate`` output)::

    variants/<name>/              the variant's pipeline output (the runner's: claimed, locked, resumable)
    runs/<name>/<tag>/seed-<s>/   one training run (the trainer's: claimed, locked, resumable); <tag>
                                  hashes its settings but the seed, and its shards
    results.json                  every run's metrics, the table, the budget (results.py)
    report.html                   the table and the loss curves (page.py)

What is shared: a rerun reuses every finished variant (the runner skips a configuration it
finished) and every finished training (``ablate-run.json`` in the run folder records the
settings and the shards' sha256s it was trained with). What is not shared: two variants are
two pipeline outputs, so the phases they have in common (reading, the stages before the first
difference) run once per variant.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import logging
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import api
from ..errors import ConfigError, DataforgeError, Problem
from ..io import atomic_write_text
from ..outputs import OutputDir, check_claimable, record
from ..train import TrainConfig, check_train_config, run_training
from .page import write_page
from .results import assemble, write_results
from .settings import MAX_AUTO_STEPS, AblateSettings, train_config
from .variants import Variant

log = logging.getLogger(__name__)

RUN_MARKER = "ablate-run.json"


@dataclass
class Plan:
    """An ablation, checked whole before any work."""

    pipeline: str
    output: Path
    settings: AblateSettings
    variants: list[Variant]
    baseline: str
    configs: dict[str, Any] = field(default_factory=dict)  # variant -> validated PipelineConfig


def default_output(pipeline_output: Path) -> Path:
    return pipeline_output / "ablate"


def make_plan(pipeline: str, raw: dict[str, Any], settings: AblateSettings, variants: list[Variant]) -> Plan:
    """Every variant validated as a pipeline (into its own output) and the baseline resolved."""
    names = [v.name for v in variants]
    baseline = settings.baseline or ("full" if "full" in names else names[0])
    if baseline not in names:
        raise ConfigError([Problem(pipeline, None, "ablate.baseline",
                                   f"'{baseline}' is not a variant (variants: {', '.join(names)})")])
    base_cfg = api.load(raw)
    output = Path(settings.output) if settings.output else default_output(base_cfg.output)
    plan = Plan(pipeline=pipeline, output=output, settings=settings, variants=variants, baseline=baseline)
    problems: list[Problem] = []
    for v in variants:
        try:
            plan.configs[v.name] = api.load(v.raw, output=str(output / "variants" / v.name))
        except ConfigError as exc:
            problems += [Problem(pipeline, None, f"variant {v.name}: {p.key}".rstrip(": "), p.message)
                         for p in exc.problems]
    if problems:
        raise ConfigError(problems)

    issues = check_train_config(train_config(settings, steps=1, seed=settings.base_seed, path=pipeline))
    if issues:
        raise ConfigError([Problem(pipeline, None, f"ablate.train.{k}".rstrip("."), m) for k, m in issues])
    if output.resolve() == base_cfg.output.resolve():
        raise ConfigError(f"{output}: choose an ablation output that is not the pipeline's own output folder")
    if settings.output is None:  # the default lives inside the pipeline's output: that must be a pipeline's
        check_claimable(output.parent, "pipeline")
    check_claimable(output, "ablate")
    return plan


def _claim_parent(plan: Plan) -> None:
    """The default output lives in the pipeline's output: claim that as a pipeline output first, so a
    later ``dataforge run`` of the pipeline still accepts its folder."""
    parent = plan.output.parent
    if plan.settings.output is None and not parent.exists():
        with OutputDir(parent, kind="pipeline"):
            pass


def build_variants(plan: Plan, *, workers: int | None, on_progress: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Each variant's shards, built (or found finished) by the normal runner."""
    built: dict[str, dict[str, Any]] = {}
    for v in plan.variants:
        t0 = time.perf_counter()
        on_progress(f"building variant {v.name} ({v.edit})")
        result = api.run(plan.configs[v.name], workers=workers)
        out = plan.output / "variants" / v.name
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        tokens = int((manifest.get("tokens") or {}).get("train") or 0)
        if tokens <= 0:
            raise DataforgeError(f"variant {v.name}: {out} has no train tokens (every document was dropped?); "
                                 "drop or change this variant")
        built[v.name] = {"shards": out, "train_tokens": tokens, "reused": bool(result.nothing_to_do),
                         "seconds": round(time.perf_counter() - t0, 2),
                         "seq_len": int(manifest.get("seq_len") or 0), "fingerprint": _fingerprint(manifest)}
    return built


def _fingerprint(manifest: dict[str, Any]) -> str:
    blob = json.dumps(sorted((s.get("path"), s.get("sha256")) for s in manifest.get("shards") or []))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def choose_steps(plan: Plan, built: dict[str, dict[str, Any]]) -> tuple[int, int, str]:
    """(steps, tokens per step, how): the given steps, else one pass over the smallest variant
    (at most MAX_AUTO_STEPS): the same tokens for every run, none more than an epoch's worth."""
    cfg = train_config(plan.settings, steps=1, seed=plan.settings.base_seed, path=plan.pipeline)
    seq_len = cfg.seq_len or min(b["seq_len"] for b in built.values())
    per_step = cfg.batch_size * cfg.grad_accum * seq_len
    if plan.settings.train.get("steps") is not None:
        return int(plan.settings.train["steps"]), per_step, "given"
    smallest = min(b["train_tokens"] for b in built.values())
    return max(1, min(MAX_AUTO_STEPS, smallest // per_step)), per_step, "auto"


def _run_key(config: dict[str, Any], fingerprint: str) -> str:
    return hashlib.sha256(json.dumps({"train": config, "shards": fingerprint}, sort_keys=True).encode()).hexdigest()[:16]


def _train_one(config_json: str, shards: str, output: str, key: str) -> dict[str, Any]:
    """One training run (in a worker process); its marker last, so a killed run is redone."""
    config = TrainConfig.model_validate_json(config_json)
    t0 = time.perf_counter()
    summary = run_training(config, shards=Path(shards), output=Path(output), resume="auto")
    seconds = round(time.perf_counter() - t0, 2)
    keep = {k: summary.get(k) for k in ("steps", "train_loss", "eval_loss", "eval_sets", "tokens_per_s", "mfu",
                                        "tokens_seen", "params")}
    record(output, RUN_MARKER)
    atomic_write_text(Path(output) / RUN_MARKER, json.dumps({"key": key, "seconds": seconds, "summary": keep},
                                                            indent=1) + "\n")
    return {"seconds": seconds, "summary": keep, "reused": False}


def _finished(output: Path, key: str) -> dict[str, Any] | None:
    try:
        data = json.loads((output / RUN_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    return {"seconds": data.get("seconds"), "summary": data.get("summary") or {}, "reused": True}


def train_all(plan: Plan, built: dict[str, dict[str, Any]], *, steps: int,
              on_progress: Callable[[str], None]) -> dict[str, list[dict[str, Any]]]:
    """Every (variant, seed) run, ``jobs`` at a time in separate processes; finished ones reused."""
    s = plan.settings
    todo: list[tuple[str, int, Path, str, str]] = []
    runs: dict[str, list[dict[str, Any]]] = {v.name: [] for v in plan.variants}
    for v in plan.variants:
        for i in range(s.seeds):
            seed = s.base_seed + i
            cfg = train_config(s, steps=steps, seed=seed, path=plan.pipeline)
            # one folder per (settings, shards): a run is only ever continued with exactly its own
            # settings (a killed run), never stretched to new steps, so every schedule is a fresh one
            shared = {k: v for k, v in cfg.model_dump(mode="json").items() if k != "seed"}
            tag = _run_key(shared, built[v.name]["fingerprint"])[:8]
            out = plan.output / "runs" / v.name / tag / f"seed-{seed}"
            key = _run_key(cfg.model_dump(mode="json"), built[v.name]["fingerprint"])
            done = _finished(out, key)
            entry = {"seed": seed, "dir": str(out.relative_to(plan.output))}
            if done is not None:
                runs[v.name].append({**entry, **done})
            else:
                runs[v.name].append(entry)
                todo.append((v.name, seed, out, cfg.model_dump_json(), key))
    if todo:
        on_progress(f"training {len(todo)} run{'s' if len(todo) != 1 else ''}, {s.jobs} at a time ({steps} steps each)")
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: torch threads set per run, no forked state
    with cf.ProcessPoolExecutor(max_workers=min(s.jobs, max(1, len(todo))), mp_context=ctx) as pool:
        futures = {pool.submit(_train_one, cfg, str(built[name]["shards"]), str(out), key): (name, seed)
                   for name, seed, out, cfg, key in todo}
        for fut in cf.as_completed(futures):
            name, seed = futures[fut]
            try:
                result = fut.result()
            except BaseException as exc:  # the runs not started yet are not started; finished ones stay
                for f in futures:
                    f.cancel()
                if isinstance(exc, DataforgeError):
                    err = DataforgeError(f"variant {name}, seed {seed}: {exc} (finished runs are kept; "
                                         "fix it and rerun to train only the rest)")
                    err.exit_code = exc.exit_code
                    raise err from exc
                raise
            slot = next(r for r in runs[name] if r["seed"] == seed)
            slot.update(result)
            on_progress(f"trained {name} seed {seed} in {result['seconds']:.0f} s")
    for v in plan.variants:
        runs[v.name].sort(key=lambda r: r["seed"])
    return runs


def ablate(plan: Plan, *, workers: int | None = None,
           on_progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole ablation under the output's lock; returns (and writes) the results."""
    say = on_progress or (lambda msg: log.info("%s", msg))
    t0 = time.perf_counter()
    _claim_parent(plan)
    with OutputDir(plan.output, kind="ablate") as out:
        record(plan.output, "variants", "runs", folder=True)
        out.record("results.json", "report.html")
        built = build_variants(plan, workers=workers, on_progress=say)
        t1 = time.perf_counter()
        steps, per_step, how = choose_steps(plan, built)
        runs = train_all(plan, built, steps=steps, on_progress=say)
        t2 = time.perf_counter()
        results = assemble(plan, built, runs, steps=steps, tokens_per_step=per_step, steps_from=how,
                           seconds={"build": round(t1 - t0, 2), "train": round(t2 - t1, 2),
                                    "total": round(time.perf_counter() - t0, 2)})
        write_results(plan.output, results)
        write_page(plan.output, results)
    return results
