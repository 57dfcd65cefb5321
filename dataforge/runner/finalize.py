"""The run's last driver step: publish the tokenize barrier's shards and write the manifest.

The gather tasks wrote every shard under the barrier's work folder. Publishing moves
them into ``shards/`` (each recorded in the output's ledger first) and writes
``manifest.json`` last, atomically. A recompute over an output whose manifest lists
shards of the same names first withdraws that manifest (moved into the work folder), so
a reader never sees an old manifest over new shards; a killed publish is redone by the
next run. Shards no manifest lists any more are removed (only those the ledger says a
run wrote). Everything here grows with the number of tasks and shards, not tokens.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

from ..io import atomic_write, atomic_write_text, checksum, fsync_dir
from ..mix import MixPlan
from ..outputs import record, recorded, remove_recorded
from ..stage import safe_name
from ..stats import Stats
from ..tokenize.shards import MANIFEST, ShardError, ShardInfo, ShardSpec, manifest_core, write_manifest
from ..tokenize.stage import RESULT
from .events import OnEvent, StepEnd, StepStart
from .plan import Plan, TaskSpec
from .task import INPUT_FILE

log = logging.getLogger(__name__)

PUBLISHED = "PUBLISHED_SHARDS"
VERSIONED = ("dataforge", "tokenizers", "pyarrow", "numpy", "fastwarc", "resiliparse", "trafilatura",
             "datasketch", "fasttext-community", "xxhash")


def publish_shards(plan: Plan, stats: Stats, on_event: OnEvent) -> tuple[dict[str, Any], int]:
    """Move the shards into place and write the manifest; returns (manifest, steps run)."""
    out = plan.config.output
    pack = plan.pack
    assert pack is not None
    done = plan.work_dir / PUBLISHED
    if done.exists() and (out / MANIFEST).exists():
        return json.loads((out / MANIFEST).read_text()), 0
    result = json.loads((plan.work_dir / "barriers" / safe_name(pack.label) / RESULT).read_text())
    on_event(StepStart("publish shards"))
    spec_json = {k: v for k, v in result["spec"].items() if k != "dtype"}
    spec = ShardSpec(**spec_json)
    base = plan.base
    if base is not None and base.get("tokenizer", {}).get("sha256") != spec.tokenizer_sha256:
        raise ShardError(f"{out}: its shards were made with tokenizer {base['tokenizer']['sha256'][:12]}, "
                         f"this run's is {spec.tokenizer_sha256[:12]}; appending would mix vocabularies")
    new = [ShardInfo(**s) for s in result["shards"]]
    shard_dir = out / "shards"
    current = _read(out / MANIFEST)
    names = {s.path for s in new}
    if base is None and current is not None and names & {s["path"] for s in current.get("shards", [])}:
        withdrawn = plan.work_dir / "previous-manifest.json"
        os.replace(out / MANIFEST, withdrawn)  # no manifest = no shards, while they are replaced
        log.info("%s: the earlier manifest was withdrawn while its shards are replaced (kept as %s)", out, withdrawn)
    shard_dir.mkdir(parents=True, exist_ok=True)
    record(out, *(f"shards/{s.path}" for s in new))
    src_dir = Path(result["shard_dir"])
    for s in new:
        src = src_dir / s.path
        if src.exists():
            os.replace(src, shard_dir / s.path)
        elif not (shard_dir / s.path).exists():
            raise ShardError(f"{src}: shard missing before publishing; rerun to redo the tokenize step")
    fsync_dir(shard_dir)
    record(out, "tokenizer.json")
    with atomic_write(out / "tokenizer.json", "wb") as fh, open(_tokenizer(plan), "rb") as tok_src:
        shutil.copyfileobj(tok_src, fh)
    on_event(StepEnd("publish shards"))
    return _manifest(plan, spec, new, result), 1


def write_run_manifest(plan: Plan, manifest: dict[str, Any]) -> None:
    """The run's commit point: the manifest, atomically; then shards no manifest lists go."""
    out = plan.config.output
    if (plan.work_dir / PUBLISHED).exists() and (out / MANIFEST).exists():
        return
    record(out, MANIFEST)
    write_manifest(out, manifest)
    listed = {s["path"] for s in manifest["shards"]}
    files, _ = recorded(out)
    for rel in sorted(f for f in files if f.startswith("shards/") and f.split("/", 1)[1] not in listed):
        remove_recorded(out, rel)
    atomic_write_text(plan.work_dir / PUBLISHED, "published\n")


def _tokenizer(plan: Plan) -> str:
    return plan.pack_spec().tokenizer_path


def _manifest(plan: Plan, spec: ShardSpec, new: list[ShardInfo], result: dict[str, Any]) -> dict[str, Any]:
    base = plan.base
    mix = MixPlan.from_json(result["mix"])
    params = plan.pack_spec().tokenize
    run_inputs = [{"source": t.source, "path": t.path, "bytes": t.size, "version": t.version,
                   "checksum": _input_checksum(plan, t)} for t in plan.tasks if t.first_part]
    this_run = {"inputs": len(run_inputs), "sources": mix.report(result["per_source"]),
                "shards": [s.path for s in new], "tokens_dropped_tail": result["dropped_tail"]}
    shards = [ShardInfo(**s) for s in (base or {}).get("shards", [])] + new
    manifest = manifest_core(spec, shards)
    manifest.update({
        "name": plan.config.name,
        "config_hash": plan.config_hash,
        # the pipeline file as written (for `dataforge report` and for a person asking "how was this made")
        "pipeline": json.loads(json.dumps(plan.config.raw, default=str)),
        "seed": plan.config.seed,
        "versions": _versions(),
        "inputs": (base or {}).get("inputs", []) + run_inputs,
        "sources": this_run["sources"],
        "runs": (base or {}).get("runs", []) + [this_run],
        "tokens": {split: sum(s.tokens for s in shards if s.split == split) for split in ("train", "validation")},
        "tokens_dropped_tail": result["dropped_tail"],
        "validation_fraction": params.validation_fraction,
        "shuffle": params.shuffle,
    })
    if mix.warnings:
        manifest["warnings"] = mix.warnings
        for w in mix.warnings:
            log.warning("%s", w)
    return manifest


def _input_checksum(plan: Plan, task: TaskSpec) -> str:
    """Taken by the file's first task in phase 0; read again only for a task committed without it."""
    recorded_file = plan.work_dir / "phase-0" / task.task_id / INPUT_FILE
    if recorded_file.exists():
        return json.loads(recorded_file.read_text())["checksum"]
    return checksum(task.path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
