"""How fast a run goes: parameters and FLOPs from the architecture, step timing, model FLOPs utilisation.

FLOPs per token follow the PaLM paper's MFU estimate (Chowdhery et al. 2022, appendix B),
as nanoGPT's ``estimate_mfu`` does: ``6 N + 12 L H Q T`` for a forward and backward pass,
where N counts the matrices a token passes through (the tied embedding once, as the output
head's matmul; norms are negligible), L layers, H heads of size Q, and T the context
(attention scores and their weighted sum). MFU = achieved model FLOP/s divided by the
machine's peak, here *measured*: the FLOP/s of a large square matmul in the run's dtype with
the run's threads (a CPU's datasheet peak is rarely reached by any library).

No torch at import: ``measured_peak`` imports it when called.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from .config import ModelSize, swiglu_hidden

#: steps of each process left out of tokens/s (allocator warm-up; torch.compile's first steps)
TIMING_WARMUP = 3


def param_count(size: ModelSize, *, vocab: int) -> int:
    """Parameters of the GPT in model.py: tied embedding, per block qkv + proj + SwiGLU + 2 RMSNorm gains, final norm."""
    d, hidden = size.d_model, swiglu_hidden(size.d_model)
    block = 4 * d * d + 3 * d * hidden + 2 * d
    return vocab * d + size.n_layer * block + d


def flops_per_token(size: ModelSize, *, vocab: int, context: int) -> int:
    """Training FLOPs per token (forward + backward): 6 N + 12 L H Q T (PaLM appendix B)."""
    d, hidden = size.d_model, swiglu_hidden(size.d_model)
    matrices = vocab * d + size.n_layer * (4 * d * d + 3 * d * hidden)
    return 6 * matrices + 12 * size.n_layer * d * context


@lru_cache(maxsize=8)
def measured_peak(device: str, dtype: str, threads: int, n: int = 1024) -> float:
    """FLOP/s of an n x n matmul on ``device`` in ``dtype`` (median of 5 after warm-up); cached per process."""
    import torch  # deferred: this module is imported without torch

    dev = torch.device(device)
    kind = getattr(torch, dtype)
    a = torch.randn(n, n, device=dev).to(kind)
    b = torch.randn(n, n, device=dev).to(kind)
    previous = torch.get_num_threads()
    if dev.type == "cpu" and threads:
        torch.set_num_threads(threads)
    try:
        times = []
        for i in range(8):
            t0 = time.perf_counter()
            a @ b
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            if i >= 3:
                times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(previous)
    return 2 * n**3 / sorted(times)[len(times) // 2]


class StepTimer:
    """Step and data-loading wall time; tokens/s leaves out each process's first TIMING_WARMUP steps,
    unless a run is too short to have any others (then every step counts, and ``warmup_included`` says so)."""

    def __init__(self) -> None:
        self.seen = 0  # steps this process ran
        self.tokens_seen = 0
        self._t0 = self._data = 0.0
        self._tokens = 0
        self.total = self._zero()
        self.window = self._zero()
        self.early = self._zero()  # the warm-up steps, for runs too short to time without them

    @staticmethod
    def _zero() -> dict[str, float]:
        return {"tokens": 0, "time": 0.0, "data": 0.0, "steps": 0}

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def data_done(self, *, tokens: int) -> None:
        self._data = time.perf_counter() - self._t0
        self._tokens = tokens

    def step_done(self) -> None:
        elapsed = time.perf_counter() - self._t0
        self.seen += 1
        self.tokens_seen += self._tokens
        for acc in ((self.early,) if self.seen <= TIMING_WARMUP else (self.total, self.window)):
            acc["tokens"] += self._tokens
            acc["time"] += elapsed
            acc["data"] += self._data
            acc["steps"] += 1

    @staticmethod
    def _rates(acc: dict[str, float]) -> tuple[float | None, float | None]:
        if not acc["steps"] or acc["time"] <= 0:
            return None, None
        return acc["tokens"] / acc["time"], acc["data"] / acc["time"]

    def interval(self) -> tuple[float | None, float | None]:
        """(tokens/s, data share) since the last call; None while only warm-up steps ran."""
        out = self._rates(self.window)
        self.window = self._zero()
        return out

    def totals(self) -> dict[str, Any]:
        warmup_included = not self.total["steps"]
        rate, share = self._rates(self.early if warmup_included else self.total)
        return {"tokens_per_s": rate or 0.0, "data_share": share or 0.0, "tokens_seen": self.tokens_seen,
                "timed_steps": int(self.early["steps"] if warmup_included else self.total["steps"]),
                "timing_includes_warmup": warmup_included}
