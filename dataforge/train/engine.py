"""The torch side of a run: device, precision, the masked loss, eval, and checkpoints.

Imported only once a run starts (``run_training`` imports it), so dataforge loads without torch.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..io import atomic_write
from .config import TrainConfig, TrainError
from .data import Batch
from .model import GPT, GPTConfig

CHECKPOINT = "ckpt.pt"
CHECKPOINT_FORMAT = 1
IGNORE = -100  # target id that cross_entropy skips


def resolve_device(name: str) -> torch.device:
    """``auto`` = cuda, else mps, else cpu; anything else must be a device torch knows and has."""
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
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainError(f"device {name!r} asked for but torch sees no CUDA GPU; use device: cpu (or auto)")
    return device


def autocast(config: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast when asked for, or on auto when the GPU supports it; plain float32 otherwise."""
    use_bf16 = config.dtype == "bfloat16" or (
        config.dtype == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported())
    if use_bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(batch: Batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) tensors; targets the mask excludes become IGNORE."""
    y = batch.y if batch.mask is None else np.where(batch.mask, batch.y, IGNORE)
    return (torch.from_numpy(batch.x).to(device, non_blocking=True),
            torch.from_numpy(np.ascontiguousarray(y)).to(device, non_blocking=True))


def summed_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy summed over the targets that count (y != IGNORE); logits (B, T, V), y (B, T)."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                           ignore_index=IGNORE, reduction="sum")


def accumulate(forward: Any, micro: list[Batch], *, device: torch.device, ctx_factory: Any) -> torch.Tensor:
    """Backward through every micro-batch; the loss is averaged over the counted targets of *all* of them
    (llm.c), so grad accumulation equals one big batch however the mask splits. Returns that loss."""
    counted = max(sum(b.targets for b in micro), 1)
    total = torch.zeros((), device=device)
    for batch in micro:
        x, y = to_device(batch, device)
        with ctx_factory():
            loss = summed_loss(forward(x), y) / counted
        loss.backward()
        total += loss.detach()
    return total


@torch.no_grad()
def evaluate(model: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], *,
             ctx_factory: Any) -> float:
    """Mean loss per counted target over fixed eval batches."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for x, y in batches:
        with ctx_factory():
            total += float(summed_loss(model(x), y))
        count += int((y != IGNORE).sum())
    model.train(was_training)
    return total / max(count, 1)


def perplexity(loss: float) -> float:
    return math.exp(loss) if loss < 50 else float("inf")


def rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run_dir: Path, payload: dict[str, Any]) -> Path:
    """Write the checkpoint atomically: a crash leaves the previous checkpoint intact."""
    path = run_dir / CHECKPOINT
    with atomic_write(path, "wb") as fh:
        torch.save({"format": CHECKPOINT_FORMAT, **payload}, fh)
    return path


def load_checkpoint(run_dir: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise TrainError(f"{path}: no checkpoint; is {run_dir} a run folder written by dataforge train?")
    try:
        ckpt: dict[str, Any] = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises assorted types for a damaged file
        raise TrainError(f"{path}: cannot read the checkpoint ({exc}); it is damaged or from another tool") from exc
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise TrainError(f"{path}: checkpoint format {ckpt.get('format')!r}, this dataforge reads {CHECKPOINT_FORMAT}")
    return ckpt


def build_model(model_cfg: dict[str, Any], device: torch.device) -> GPT:
    return GPT(GPTConfig(**model_cfg)).to(device)
