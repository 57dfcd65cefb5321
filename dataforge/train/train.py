"""The training loop: set up (fresh or from a checkpoint), step, evaluate, checkpoint, report.

One step (nanoGPT / llm.c): ``grad_accum`` micro-batches, the loss of each divided by the
counted targets of *all* of them; backward (through the GradScaler for fp16); unscale; clip
the global norm; a non-finite loss or gradient norm stops the run before anything is saved;
set the lr (warmup, then cosine); optimizer step. Batches are a pure function of (seed, step),
so a checkpoint's step is the whole data cursor and a resumed run continues exactly.

``train`` owns the run folder: it is claimed and locked (``OutputDir(kind="train")``), every
file is recorded in its ledger before it is written, and a fresh start removes only recorded
files.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch

from ..errors import ConfigError, Problem
from ..io import atomic_write, atomic_write_text, remove_partial_writes
from ..outputs import OutputDir
from .checkpoint import (
    CHECKPOINT,
    METRICS,
    RUN_FILES,
    RUN_INFO,
    SUMMARY,
    TOKENIZER,
    build_model,
    load_checkpoint,
    load_tokenizer,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .config import TrainConfig, TrainError, config_changes
from .data import Batch, ShardData, eval_batches, load_data, train_batch
from .device import Precision, resolve_device, set_threads, to_device
from .evalsets import EvalSet, eval_sets_from
from .evaluate import GPTScorer, evaluate
from .events import Checkpointed, EvalSetsScored, Evaluated, Event, MetricsLog, RunStarted, TrainStep
from .loss import summed_loss
from .model import GPTConfig, param_groups
from .settings import check_train_config
from .throughput import StepTimer, flops_per_token, measured_peak

log = logging.getLogger(__name__)

Resume = bool | Literal["auto"]
#: losses averaged into a summary's train_loss
RECENT = 10


def lr_at(step: int, *, peak: float, warmup: int, total: int, min_ratio: float) -> float:
    """Learning rate for 0-based ``step``: linear warmup lr*(step+1)/warmup, then cosine to lr*min_ratio (nanoGPT)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    span = max(total - warmup, 1)
    progress = min((step - warmup) / span, 1.0)
    floor = peak * min_ratio
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - floor)


def model_vocab(config: TrainConfig, shard_vocab: int) -> int:
    """The model's vocabulary: as configured, else the shards' rounded up to a multiple of 64."""
    return config.vocab_size if config.vocab_size is not None else 64 * -(-shard_vocab // 64)


def accumulate(loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], micro: list[Batch], *,
               precision: Precision) -> torch.Tensor:
    """Backward through every micro-batch; the loss is averaged over the counted targets of *all* of them
    (llm.c), so grad accumulation equals one big batch however the mask splits. Returns that loss."""
    counted = max(sum(b.targets for b in micro), 1)
    total = torch.zeros((), device=precision.device)
    for batch in micro:
        x, y = to_device(batch, precision.device)
        with precision.autocast():
            loss = loss_fn(x, y) / counted
        precision.scaler.scale(loss).backward()
        total += loss.detach()
    return total


