"""The compact trainer: a small GPT learns from dataforge shards, to prove (and compare) the data.

Modules, by what they hold:

* ``config``: TrainConfig, the named model sizes (no torch); ``settings``: reading a settings
  file with line numbers, and ``check_train_config`` (no torch until it checks the device).
* ``verify``: shards checked against their manifest; ``data``: batches from them (numpy).
* ``model``: the GPT; ``loss``: its output head fused with the cross-entropy, chunk by chunk.
* ``device``: device, precision (autocast dtype, GradScaler), batch copies.
* ``train``: the training loop; ``checkpoint``: the run folder's checkpoint and tokenizer.
* ``events``: the typed progress events and ``metrics.jsonl``; ``throughput``: parameters,
  FLOPs per token, step timing, MFU.
* ``evalsets``: evaluation sets (reference text, multiple choice) and their scoring (no torch);
  ``evaluate``: scoring a trained GPT on them; ``sample``: text from a trained run.

``run_training`` (here) imports without torch; torch loads when a run starts (the optional
``train`` extra).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .config import TrainConfig, TrainError
from .evalsets import EvalSet, eval_sets_from, load_eval_set
from .settings import check_train_config, load_train_config

if TYPE_CHECKING:
    from .events import Event

__all__ = ["EvalSet", "TrainConfig", "TrainError", "check_train_config", "eval_sets_from", "load_eval_set",
           "load_train_config", "require_torch", "run_training"]


def require_torch() -> None:
    """Raise a TrainError with the install command when PyTorch is missing."""
    if importlib.util.find_spec("torch") is None:
        raise TrainError("training needs PyTorch, which is not installed: pip install 'dataforge[train]' "
                         "(for a CPU-only build first: pip install torch --index-url "
                         "https://download.pytorch.org/whl/cpu)")


def run_training(config: TrainConfig, *, shards: Path, output: Path, resume: bool | Literal["auto"] = False,
                 on_event: Callable[[Event], None] | None = None, stop_after: int | None = None) -> dict[str, Any]:
    """Train on the shards in ``shards`` (a folder with manifest.json); write the run to ``output``.

    ``output`` is claimed and locked for the run (a folder dataforge did not make, or another
    command's output, is refused; a second training into it exits 3). It gets ckpt.pt (model,
    optimizer, step, config, RNG states, data cursor; atomic), metrics.jsonl, run.json,
    summary.json and the shards' tokenizer.json, each recorded in the output's ledger first.

    ``resume``: False refuses a folder that already holds a run; True continues it exactly
    (same settings and the same shards, verified), else refuses; ``"auto"`` continues it when
    both match and otherwise starts afresh in the same folder, removing only the files a run
    recorded (what a pipeline's ``train:`` section wants after its data changed).

    ``on_event`` receives each ``events.Event`` as it happens. ``stop_after`` ends the run,
    with a checkpoint, after that step (a time-boxed job; tests use it to interrupt a run).

    Returns the run summary (also written to summary.json): steps, train_loss (mean of the last
    10 steps), eval_loss, eval_ppl, eval_origin, eval_sets ({"<set>/<metric>": value}), params,
    tokens_per_s, data_share, tokens_seen, timed_steps, timing_includes_warmup, mfu,
    flops_per_token, peak_flops, device, dtype, threads, run_dir, checkpoint, fresh_start.
    """
    require_torch()
    from .train import train  # deferred: torch loads here (the [train] extra)

    return train(config, shards=Path(shards), output=Path(output), resume=resume, on_event=on_event,
                 stop_after=stop_after)
