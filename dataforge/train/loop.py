"""``run_training``: the entry point ``dataforge train`` and a pipeline's ``train:`` section call.

This module imports without torch; torch loads when a run starts (it is the optional ``train`` extra).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import TrainConfig, TrainError
from .metrics import lr_at

__all__ = ["run_training", "require_torch", "lr_at"]

log = logging.getLogger(__name__)


def require_torch() -> None:
    """Raise a TrainError with the install command when PyTorch is missing."""
    if importlib.util.find_spec("torch") is None:
        raise TrainError("training needs PyTorch, which is not installed: pip install 'dataforge[train]' "
                         "(for a CPU-only build first: pip install torch --index-url "
                         "https://download.pytorch.org/whl/cpu)")


def run_training(config: TrainConfig, *, shards: Path, output: Path, resume: bool = False,
                 on_log: Callable[[dict[str, Any]], None] | None = None,
                 stop_after: int | None = None) -> dict[str, Any]:
    """Train on the shards in ``shards`` (a folder with manifest.json); write the run to ``output``.

    ``output`` gets ckpt.pt (model, optimizer, step, config, RNG states, data cursor; written
    atomically), metrics.jsonl, run.json and the shards' tokenizer.json. With ``resume`` the run
    continues from ckpt.pt exactly as if it had not stopped. ``on_log`` receives every metrics
    record (train and eval lines) as it is written. ``stop_after`` ends the run, with a
    checkpoint, after that step (a time-boxed job; tests use it to interrupt a run).

    Returns a summary: steps, train_loss (mean of the last 10 steps), eval_loss, eval_ppl,
    eval_origin (validation | holdout | none), params, tokens_per_s, data_share, tokens_seen,
    run_dir, checkpoint.
    """
    require_torch()
    from .trainer import Run

    run = Run(config, shards=Path(shards), output=Path(output), resume=resume)
    log.info("%s: %s model, %d parameters; eval on %s", output, config.model, run.params, run.data.eval_origin)
    return run.loop(stop_after=stop_after, on_log=on_log)
