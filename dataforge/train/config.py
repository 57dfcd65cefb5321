"""What a training run may set: the ``train:`` section of a pipeline file, or ``dataforge train`` options.

This module imports without torch, so a pipeline file is validated before torch loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError, DataforgeError, Problem


class TrainError(DataforgeError):
    """A training run that cannot start or go on (bad shards, mismatched resume, missing torch)."""


@dataclass(frozen=True)
class ModelSize:
    """One named model size. Vocabulary and context come from the shards at run time."""

    n_layer: int
    n_head: int
    d_model: int
    lr: float  # peak learning rate that trains this size stably (smaller models take larger rates)


# Named sizes, from one that trains on 2 CPU cores in seconds to ~100M parameters.
# small = nanoGPT's shakespeare config (6 x 6 x 384, lr 1e-3); base = GPT-2 small's
# shape (12 x 12 x 768, lr 6e-4; ~92M params with an 8192 vocabulary).
MODEL_SIZES: dict[str, ModelSize] = {
    "tiny": ModelSize(n_layer=2, n_head=4, d_model=128, lr=3e-3),
    "mini": ModelSize(n_layer=4, n_head=4, d_model=256, lr=2e-3),
    "small": ModelSize(n_layer=6, n_head=6, d_model=384, lr=1e-3),
    "medium": ModelSize(n_layer=8, n_head=8, d_model=512, lr=8e-4),
    "base": ModelSize(n_layer=12, n_head=12, d_model=768, lr=6e-4),
}

#: keys a resumed run may change without breaking "continues exactly"
RESUMABLE_CHANGES = frozenset({"steps", "eval_every", "log_every", "checkpoint_every", "device", "compile",
                                "threads"})


class TrainConfig(BaseModel):
    """Everything a training run may set. Unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Named size from MODEL_SIZES: tiny, mini, small, medium, base.
    model: str = "tiny"
    # Optimizer steps to take (each step = batch_size * grad_accum sequences).
    steps: int = Field(200, ge=1)
    # Sequences per micro-batch.
    batch_size: int = Field(16, ge=1)
    # Micro-batches per optimizer step; the loss is averaged over the unmasked tokens of all of them (llm.c).
    grad_accum: int = Field(1, ge=1)
    # Tokens per training window; None = the shards' seq_len. RoPE positions take any length.
    seq_len: int | None = Field(None, ge=2)
    # Peak learning rate; None = the model size's own (MODEL_SIZES).
    lr: float | None = Field(None, gt=0)
    # Cosine decay ends at lr * min_lr_ratio (nanoGPT / Chinchilla: min_lr = lr / 10).
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    # Linear warmup steps, lr * (step + 1) / warmup (nanoGPT get_lr).
    warmup: int = Field(20, ge=0)
    # AdamW weight decay, applied to matrices only, never to norms or biases (nanoGPT, GPT-3 paper: 0.1).
    weight_decay: float = Field(0.1, ge=0)
    # AdamW betas (GPT-3 paper, nanoGPT: 0.9, 0.95).
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.95, ge=0, lt=1)
    # Clip the global gradient norm to this, after unscaling; 0 = no clipping (nanoGPT: 1.0).
    grad_clip: float = Field(1.0, ge=0)
    # Dropout probability in attention and MLP outputs (nanoGPT pretraining: 0.0).
    dropout: float = Field(0.0, ge=0, lt=1)
    # random: independent random windows/rows (nanoGPT get_batch); epoch: each window/row once per
    # epoch in a seeded shuffled order (sequential passes).
    sampling: Literal["random", "epoch"] = "random"
    # Evaluate (and log eval loss / perplexity) every this many steps and at the end; 0 = only at the end.
    eval_every: int = Field(100, ge=0)
    # Fixed batches per evaluation; the same windows every time (deterministic eval).
    eval_batches: int = Field(8, ge=1)
    # Share of the train split held out for eval when the shards have no validation split; 0 = no eval then.
    holdout: float = Field(0.05, ge=0, lt=0.5)
    # Log a training line every this many steps.
    log_every: int = Field(10, ge=1)
    # Write a checkpoint every this many steps (and always at the end); 0 = only at the end.
    checkpoint_every: int = Field(100, ge=0)
    # Seeds model init, dropout and data order.
    seed: int = 1337
    # auto = cuda if available, else mps, else cpu.
    device: str = "auto"
    # CPU threads for torch; 0 = torch's default (one per core). 1 is faster when other jobs share the cores.
    threads: int = Field(0, ge=0)
    # auto = bf16 autocast on a GPU that supports it, float32 elsewhere; bfloat16 forces autocast.
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    # torch.compile the model (faster steps on GPU after a slow first one).
    compile: bool = False
    # Model vocabulary; None = the shards' vocab_size rounded up to a multiple of 64 (nanoGPT pads 50257 -> 50304).
    vocab_size: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _known_size(self) -> TrainConfig:
        if self.model not in MODEL_SIZES:
            raise ValueError(f"unknown model size {self.model!r}; choose one of {', '.join(MODEL_SIZES)}")
        size = MODEL_SIZES[self.model]
        if size.d_model % size.n_head:
            raise ValueError(f"model {self.model!r}: d_model must divide by n_head")
        return self

    @property
    def peak_lr(self) -> float:
        return self.lr if self.lr is not None else MODEL_SIZES[self.model].lr

    @property
    def size(self) -> ModelSize:
        return MODEL_SIZES[self.model]


def config_changes(old: dict[str, object], new: TrainConfig) -> list[str]:
    """Keys whose values differ between a checkpoint's config and a new one, except those a resume may change."""
    fresh = new.model_dump()
    return sorted(k for k in fresh.keys() | old.keys()
                  if k not in RESUMABLE_CHANGES and fresh.get(k) != old.get(k))


def load_train_config(config_file: Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """TrainConfig from a YAML file (its keys, or a pipeline file's ``train:`` section) plus CLI options."""
    base: dict[str, Any] = {}
    source = str(config_file) if config_file else "command line"
    if config_file is not None:
        try:
            loaded = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError([Problem(str(config_file), None, "", f"not valid YAML ({exc})")]) from exc
        if not isinstance(loaded, dict):
            raise ConfigError([Problem(str(config_file), None, "", "expected a mapping of train settings")])
        base = loaded.get("train", loaded) if isinstance(loaded.get("train", loaded), dict) else {}
    merged = {**base, **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return TrainConfig(**merged)
    except ValidationError as exc:
        raise ConfigError([Problem(source, None, "train." + ".".join(str(p) for p in err["loc"]), err["msg"])
                           for err in exc.errors()]) from exc
