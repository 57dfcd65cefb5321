"""One training run: model and optimizer set up (fresh or from a checkpoint), the step loop, eval, saving.

Imported by ``run_training`` once torch is known to be there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..io import atomic_write_text
from ..tokenize.shards import read_manifest
from .config import TrainConfig, TrainError, config_changes
from .data import ShardData, eval_batches, load_data, train_batch
from .engine import (
    CHECKPOINT,
    accumulate,
    autocast,
    build_model,
    evaluate,
    load_checkpoint,
    perplexity,
    resolve_device,
    rng_state,
    save_checkpoint,
    set_rng_state,
    to_device,
)
from .metrics import MetricsLog, StepTimer, lr_at
from .model import GPTConfig, param_groups

log = logging.getLogger(__name__)

TOKENIZER = "tokenizer.json"  # the shards' tokenizer, copied into the run folder for `dataforge sample`


def model_vocab(config: TrainConfig, shard_vocab: int) -> int:
    """The model's vocabulary: as configured, else the shards' rounded up to a multiple of 64."""
    return config.vocab_size if config.vocab_size is not None else 64 * -(-shard_vocab // 64)


class Run:
    def __init__(self, config: TrainConfig, *, shards: Path, output: Path, resume: bool) -> None:
        self.config, self.shards, self.output = config, Path(shards), Path(output)
        self.device = resolve_device(config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        ckpt = self._checkpoint_to_resume(resume)
        manifest = read_manifest(self.shards)
        if ckpt is not None:
            model_cfg = dict(ckpt["model_config"])
        else:
            context = config.seq_len or int(manifest["seq_len"])
            model_cfg = GPTConfig.from_size(config.size, vocab_size=model_vocab(config, int(manifest["vocab_size"])),
                                            context=context, dropout=config.dropout).to_dict()
        self.data: ShardData = load_data(self.shards, window=config.seq_len, holdout=config.holdout,
                                         model_vocab=int(model_cfg["vocab_size"]))
        if ckpt is not None and ckpt["data"]["fingerprint"] != self.data.fingerprint:
            raise TrainError(f"{self.output}: the checkpoint was trained on other shards than {self.shards}; "
                             "resume with the same --shards, or start a new --output")
        torch.manual_seed(config.seed)
        self.model = build_model(model_cfg, self.device)
        self.model_cfg = model_cfg
        self.optimizer = torch.optim.AdamW(param_groups(self.model, config.weight_decay), lr=config.peak_lr,
                                           betas=(config.beta1, config.beta2))
        self.step, self.lr = 0, 0.0
        if ckpt is not None:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.step = int(ckpt["step"])
            set_rng_state(ckpt["rng"], self.device)
        self.forward: Callable[[torch.Tensor], torch.Tensor] = (
            torch.compile(self.model) if config.compile else self.model)  # type: ignore[assignment]
        self.ctx = lambda: autocast(config, self.device)
        self.eval_set = ([to_device(b, self.device) for b in eval_batches(
            self.data.eval, batches=config.eval_batches, batch_size=config.batch_size)]
            if self.data.eval is not None else [])
        self.metrics = MetricsLog(self.output / "metrics.jsonl", keep_until=self.step)
        self.last_eval: dict[str, float] = {}
        self._write_run_files()

    def _checkpoint_to_resume(self, resume: bool) -> dict[str, Any] | None:
        exists = (self.output / CHECKPOINT).exists()
        if exists and not resume:
            raise TrainError(f"{self.output} already holds a training run; pass --resume to continue it, "
                             "or choose a new --output")
        if not exists:
            if resume:
                log.warning("%s: no checkpoint to resume from; starting a new run", self.output)
            return None
        ckpt = load_checkpoint(self.output, self.device)
        changed = config_changes(ckpt["config"], self.config)
        if changed:
            raise TrainError(f"{self.output}: resuming with different settings ({', '.join(changed)}) would not "
                             "continue the same run; use the original settings or start a new --output")
        return ckpt

    def _write_run_files(self) -> None:
        self.output.mkdir(parents=True, exist_ok=True)
        tok = self.data.manifest.get("tokenizer", {})
        source = self.shards / str(tok.get("file", TOKENIZER)) if isinstance(tok, dict) else None
        if source is not None and source.exists():
            atomic_write_text(self.output / TOKENIZER, source.read_text(encoding="utf-8"))
        else:
            log.warning("%s: the manifest names no tokenizer file; `dataforge sample` will not work", self.shards)
        self.params = self.model.num_params()
        atomic_write_text(self.output / "run.json", json.dumps({
            "config": self.config.model_dump(), "model": self.model_cfg, "params": self.params,
            "shards": str(self.shards.resolve()), "kind": self.data.kind, "eval": self.data.eval_origin,
        }, indent=2) + "\n")

    def train_step(self, timer: StepTimer) -> float:
        """One optimizer step over grad_accum micro-batches; returns its loss per counted target."""
        cfg = self.config
        timer.start()
        micro = [train_batch(self.data.train, self.step * cfg.grad_accum + m, batch_size=cfg.batch_size,
                             seed=cfg.seed, sampling=cfg.sampling) for m in range(cfg.grad_accum)]
        timer.data_done(tokens=sum(b.x.size for b in micro))
        total = accumulate(self.forward, micro, device=self.device, ctx_factory=self.ctx)
        if cfg.grad_clip > 0:  # bf16 autocast needs no loss scaling, so these grads are already unscaled
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        lr = lr_at(self.step, peak=cfg.peak_lr, warmup=cfg.warmup, total=cfg.steps, min_ratio=cfg.min_lr_ratio)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        value = float(total)  # syncs the device, so the timer sees the whole step
        self.step += 1
        timer.step_done(self.step)
        self.lr = lr
        return value

    def run_eval(self) -> dict[str, float]:
        if not self.eval_set:
            return {}
        loss = evaluate(self.forward, self.eval_set, ctx_factory=self.ctx)  # type: ignore[arg-type]
        self.last_eval = {"eval_loss": loss, "eval_ppl": perplexity(loss)}
        return self.last_eval

    def save(self) -> Path:
        return save_checkpoint(self.output, {
            "step": self.step, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "config": self.config.model_dump(), "model_config": self.model_cfg, "rng": rng_state(self.device),
            "data": {"cursor": self.step * self.config.grad_accum, "fingerprint": self.data.fingerprint,
                     "eval": self.data.eval_origin},
            "eos_id": self.data.eos_id, "tokenizer": TOKENIZER,
        })

    def loop(self, *, stop_after: int | None, on_log: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
        cfg = self.config
        timer, recent = StepTimer(), list[float]()
        emit = self.metrics.writer(on_log)
        start = self.step
        if start >= cfg.steps:
            log.info("%s: already at step %d of %d; nothing to train", self.output, start, cfg.steps)
            self.run_eval()  # the summary still reports where the run stands
        while self.step < cfg.steps:
            loss = self.train_step(timer)
            recent = (recent + [loss])[-10:]
            done = self.step
            if done % cfg.log_every == 0 or done == cfg.steps:
                emit({"event": "train", "step": done, "loss": loss, "lr": self.lr, **timer.interval()})
            if (cfg.eval_every and done % cfg.eval_every == 0) or done == cfg.steps:
                if self.eval_set:
                    emit({"event": "eval", "step": done, **self.run_eval()})
            stopping = stop_after is not None and done >= stop_after
            if (cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or done == cfg.steps or stopping:
                self.save()
            if stopping:
                break
        return {"steps": self.step, "train_loss": sum(recent) / len(recent) if recent else None,
                "eval_loss": self.last_eval.get("eval_loss"), "eval_ppl": self.last_eval.get("eval_ppl"),
                "eval_origin": self.data.eval_origin, "params": self.params, **timer.totals(),
                "run_dir": str(self.output), "checkpoint": str(self.output / CHECKPOINT)}
