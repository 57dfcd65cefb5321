"""The final phase's driver steps: train the run's tokenizer, then mix + pack + manifest."""

from __future__ import annotations

import json
import logging
import platform
import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from ..io import atomic_write, checksum, sha256_file
from ..stats import Stats
from ..tokenize.encode import load_tokenizer, train_tokenizer, vocab_size
from ..tokenize.pack import pack
from ..tokenize.shards import MANIFEST, ShardError, ShardInfo, ShardSpec, manifest_core, write_manifest
from .docstore import read_docs
from .plan import Plan, TaskSpec
from .state import clear_stale, commit_dir, fresh_tmp_dir, is_done
from .task import DOCS_FILE, INPUT_FILE

log = logging.getLogger(__name__)

PACK_LABEL = "pack"
VERSIONED = ("dataforge", "tokenizers", "pyarrow", "numpy", "fastwarc", "resiliparse", "trafilatura",
             "datasketch", "fasttext-community", "xxhash")


def train_run_tokenizer(plan: Plan, docs_dir: Path, on_event: Callable[..., None]) -> tuple[str, int]:
    """Train a BPE on the kept documents (task order); returns (tokenizer path, steps run)."""
    tok = plan.tokenize
    assert tok is not None and tok.params.train is not None
    final = plan.work_dir / "tokenizer"
    path = final / "tokenizer.json"
    if is_done(final):
        return str(path), 0
    clear_stale(final)
    tmp = fresh_tmp_dir(final)
    limit = tok.params.train.max_docs
    on_event("reduce_start", title="train tokenizer")

    def texts() -> Any:
        n = 0
        for t in plan.tasks:
            for doc in read_docs(docs_dir / t.task_id / DOCS_FILE):
                if limit is not None and n >= limit:
                    return
                n += 1
                yield doc.text

    train_tokenizer(texts(), params=tok.params.train, eos=tok.params.eos, out_path=tmp / "tokenizer.json")
    commit_dir(tmp, final, output_dir=plan.config.output)
    on_event("reduce_end", title="train tokenizer")
    return str(path), 1


def finalize_tokens(plan: Plan, enc_dir: Path, tokenizer_path: str, stats: Stats,
                    on_event: Callable[..., None]) -> tuple[dict[str, Any], int]:
    """Mixture plan, packing, shards and manifest (the last step; the manifest is written last)."""
    out = plan.config.output
    tok_spec = plan.tokenize
    assert tok_spec is not None
    params = tok_spec.params
    final = plan.work_dir / "pack"
    if is_done(final) and (out / MANIFEST).exists():
        stats.merge(Stats.load(final / "stats.json"))
        return json.loads((out / MANIFEST).read_text()), 0
    clear_stale(final)
    tmp = fresh_tmp_dir(final)
    on_event("reduce_start", title="mix + pack shards")
    started = time.perf_counter()
    tokenizer = load_tokenizer(tokenizer_path)
    eos = tokenizer.token_to_id(params.eos)
    tok_sha = sha256_file(tokenizer_path)
    spec = ShardSpec(kind="pretrain", seq_len=params.seq_len, vocab_size=vocab_size(tokenizer), eos_id=eos,
                     pad_id=eos, tokenizer_sha256=tok_sha, packing=params.packing)
    task_dirs = [enc_dir / t.task_id for t in plan.tasks]

    from ..mix import plan_mixture  # the mixture plan needs the per-source token counts

    mix = plan_mixture(plan, task_dirs, dtype=spec.dtype, validation_fraction=params.validation_fraction)
    own = Stats()
    shard_dir = out / "shards"
    base = plan.base
    start = {split: sum(1 for s in (base or {}).get("shards", []) if s["split"] == split)
             for split in ("train", "validation")}
    result = pack(task_dirs, spec=spec, params=params, seed=plan.config.seed, shard_dir=shard_dir,
                  scratch=tmp / "shuffle", total_rows_hint=mix.total_tokens // params.seq_len + 1,
                  select=mix.selector(eos), start_index=start)
    for source, counts in result.per_source.items():
        for key, n in counts.items():
            own.add(PACK_LABEL, source, key, n)
    for split, n in result.dropped_tail.items():
        own.add(PACK_LABEL, "*", f"{split}_tokens_dropped_tail", n)
    own.add(PACK_LABEL, "*", "tokens_truncated", result.truncated_tokens)
    own.add(PACK_LABEL, "*", "seconds", time.perf_counter() - started)
    own.to_json_file(tmp / "stats.json")
    stats.merge(own)

    with atomic_write(out / "tokenizer.json", "wb") as fh, open(tokenizer_path, "rb") as src:
        shutil.copyfileobj(src, fh)
    run_inputs = [{"source": t.source, "path": t.path, "bytes": t.size, "version": t.version,
                   "checksum": _input_checksum(plan, t)} for t in plan.tasks]
    this_run = {"inputs": len(run_inputs), "sources": mix.report(result.per_source),
                "shards": [s.path for s in result.shards], "tokens_dropped_tail": result.dropped_tail}
    if base is not None and base.get("tokenizer", {}).get("sha256") != tok_sha:
        raise ShardError(f"{out}: its shards were made with tokenizer {base['tokenizer']['sha256'][:12]}, "
                         f"this run's is {tok_sha[:12]}; appending would mix vocabularies")
    shards = [ShardInfo(**s) for s in (base or {}).get("shards", [])] + result.shards
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
        "tokens_dropped_tail": result.dropped_tail,
        "validation_fraction": params.validation_fraction,
        "shuffle": params.shuffle,
    })
    if mix.warnings:
        manifest["warnings"] = mix.warnings
        for w in mix.warnings:
            log.warning("%s", w)
    write_manifest(out, manifest)
    listed = {s.path for s in shards}
    for stale in shard_dir.glob("*.arrow"):
        if stale.name not in listed:
            stale.unlink()
    shutil.rmtree(tmp / "shuffle", ignore_errors=True)
    commit_dir(tmp, final, output_dir=out)
    on_event("reduce_end", title="mix + pack shards")
    return manifest, 1


def _input_checksum(plan: Plan, task: TaskSpec) -> str:
    """Taken by the task in phase 0; read again only for a task committed without it."""
    recorded = plan.work_dir / "phase-0" / task.task_id / INPUT_FILE
    if recorded.exists():
        return json.loads(recorded.read_text())["checksum"]
    return checksum(task.path)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
