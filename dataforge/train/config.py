"""What a training run may set: the ``train:`` section of a pipeline file, or ``dataforge train`` options.

Every setting is typed strictly (a YAML ``"200"`` is not the integer 200), finite, and
range-checked; unknown keys are refused. ``settings.py`` reads a settings file with line
numbers and checks what only the machine can answer (device, dtype, compiler).

This module imports without torch, so a pipeline file is validated before torch loads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import re
from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..errors import DataforgeError


class TrainError(DataforgeError):
    """A training run that cannot start or go on (bad shards, mismatched resume, missing torch, NaN loss)."""


@dataclass(frozen=True)
class ModelSize:
    """One named model size. Vocabulary and context come from the shards at run time."""

    n_layer: int
    n_head: int
    d_model: int
    lr: float  # peak learning rate that trains this size stably (smaller models take larger rates)


def swiglu_hidden(d_model: int, multiple: int = 32) -> int:
    """SwiGLU's hidden width: 8/3 * d rounded up to a multiple (LLaMA keeps its parameter count equal
    to a 4d GELU MLP's)."""
    return multiple * math.ceil(int(8 * d_model / 3) / multiple)


#: the names of MODEL_SIZES (the ``model:`` setting); tests/train/test_settings.py keeps the two the same
SizeName: TypeAlias = Literal["tiny", "mini", "small", "medium", "base"]

# Named sizes, from one that trains on 2 CPU cores in seconds to ~100M parameters.
# small = nanoGPT's shakespeare config (6 x 6 x 384, lr 1e-3); base = GPT-2 small's
# shape (12 x 12 x 768, lr 6e-4; ~91M params with an 8192 vocabulary).
MODEL_SIZES: dict[SizeName, ModelSize] = {
    "tiny": ModelSize(n_layer=2, n_head=4, d_model=128, lr=3e-3),
    "mini": ModelSize(n_layer=4, n_head=4, d_model=256, lr=2e-3),
    "small": ModelSize(n_layer=6, n_head=6, d_model=384, lr=1e-3),
    "medium": ModelSize(n_layer=8, n_head=8, d_model=512, lr=8e-4),
    "base": ModelSize(n_layer=12, n_head=12, d_model=768, lr=6e-4),
}

#: keys a resumed run may change without breaking "continues exactly" (steps stretches the lr schedule)
RESUMABLE_CHANGES = frozenset({"steps", "eval_every", "log_every", "checkpoint_every", "device", "compile",
                               "threads", "eval_text", "eval_mc", "verify"})

#: upper bounds that only catch nonsense (a typo'd exponent), far above any run this trainer is for
MAX_STEPS = 10**9
MAX_BATCH = 1 << 16
MAX_SEQ_LEN = 1 << 17  # 131,072 tokens: the longest context of any open model we know of
MAX_VOCAB = 1 << 24  # 16.7M ids; the largest published tokenizers have ~1M
MAX_THREADS = 1024
DEVICE_PATTERN = r"^(auto|cpu|mps|cuda(:\d{1,3})?)$"


_EXPONENT_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _yaml_float(value: object) -> object:
    """``6e-4`` in YAML is a string to PyYAML (YAML 1.1 wants ``6.0e-4``); read it as the number it is."""
    if isinstance(value, str) and _EXPONENT_FLOAT.match(value.strip()):
        return float(value)
    return value


#: a float setting: strict, but ``lr: 6e-4`` in a YAML file is that number
Real = Annotated[float, BeforeValidator(_yaml_float)]


