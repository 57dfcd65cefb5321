"""Mixture weighting: per-source token budgets realised by deterministic down- and up-sampling.

Counts are in tokens of the run's tokenizer, so the plan is the reduce of ``tokenize``
(after every task encoded its documents). Targets come from weights (fractions of a
total budget: ``inputs.X.weight`` or ``mix: {weights: {...}}``), absolute budgets
(``inputs.X.tokens``), or temperature sampling (p_s proportional to n_s^alpha, as in
multilingual LMs, e.g. XLM-R's alpha=0.3).

A source sampled at rate r = target/available gets floor(r) full epochs, plus the
units whose stable hash bin ``hash_bin(seed, key)`` falls under a cut chosen so the
fractional epoch's tokens land on target: each task histograms its units' tokens by
hash bin (``encode.py``), the plan sums the histograms (counts, never tokens) and takes
the token-weighted quantile. Never more than ``max_epochs``. A unit is a document, or a
``piece_tokens`` piece of a longer one, so a source of a few long documents (books) can
still be sampled at a small rate; a piece cut from its document ends in EOS.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from .stage import AnyParams, Params, Step
from .tokenize.hashing import HIST_BINS, hash_bin, units


class MixParams(Params):
    # total budget; None = the largest mix in which no source repeats
    target_tokens: int | None = Field(None, ge=1, le=10**15)
    # source -> weight (overrides inputs.X.weight); normalised to sum 1
    weights: dict[str, Annotated[float, Field(ge=0, le=1e12)]] | None = None
    # alpha in p ~ n^alpha over available tokens (0.3 in XLM-R); overrides weights
    temperature: float | None = Field(None, ge=0, le=100)
    # cap on repeats per source (Muennighoff et al. 2023: ~4 epochs are as good as new data)
    max_epochs: float = Field(4.0, ge=1, le=10_000)
    shortfall: Literal["redistribute", "leave"] = "redistribute"  # what a capped source's missing share does
    # sampling unit for long documents (a book is sampled in pieces of this many tokens)
    piece_tokens: int = Field(4096, ge=16, le=1 << 30)

    @model_validator(mode="after")
    def _some_weight(self) -> "MixParams":
        if self.weights is not None and sum(self.weights.values()) <= 0:
            raise ValueError("weights sum to 0: nothing would be sampled; give at least one source a weight above 0")
        return self


class Mix(Step[MixParams]):
    """Declares the mixture: ``tokenize``'s reduce plans it from the tasks' token counts and
    its apply tasks realise it while packing. Must come right before ``tokenize``."""

    Params: ClassVar[type[Params]] = MixParams

    @classmethod
    def check_inputs(cls, params: AnyParams, inputs: list[Any]) -> list[tuple[str, str]]:
        """Static checks against the inputs (keys are dotted paths in the pipeline file)."""
        if not isinstance(params, MixParams):
            return []
        names = [i.name for i in inputs]
        out: list[tuple[str, str]] = []
        if params.weights is not None:
            for name, w in params.weights.items():
                if name not in names:
                    close = difflib.get_close_matches(name, names, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else f" (inputs are: {', '.join(names)})"
                    out.append((f"stages.mix.weights.{name}", f"weight for '{name}', which is not an input{hint}"))
            return out
        if params.temperature is not None:
            return out
        weighted = [i for i in inputs if i.weight is not None]
        budgeted = [i for i in inputs if i.tokens is not None]
        if weighted and budgeted:
            out.append(("inputs", "give every input either weight: or tokens:, not a mixture of both"))
        elif weighted and len(weighted) != len(inputs):
            for i in inputs:
                if i.weight is None:
                    out.append((f"inputs.{i.name}", "has no weight: (every input needs one when any has)"))
        elif budgeted and len(budgeted) != len(inputs):
            for i in inputs:
                if i.tokens is None:
                    out.append((f"inputs.{i.name}", "has no tokens: budget (every input needs one when any has)"))
        if budgeted and params.target_tokens is not None:
            out.append(("stages.mix.target_tokens", "target_tokens conflicts with per-input tokens: budgets"))
        if weighted and sum(i.weight for i in weighted) <= 0:
            out.append(("inputs", "weights sum to 0"))
        return out


@dataclass
class MixPlan:
    """What the tasks need to select their share: rates and hash cuts per source (JSON)."""

    available: dict[str, int]  # train-eligible tokens per source
    docs: dict[str, int]
    target: dict[str, int] = field(default_factory=dict)
    rate: dict[str, float] = field(default_factory=dict)  # expected copies per document
    cut: dict[str, int] = field(default_factory=dict)  # units in hash bins below this get one more copy
    seed: int = 0
    piece_tokens: int = 4096
    active: bool = False
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MixPlan":
        return cls(**data)

    def parts(self, doc_id: str, source: str, n: int) -> list[tuple[int, int, bool]]:
        """What of a train document is written: ``(start, end, append_eos)`` spans, copies
        back to back (epoch after epoch). A span that stops short of the document's end
        gets an EOS appended (its own end is not the document's)."""
        if not self.active:
            return [(0, n, False)]
        full = int(math.floor(self.rate.get(source, 0.0)))
        cut = self.cut.get(source, 0)
        us = list(units(doc_id, n, self.piece_tokens))
        counts = [full + (1 if hash_bin(self.seed, key) < cut else 0) for key, _, _ in us]
        out: list[tuple[int, int, bool]] = []
        for epoch in range(max(counts, default=0)):
            start = None
            for (_, a, _), c in zip(us + [("", n, n)], counts + [0]):
                if c > epoch and start is None:
                    start = a
                elif c <= epoch and start is not None:
                    out.append((start, a, a != n))
                    start = None
        return out

    def report(self, per_source: dict[str, dict[str, int]]) -> dict[str, dict[str, Any]]:
        realised_total = sum(c.get("train_tokens", 0) for c in per_source.values()) or 1
        out: dict[str, dict[str, Any]] = {}
        for source in self.available:
            c = per_source.get(source, {})
            realised = c.get("train_tokens", 0)
            avail = self.available[source]
            out[source] = {
                "docs_available": self.docs.get(source, 0),
                "tokens_available": avail,
                "tokens_target": self.target.get(source, avail),
                "tokens_realised": realised,
                "epochs": round(realised / avail, 4) if avail else 0.0,
                "share": round(realised / realised_total, 6),
                "validation_tokens": c.get("validation_tokens", 0),
            }
        return out


@dataclass(frozen=True)
class MixInputs:
    """The inputs' share settings from the pipeline file (``inputs.X.weight`` / ``tokens``)."""

    sources: tuple[str, ...]  # pipeline-file order
    weights: dict[str, float | None]
    budgets: dict[str, int | None]


def _weights(inputs: MixInputs, params: MixParams, available: dict[str, int]) -> dict[str, float]:
    if params.temperature is not None:  # n^alpha relative to the largest source's: no overflow at any alpha
        top = max((n for n in available.values() if n > 0), default=1)
        raw = {s: ((n / top) ** params.temperature if n > 0 else 0.0) for s, n in available.items()}
    elif params.weights is not None:
        raw = {s: float(params.weights.get(s, 0.0)) for s in available}
    else:
        raw = {s: float(w if w is not None else 1.0) for s, w in inputs.weights.items()}
    total = sum(raw.values()) or 1.0
    return {s: w / total for s, w in raw.items()}


def plan_mixture(*, summaries: list[dict[str, Any]], hists: Iterable[dict[str, np.ndarray]], params: MixParams | None,
                 inputs: MixInputs, seed: int) -> MixPlan:
    """The plan from per-task counts (``encode.json``) and histograms (``mixhist.npz``,
    consumed one task at a time: the driver holds one summed histogram per source)."""
    sources = list(inputs.sources)
    available = dict.fromkeys(sources, 0)
    docs = dict.fromkeys(sources, 0)
    for summary in summaries:
        for source, c in summary["sources"].items():
            available[source] = available.get(source, 0) + c["train_tokens"]
            docs[source] = docs.get(source, 0) + c["train_docs"]
    result = MixPlan(available=available, docs=docs, seed=seed)
    if params is None:
        return result
    result.piece_tokens = params.piece_tokens
    result.active = True
    budgets = {s: b for s, b in inputs.budgets.items() if b is not None}
    if budgets and params.weights is None and params.temperature is None:
        target = {s: float(budgets.get(s, 0)) for s in sources}
    else:
        w = _weights(inputs, params, available)
        if params.target_tokens is not None:
            total = float(params.target_tokens)
        else:  # largest budget in which no source needs more than one epoch
            total = min((available[s] / w[s] for s in sources if w[s] > 0), default=0.0)
        target = {s: w[s] * total for s in sources}
    target = _cap(target, available, params, result.warnings)
    result.target = {s: int(round(t)) for s, t in target.items()}
    for s in sources:
        result.rate[s] = (target[s] / available[s]) if available[s] else 0.0
    _cuts(result, hists)
    return result


def _cap(target: dict[str, float], available: dict[str, int], params: MixParams, warnings: list[str]) -> dict[str, float]:
    """Cap each source at max_epochs; redistribute (or leave) the shortfall; warn how much."""
    target = dict(target)
    capped: set[str] = set()
    for _ in range(len(target) + 1):
        short = 0.0
        for s, t in target.items():
            limit = available[s] * params.max_epochs
            if t > limit + 0.5:
                short += t - limit
                if s not in capped:
                    why = "has no documents after filtering" if available[s] == 0 else (
                        f"has {available[s]:,} tokens; at most {params.max_epochs:g} epochs give {int(limit):,}")
                    warnings.append(f"mix: source '{s}' cannot reach its target of {int(t):,} tokens: it {why}; "
                                    f"short by {int(t - limit):,} tokens"
                                    + (" (redistributed to the other sources)" if params.shortfall == "redistribute"
                                       else " (left short)"))
                target[s] = limit
                capped.add(s)
        if short <= 0.5 or params.shortfall == "leave":
            break
        room = {s: t for s, t in target.items() if s not in capped and t > 0}
        if not room:
            warnings.append(f"mix: {int(short):,} tokens of the budget cannot be placed: every source is at its cap")
            break
        total_room = sum(room.values())
        for s, t in room.items():
            target[s] = t + short * t / total_room
    return target


def _cuts(result: MixPlan, hists: Iterable[dict[str, np.ndarray]]) -> None:
    """For each source, the hash-bin cut whose units carry the fractional epoch's tokens."""
    frac_target = {s: (r - math.floor(r)) * result.available[s] for s, r in result.rate.items()}
    need = [s for s in result.rate if frac_target[s] > 0]
    if not need:
        return
    total = {s: np.zeros(HIST_BINS, dtype=np.int64) for s in need}
    for task_hist in hists:
        for s in need:
            h = task_hist.get(s)
            if h is not None:
                total[s] += h
    for s, h in total.items():
        cum = np.cumsum(h)
        k = int(np.searchsorted(cum, frac_target[s]))  # first bin whose inclusion reaches the target
        k = min(k, HIST_BINS - 1)
        below = cum[k - 1] if k > 0 else 0
        # include bin k only if that lands closer to the target than stopping before it
        result.cut[s] = k + 1 if abs(cum[k] - frac_target[s]) <= abs(frac_target[s] - below) else k
