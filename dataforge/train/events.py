"""What a run reports as it goes: one dataclass per kind of event, and the ``metrics.jsonl`` they land in.

A caller's ``on_event`` receives these objects (``isinstance`` tells them apart); the
metrics file holds one JSON record per event with ``"event"`` naming its kind, so
``metrics.jsonl`` reads the same as before: ``train`` records carry ``loss``, ``eval``
records ``eval_loss``. No torch here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Union

from ..io import atomic_write_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunStarted:
    """The run is set up: what it trains and how."""

    kind: ClassVar[str] = "start"
    step: int  # 0, or the checkpoint's step when resuming
    steps: int
    params: int
    device: str
    dtype: str
    threads: int
    flops_per_token: int
    eval_origin: str  # validation | holdout | none
    resumed: bool


@dataclass(frozen=True)
class TrainStep:
    kind: ClassVar[str] = "train"
    step: int
    loss: float  # mean over the step's counted targets
    lr: float
    grad_norm: float  # before clipping
    tokens_per_s: float | None  # since the last train record, warm-up steps left out (None: only warm-up so far)
    data_share: float | None  # share of that time spent loading batches
    mfu: float | None  # model FLOPs utilisation against the measured matmul peak


@dataclass(frozen=True)
class Evaluated:
    """Loss on the fixed eval batches (validation split or held-out tail)."""

    kind: ClassVar[str] = "eval"
    step: int
    eval_loss: float
    eval_ppl: float


@dataclass(frozen=True)
class EvalSetsScored:
    """Reference sets scored (bits per byte, multiple-choice accuracy): ``{"<set>/<metric>": value}``."""

    kind: ClassVar[str] = "eval_sets"
    step: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpointed:
    kind: ClassVar[str] = "checkpoint"
    step: int
    path: str


Event = Union[RunStarted, TrainStep, Evaluated, EvalSetsScored, Checkpointed]
#: events that go into metrics.jsonl (start and checkpoint lines are for the terminal only)
LOGGED = (TrainStep, Evaluated, EvalSetsScored)


def to_record(event: Event) -> dict[str, Any]:
    return {"event": event.kind, **asdict(event)}


class MetricsLog:
    """``metrics.jsonl``, one record per line. On resume, records after the checkpoint's step are dropped,
    so the file reads as one uninterrupted run."""

    def __init__(self, path: Path, *, keep_until: int) -> None:
        self.path = path
        if path.exists():
            kept = [line for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip() and _step_of(line) <= keep_until]
            atomic_write_text(path, "".join(line + "\n" for line in kept))

    def writer(self, on_event: Callable[[Event], None] | None) -> Callable[[Event], None]:
        def emit(event: Event) -> None:
            if isinstance(event, LOGGED):
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(to_record(event)) + "\n")
            log.info("%s", format_event(event))
            if on_event is not None:
                on_event(event)
        return emit


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("step", 0))
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
        return 1 << 62  # an unreadable line (a torn last write) is dropped


def format_event(event: Event) -> str:
    """One human line for an event."""
    if isinstance(event, TrainStep):
        extra = ""
        if event.tokens_per_s is not None and event.data_share is not None:
            extra = f"  tok/s {event.tokens_per_s:,.0f}  data {event.data_share:.1%}"
            extra += f"  MFU {event.mfu:.1%}" if event.mfu is not None else ""
        return f"step {event.step:>6}  loss {event.loss:.4f}  lr {event.lr:.2e}  grad norm {event.grad_norm:.2f}{extra}"
    if isinstance(event, Evaluated):
        return f"step {event.step:>6}  eval loss {event.eval_loss:.4f}  ppl {event.eval_ppl:.2f}"
    if isinstance(event, EvalSetsScored):
        return f"step {event.step:>6}  " + "  ".join(f"{k} {v:.4g}" for k, v in sorted(event.metrics.items()))
    if isinstance(event, Checkpointed):
        return f"step {event.step:>6}  checkpoint {event.path}"
    return (f"{'resuming at step ' + str(event.step) if event.resumed else 'starting'}: {event.params:,} params, "
            f"{event.steps} steps on {event.device} ({event.dtype}, {event.threads} threads), "
            f"{event.flops_per_token / 1e6:.1f} MFLOP/token, eval on {event.eval_origin}")