class TrainConfig(BaseModel):
    """Everything a training run may set. Unknown keys, wrong types, NaN and inf are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    # Named size from MODEL_SIZES: tiny, mini, small, medium, base.
    model: SizeName = "tiny"
    # Optimizer steps to take (each step = batch_size * grad_accum sequences).
    steps: int = Field(200, ge=1, le=MAX_STEPS)
    # Sequences per micro-batch (nanoGPT's shakespeare-char config uses 64 x 256; 16 keeps a step short on CPU).
    batch_size: int = Field(16, ge=1, le=MAX_BATCH)
    # Micro-batches per optimizer step; the loss is averaged over the unmasked tokens of all of them (llm.c).
    grad_accum: int = Field(1, ge=1, le=4096)
    # Tokens per training window; None = the shards' seq_len. RoPE positions take any length.
    seq_len: int | None = Field(None, ge=2, le=MAX_SEQ_LEN)
    # Peak learning rate; None = the model size's own (MODEL_SIZES). Adam diverges above 1 for any size.
    lr: Real | None = Field(None, gt=0, le=1)
    # Cosine decay ends at lr * min_lr_ratio (nanoGPT / Chinchilla: min_lr = lr / 10).
    min_lr_ratio: Real = Field(0.1, ge=0, le=1)
    # Linear warmup steps, lr * (step + 1) / warmup (nanoGPT get_lr).
    warmup: int = Field(20, ge=0, le=MAX_STEPS)
    # AdamW weight decay, applied to matrices only, never to norms or biases (nanoGPT, GPT-3 paper: 0.1).
    weight_decay: Real = Field(0.1, ge=0, le=1)
    # AdamW betas (GPT-3 paper, nanoGPT: 0.9, 0.95).
    beta1: Real = Field(0.9, ge=0, lt=1)
    beta2: Real = Field(0.95, ge=0, lt=1)
    # Clip the global gradient norm to this, after unscaling; 0 = no clipping (nanoGPT: 1.0).
    grad_clip: Real = Field(1.0, ge=0)
    # Dropout probability in attention and MLP outputs (nanoGPT pretraining: 0.0).
    dropout: Real = Field(0.0, ge=0, lt=1)
    # random: independent random windows/rows (nanoGPT get_batch); epoch: each window/row once per
    # epoch in a seeded shuffled order (sequential passes).
    sampling: Literal["random", "epoch"] = "random"
    # Evaluate (and log eval loss / perplexity) every this many steps and at the end; 0 = only at the end.
    eval_every: int = Field(100, ge=0, le=MAX_STEPS)
    # Fixed batches per evaluation; the same windows every time (deterministic eval).
    eval_batches: int = Field(8, ge=1, le=10_000)
    # Share of the train split held out for eval when the shards have no validation split; 0 = no eval then.
    holdout: Real = Field(0.05, ge=0, lt=0.5)
    # Log a training line every this many steps.
    log_every: int = Field(10, ge=1, le=MAX_STEPS)
    # Write a checkpoint every this many steps (and always at the end); 0 = only at the end.
    checkpoint_every: int = Field(100, ge=0, le=MAX_STEPS)
    # Seeds model init, dropout and data order (numpy seeds must be non-negative).
    seed: int = Field(1337, ge=0, lt=1 << 63)
    # auto = cuda if available, else mps, else cpu; or cpu, mps, cuda, cuda:N.
    device: str = Field("auto", pattern=DEVICE_PATTERN)
    # CPU threads for torch; 0 = torch's default (one per core). 1 is faster when other jobs share the cores.
    threads: int = Field(0, ge=0, le=MAX_THREADS)
    # auto = bf16 autocast on a GPU that supports it (else fp16 with loss scaling) and on a CPU with native
    # bf16 (AMX / AVX512-BF16), float32 elsewhere. float16 is CUDA only (GradScaler).
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    # torch.compile the model's blocks (faster steps after a slow first one: ~1 min on 2 CPU cores).
    compile: bool = False
    # Model vocabulary; None = the shards' vocab_size rounded up to a multiple of 64 (nanoGPT pads 50257 -> 50304).
    vocab_size: int | None = Field(None, ge=2, le=MAX_VOCAB)
    # Reference texts scored at the end (loss, bits per byte): paths to UTF-8 text files.
    eval_text: list[str] = []
    # Multiple-choice tasks scored at the end (acc, acc_norm, chance): JSONL with query, choices, gold.
    eval_mc: list[str] = []
    # How shards are checked against the manifest before training: sha256 = every byte hashed (default;
    # ~1 s per GB), quick = header, dtype, row and token counts only (for data too big to hash each start).
    verify: Literal["sha256", "quick"] = "sha256"

    @property
    def peak_lr(self) -> float:
        return self.lr if self.lr is not None else MODEL_SIZES[self.model].lr

    @property
    def size(self) -> ModelSize:
        return MODEL_SIZES[self.model]


#: the default of every setting, for --help and the README
DEFAULTS = TrainConfig()


def config_changes(old: dict[str, object], new: TrainConfig) -> list[str]:
    """Keys whose values differ between a checkpoint's config and a new one, except those a resume may change."""
    fresh = new.model_dump()
    return sorted(k for k in fresh.keys() | old.keys()
                  if k not in RESUMABLE_CHANGES and fresh.get(k) != old.get(k))
