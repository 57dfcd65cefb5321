"""Where and in what precision a run computes: device choice, autocast dtype, loss scaling, batch copies.

* ``auto`` picks cuda, else mps, else cpu.
* Precision (``dtype: auto``): bf16 autocast on a GPU that has it, else fp16 autocast with a
  ``GradScaler`` (fp16's 5-bit exponent underflows small gradients without loss scaling:
  Micikevicius et al. 2018, "Mixed Precision Training"); on a CPU bf16 only where the CPU
  computes it natively (AMX or AVX512-BF16: measured ~2.6x faster for ``small`` on such a
  Xeon), float32 elsewhere (an AVX2 CPU emulates bf16 ~100x slower than its fp32 matmul).
  On CUDA, float32 matmuls may use TF32 (``set_float32_matmul_precision("high")``, as nanoGPT).
* Batches go to a GPU from pinned host memory with ``non_blocking`` copies.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import TrainConfig, TrainError
from .data import Batch

log = logging.getLogger(__name__)

IGNORE = -100  # target id the loss skips (masked SFT prompt tokens, padding)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """``auto`` = cuda, else mps, else cpu; anything else must be a device this machine has."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise TrainError(f"device {name!r} is not a torch device ({exc}); use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise TrainError(f"device {name!r} asked for but torch sees no CUDA GPU; use device: cpu (or auto)")
        if (device.index or 0) >= count:
            raise TrainError(f"device {name!r}: there are {count} CUDA GPUs (cuda:0 to cuda:{count - 1})")
    return device


@lru_cache(maxsize=1)
def cpu_bf16_native() -> bool:
    """Whether this CPU computes bf16 matmuls in hardware (AMX-BF16 or AVX512-BF16 flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def compute_dtype(config: TrainConfig, device: torch.device) -> torch.dtype:
    """The autocast dtype of a run (float32 = no autocast)."""
    if config.dtype != "auto":
        chosen = DTYPES[config.dtype]
        if chosen == torch.float16 and device.type != "cuda":
            raise TrainError(f"dtype float16 needs a CUDA GPU (loss scaling); on {device.type} use float32 or bfloat16")
        if chosen == torch.bfloat16 and device.type == "cpu" and not cpu_bf16_native():
            log.warning("this CPU has no native bfloat16 (no AMX/AVX512-BF16): bf16 autocast is emulated and "
                        "much slower than float32; dtype: auto picks float32 here")
        return chosen
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_bf16_native():
        return torch.bfloat16
    return torch.float32


@dataclass
class Precision:
    """Autocast and loss scaling for one run."""

    device: torch.device
    dtype: torch.dtype
    scaler: Any  # torch.amp.GradScaler, enabled only for float16

    @classmethod
    def for_run(cls, config: TrainConfig, device: torch.device) -> Precision:
        dtype = compute_dtype(config, device)
        if device.type == "cuda":
            torch.set_float32_matmul_precision("high")  # TF32 matmuls for float32 work (nanoGPT allow_tf32)
        scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
        return cls(device=device, dtype=dtype, scaler=scaler)

    @property
    def name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)


def to_device(batch: Batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) int64 tensors on ``device``; targets the mask excludes become IGNORE.

    On CUDA the host tensors are pinned first, so the copies run asynchronously."""
    y = batch.y if batch.mask is None else np.where(batch.mask, batch.y, IGNORE)
    x_t, y_t = torch.from_numpy(batch.x), torch.from_numpy(np.ascontiguousarray(y))
    if device.type == "cuda":
        return x_t.pin_memory().to(device, non_blocking=True), y_t.pin_memory().to(device, non_blocking=True)
    return x_t.to(device), y_t.to(device)


def set_threads(threads: int) -> int:
    """Use ``threads`` CPU threads for torch (0 = leave torch's default); returns the number in use."""
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