class Trainer:
    """A model, its optimizer and its data, at some step."""

    def __init__(self, config: TrainConfig, data: ShardData, *, output: Path, ckpt: dict[str, Any] | None,
                 device: torch.device) -> None:
        self.config, self.data, self.output, self.device = config, data, output, device
        self.precision = Precision.for_run(config, device)
        if ckpt is not None:
            model_cfg = dict(ckpt["model_config"])
        else:
            context = config.seq_len or data.seq_len
            model_cfg = GPTConfig.from_size(config.size, vocab_size=model_vocab(config, data.vocab_size),
                                            context=context, dropout=config.dropout).to_dict()
        data.check_vocab(int(model_cfg["vocab_size"]))
        torch.manual_seed(config.seed)
        self.model = build_model(model_cfg, device, where=output / CHECKPOINT)
        self.model_cfg = model_cfg
        self.optimizer = torch.optim.AdamW(param_groups(self.model, config.weight_decay), lr=config.peak_lr,
                                           betas=(config.beta1, config.beta2),
                                           fused=device.type in ("cpu", "cuda") or None)
        self.step, self.lr, self.recent = 0, 0.0, list[float]()
        if ckpt is not None:
            try:
                self.model.load_state_dict(ckpt["model"])
                self.optimizer.load_state_dict(ckpt["optimizer"])
                if ckpt.get("scaler"):
                    self.precision.scaler.load_state_dict(ckpt["scaler"])
                set_rng_state(ckpt["rng"], device)
            except (RuntimeError, KeyError, ValueError, TypeError) as exc:
                raise TrainError(f"{output / CHECKPOINT}: the saved state does not fit this run ({str(exc)[:300]}); "
                                 "start a new --output") from None
            self.step = ckpt["step"]
            self.recent = [float(v) for v in ckpt.get("recent", [])]
        # deferred compile: torch.compile of the blocks (the chunked head is already one fused pass)
        self.hidden = torch.compile(self.model.hidden) if config.compile else self.model.hidden
        window = config.seq_len or data.seq_len
        self.flops_per_token = flops_per_token(config.size, vocab=int(model_cfg["vocab_size"]),
                                               context=min(window, int(model_cfg["context"])))
        self.eval_set = ([to_device(b, device) for b in eval_batches(
            data.eval, batches=config.eval_batches, batch_size=config.batch_size)] if data.eval is not None else [])
        self.params = self.model.num_params()

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return summed_loss(self.hidden(x), self.model.head.weight, y)

    def train_step(self, timer: StepTimer) -> tuple[float, float]:
        """One optimizer step over grad_accum micro-batches; returns (loss per counted target, grad norm)."""
        cfg, scaler = self.config, self.precision.scaler
        timer.start()
        micro = [train_batch(self.data.train, self.step * cfg.grad_accum + m, batch_size=cfg.batch_size,
                             seed=cfg.seed, sampling=cfg.sampling) for m in range(cfg.grad_accum)]
        timer.data_done(tokens=sum(b.x.size for b in micro))
        total = accumulate(self.loss, micro, precision=self.precision)
        scaler.unscale_(self.optimizer)  # clip (and check) the true gradients, not the loss-scaled ones
        norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip or math.inf))
        value = float(total)  # syncs the device, so the timer sees the whole step
        if not math.isfinite(value) or (not scaler.is_enabled() and not math.isfinite(norm)):
            what, got = ("loss", value) if not math.isfinite(value) else ("gradient norm", norm)
            kept = "the last checkpoint is from before it" if (self.output / CHECKPOINT).exists() else "nothing was saved"
            raise TrainError(f"step {self.step + 1}: the {what} is {got} (not finite); training stopped and {kept}. "
                             f"Lower the learning rate (lr {cfg.peak_lr:g}), clip gradients (grad_clip), or check the data")
        lr = lr_at(self.step, peak=cfg.peak_lr, warmup=cfg.warmup, total=cfg.steps, min_ratio=cfg.min_lr_ratio)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        scaler.step(self.optimizer)  # fp16: skipped when the scaled gradients overflowed
        scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        timer.step_done()
        self.lr = lr
        self.recent = (self.recent + [value])[-RECENT:]
        return value, norm

    @torch.no_grad()
    def run_eval(self) -> Evaluated | None:
        """Mean loss per counted target over the fixed eval batches."""
        if not self.eval_set:
            return None
        self.model.eval()
        total, count = 0.0, 0
        for x, y in self.eval_set:
            with self.precision.autocast():
                total += float(self.loss(x, y))
            count += int((y >= 0).sum())
        self.model.train()
        loss = total / max(count, 1)
        return Evaluated(step=self.step, eval_loss=loss, eval_ppl=math.exp(loss) if loss < 50 else math.inf)

    def save(self) -> Path:
        return save_checkpoint(self.output, {
            "step": self.step, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scaler": self.precision.scaler.state_dict(), "config": self.config.model_dump(),
            "model_config": self.model_cfg, "rng": rng_state(self.device), "recent": self.recent,
            "data": {"cursor": self.step * self.config.grad_accum, "fingerprint": self.data.fingerprint,
                     "eval": self.data.eval_origin},
            "eos_id": self.data.eos_id, "tokenizer": TOKENIZER,
        })

    def loop(self, *, emit: Callable[[Event], None], stop_after: int | None,
             eval_sets: list[EvalSet]) -> dict[str, Any]:
        cfg = self.config
        timer = StepTimer()
        threads = torch.get_num_threads()
        peak = measured_peak(str(self.device), self.precision.name, threads)
        emit(RunStarted(step=self.step, steps=cfg.steps, params=self.params, device=str(self.device),
                        dtype=self.precision.name, threads=threads, flops_per_token=self.flops_per_token,
                        eval_origin=self.data.eval_origin, resumed=self.step > 0))
        last_eval = self.run_eval() if self.step >= cfg.steps else None  # already done: report where it stands
        while self.step < cfg.steps:
            loss, norm = self.train_step(timer)
            done = self.step
            if done % cfg.log_every == 0 or done == cfg.steps:
                rate, share = timer.interval()
                emit(TrainStep(step=done, loss=loss, lr=self.lr, grad_norm=norm, tokens_per_s=rate, data_share=share,
                               mfu=rate * self.flops_per_token / peak if rate else None))
            if (cfg.eval_every and done % cfg.eval_every == 0) or done == cfg.steps:
                last_eval = self.run_eval()
                if last_eval is not None:
                    emit(last_eval)
            stopping = stop_after is not None and done >= stop_after
            if (cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or done == cfg.steps or stopping:
                emit(Checkpointed(step=done, path=str(self.save())))
            if stopping:
                break
        scores: dict[str, float] = {}
        if eval_sets and self.step >= cfg.steps:
            scorer = GPTScorer(self.model, _tokenizer_for(self), eos_id=self.data.eos_id,
                               autocast=self.precision.autocast)
            scores = evaluate(scorer, eval_sets)
            emit(EvalSetsScored(step=self.step, metrics=scores))
        totals = timer.totals()
        return {"steps": self.step, "train_loss": sum(self.recent) / len(self.recent) if self.recent else math.nan,
                "eval_loss": last_eval.eval_loss if last_eval else None,
                "eval_ppl": last_eval.eval_ppl if last_eval else None, "eval_origin": self.data.eval_origin,
                "eval_sets": scores, "params": self.params, **totals,
                "mfu": totals["tokens_per_s"] * self.flops_per_token / peak, "flops_per_token": self.flops_per_token,
                "peak_flops": peak, "device": str(self.device), "dtype": self.precision.name, "threads": threads,
                "run_dir": str(self.output), "checkpoint": str(self.output / CHECKPOINT)}


def _tokenizer_for(trainer: Trainer) -> Any:
    if trainer.data.tokenizer is None:
        raise TrainError(f"{trainer.data.manifest.get('tokenizer')}: the shards' manifest names no tokenizer file, "
                         "so the evaluation sets cannot be encoded; drop --eval-text/--eval-mc or add the tokenizer")
    return load_tokenizer(trainer.output / TOKENIZER, model_vocab=int(trainer.model_cfg["vocab_size"]))


def train(config: TrainConfig, *, shards: Path, output: Path, resume: Resume = False,
          on_event: Callable[[Event], None] | None = None, stop_after: int | None = None) -> dict[str, Any]:
    """Train on ``shards`` into the run folder ``output``; see ``dataforge.train.run_training``."""
    shards, output = Path(shards), Path(output)
    problems = check_train_config(config)
    if problems:
        raise ConfigError([Problem("", None, f"train.{key}" if key else "train", message) for key, message in problems])
    eval_sets = eval_sets_from(config.eval_text, config.eval_mc)  # bad files are refused before any work
    device = resolve_device(config.device)
    with OutputDir(output, kind="train") as out:
        remove_partial_writes(output)
        out.record(*RUN_FILES)
        data = load_data(shards, window=config.seq_len, holdout=config.holdout, full_hash=config.verify == "sha256")
        ckpt, why_fresh = _checkpoint_to_resume(output, config, data, resume, device)
        if why_fresh:
            log.warning("%s: starting a fresh run: %s", output, why_fresh)
            for name in RUN_FILES:
                out.remove(name)
        previous = torch.get_num_threads()
        set_threads(config.threads)
        try:
            trainer = Trainer(config, data, output=output, ckpt=ckpt, device=device)
            _write_run_files(trainer, shards)
            metrics = MetricsLog(output / METRICS, keep_until=trainer.step)
            summary = trainer.loop(emit=metrics.writer(on_event), stop_after=stop_after, eval_sets=eval_sets)
        finally:
            torch.set_num_threads(previous)
        summary["fresh_start"] = why_fresh
        atomic_write_text(output / SUMMARY, json.dumps(summary, indent=1, default=str) + "\n")
        return summary


def _checkpoint_to_resume(output: Path, config: TrainConfig, data: ShardData, resume: Resume,
                          device: torch.device) -> tuple[dict[str, Any] | None, str | None]:
    """(checkpoint to continue from or None, why an existing run is not continued under resume='auto')."""
    if not (output / CHECKPOINT).exists():
        if resume is True:
            log.warning("%s: no checkpoint to resume from; starting a new run", output)
        return None, None
    if resume is False:
        raise TrainError(f"{output} already holds a training run; pass --resume to continue it, --resume=auto to "
                         "continue it only if its shards and settings are unchanged, or choose a new --output")
    try:
        ckpt = load_checkpoint(output, device)
    except TrainError as exc:
        if resume == "auto":
            return None, f"its checkpoint cannot be read ({exc})"
        raise
    changed = config_changes(ckpt["config"], config)
    if changed:
        if resume == "auto":
            return None, f"the settings changed ({', '.join(changed)})"
        raise TrainError(f"{output}: resuming with different settings ({', '.join(changed)}) would not "
                         "continue the same run; use the original settings or start a new --output")
    if ckpt["data"].get("fingerprint") != data.fingerprint:
        if resume == "auto":
            return None, "the shards changed since it was trained"
        raise TrainError(f"{output}: the checkpoint was trained on other shards than {data.manifest.get('shard_dir')} "
                         "holds now (names, counts or contents differ); resume with the same shards, "
                         "use --resume=auto to start afresh, or start a new --output")
    return ckpt, None


def _write_run_files(trainer: Trainer, shards: Path) -> None:
    output, data = trainer.output, trainer.data
    if data.tokenizer is not None:
        with atomic_write(output / TOKENIZER, "wb") as fh:
            fh.write(data.tokenizer.read_bytes())
    else:
        log.warning("%s: the manifest names no tokenizer file; `dataforge sample` will not work", shards)
    atomic_write_text(output / RUN_INFO, json.dumps({
        "config": trainer.config.model_dump(), "model": trainer.model_cfg, "params": trainer.params,
        "shards": str(shards.resolve()), "fingerprint": data.fingerprint, "kind": data.kind,
        "eval": data.eval_origin, "device": str(trainer.device), "dtype": trainer.precision.name,
        "flops_per_token": trainer.flops_per_token,
    }, indent=2) + "\n")
