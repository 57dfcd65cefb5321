"""Learning-rate schedule, step timing and the JSONL metrics file. No torch here."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..io import atomic_write_text

log = logging.getLogger(__name__)

#: steps of each process left out of tokens/s (allocator warm-up; torch.compile's first steps)
TIMING_WARMUP = 3


def lr_at(step: int, *, peak: float, warmup: int, total: int, min_ratio: float) -> float:
    """Learning rate for 0-based ``step``: linear warmup lr*(step+1)/warmup, then cosine to lr*min_ratio (nanoGPT)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    span = max(total - warmup, 1)
    progress = min((step - warmup) / span, 1.0)
    floor = peak * min_ratio
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - floor)


class StepTimer:
    """Step and data-loading wall time; tokens/s leaves out the first TIMING_WARMUP steps."""

    def __init__(self) -> None:
        self.seen = 0  # steps this process ran
        self.tokens_seen = 0
        self._t0 = self._data = 0.0
        self._tokens = 0
        self.total = {"tokens": 0, "time": 0.0, "data": 0.0, "steps": 0}
        self.window = dict(self.total)

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def data_done(self, *, tokens: int) -> None:
        self._data = time.perf_counter() - self._t0
        self._tokens = tokens

    def step_done(self, step: int) -> None:
        elapsed = time.perf_counter() - self._t0
        self.seen += 1
        self.tokens_seen += self._tokens
        if self.seen <= TIMING_WARMUP:
            return
        for acc in (self.total, self.window):
            acc["tokens"] += self._tokens
            acc["time"] += elapsed
            acc["data"] += self._data
            acc["steps"] += 1

    @staticmethod
    def _rates(acc: dict[str, float]) -> dict[str, float | None]:
        if not acc["steps"] or acc["time"] <= 0:
            return {"tokens_per_s": None, "data_share": None}
        return {"tokens_per_s": acc["tokens"] / acc["time"], "data_share": acc["data"] / acc["time"]}

    def interval(self) -> dict[str, float | None]:
        """Rates since the last call (None while only warm-up steps ran)."""
        out = self._rates(self.window)
        self.window = {"tokens": 0, "time": 0.0, "data": 0.0, "steps": 0}
        return out

    def totals(self) -> dict[str, Any]:
        return {**self._rates(self.total), "tokens_seen": self.tokens_seen, "timed_steps": self.total["steps"]}


class MetricsLog:
    """``metrics.jsonl``, one record per line. On resume, records after the checkpoint's step are dropped,
    so the file reads as one uninterrupted run."""

    def __init__(self, path: Path, *, keep_until: int) -> None:
        self.path = path
        if path.exists():
            kept = [line for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip() and _step_of(line) <= keep_until]
            atomic_write_text(path, "".join(line + "\n" for line in kept))

    def writer(self, on_log: Callable[[dict[str, Any]], None] | None) -> Callable[[dict[str, Any]], None]:
        def emit(record: dict[str, Any]) -> None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
            log.info("%s", format_record(record))
            if on_log is not None:
                on_log(record)
        return emit


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("step", 0))
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
        return 1 << 62  # an unreadable line (a torn last write) is dropped


def format_record(record: dict[str, Any]) -> str:
    """One human line for a metrics record."""
    if record.get("event") == "eval":
        return f"step {record['step']:>6}  eval loss {record['eval_loss']:.4f}  ppl {record['eval_ppl']:.2f}"
    rate = record.get("tokens_per_s")
    share = record.get("data_share")
    extra = f"  tok/s {rate:,.0f}  data {share:.1%}" if rate is not None and share is not None else ""
    return f"step {record['step']:>6}  loss {record['loss']:.4f}  lr {record['lr']:.2e}{extra}"
