"""Mixture weighting: per-source token budgets realised by deterministic down- and up-sampling.

Counts are in tokens of the run's tokenizer, so ``mix`` runs in the final phase after
encoding. Targets come from weights (fractions of a total budget: ``inputs.X.weight``
or ``mix: {weights: {...}}``), absolute budgets (``inputs.X.tokens``), or temperature
sampling (p_s proportional to n_s^alpha, as in multilingual LMs, e.g. XLM-R's alpha=0.3).

A source sampled at rate r = target/available gets floor(r) full epochs, plus the
units whose stable hash u(seed, id, epoch) falls under a threshold chosen so the
fractional epoch's tokens land on target (a token-weighted quantile, found with a
histogram in bounded memory). Never more than ``max_epochs``. A unit is a document, or
a ``piece_tokens`` piece of a longer one, so a source of a few long documents (books)
can still be sampled at a small rate; a piece cut from its document ends in EOS.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from .stage import Params, Step
from .tokenize.pack import iter_task_docs, unit_hash

BINS = 1 << 20  # quantile histogram resolution: error <= tokens of the docs in one bin


class MixParams(Params):
    target_tokens: int | None = None  # total budget; None = the largest mix in which no source repeats
    weights: dict[str, float] | None = None  # source -> weight (overrides inputs.X.weight); normalised to sum 1
    temperature: float | None = None  # alpha in p ~ n^alpha over available tokens (0.3 in XLM-R); overrides weights
    max_epochs: float = 4.0  # cap on repeats per source (Muennighoff et al. 2023: ~4 epochs are as good as new data)
    shortfall: Literal["redistribute", "leave"] = "redistribute"  # what a capped source's missing share does
    piece_tokens: int = 4096  # sampling unit for long documents (a book is sampled in pieces of this many tokens)


class Mix(Step[MixParams]):
    """Declares the mixture; the runner applies it while packing (a barrier by nature)."""

    Params: ClassVar[type[Params]] = MixParams

    @classmethod
    def check_inputs(cls, params: Params, inputs: list[Any]) -> list[tuple[str, str]]:
        """Static checks against the inputs (keys are dotted paths in the pipeline file)."""
        assert isinstance(params, MixParams)
        names = [i.name for i in inputs]
        out: list[tuple[str, str]] = []
        if params.max_epochs < 1:
            out.append(("stages.mix.max_epochs", f"max_epochs must be >= 1, got {params.max_epochs}"))
        if params.weights is not None:
            for name, w in params.weights.items():
                if name not in names:
                    import difflib

                    close = difflib.get_close_matches(name, names, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else f" (inputs are: {', '.join(names)})"
                    out.append((f"stages.mix.weights.{name}", f"weight for '{name}', which is not an input{hint}"))
                elif w < 0:
                    out.append((f"stages.mix.weights.{name}", f"weight must be >= 0, got {w}"))
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
    available: dict[str, int]  # train-eligible tokens per source
    docs: dict[str, int]
    target: dict[str, int] = field(default_factory=dict)
    rate: dict[str, float] = field(default_factory=dict)  # expected copies per document
    threshold: dict[str, float] = field(default_factory=dict)  # hash cut for the fractional epoch
    seed: int = 0
    piece_tokens: int = 4096
    active: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        return sum(self.target.values()) if self.active else sum(self.available.values())

    def selector(self, eos: int) -> Callable[[str, str, np.ndarray], list[np.ndarray]] | None:
        """What to write of each document: copies of it, or of its sampled pieces."""
        if not self.active:
            return None

        def select(doc_id: str, source: str, tokens: np.ndarray) -> list[np.ndarray]:
            rate = self.rate.get(source, 0.0)
            full = int(math.floor(rate))
            cut = self.threshold.get(source, 0.0)
            units = list(_units(doc_id, len(tokens), self.piece_tokens))
            counts = [full + (1 if unit_hash(self.seed, "mix", full, key) < cut else 0) for key, _, _ in units]
            out: list[np.ndarray] = []
            for epoch in range(max(counts, default=0)):
                start = None
                for (key, a, b), c in zip(units + [("", len(tokens), len(tokens))], counts + [0]):
                    if c > epoch and start is None:
                        start = a
                    elif c <= epoch and start is not None:
                        piece = tokens[start:a]
                        out.append(piece if a == len(tokens) else np.append(piece, np.asarray(eos, piece.dtype)))
                        start = None
            return out

        return select

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


def _weights(plan: Any, params: MixParams, available: dict[str, int]) -> dict[str, float]:
    inputs = plan.config.inputs
    if params.temperature is not None:
        raw = {s: (n ** params.temperature if n > 0 else 0.0) for s, n in available.items()}
    elif params.weights is not None:
        raw = {s: float(params.weights.get(s, 0.0)) for s in available}
    else:
        raw = {i.name: float(i.weight if i.weight is not None else 1.0) for i in inputs}
    total = sum(raw.values()) or 1.0
    return {s: w / total for s, w in raw.items()}


def plan_mixture(plan: Any, task_dirs: list[Path], *, dtype: np.dtype, validation_fraction: float) -> MixPlan:
    """Count tokens per source (excluding validation documents) and fix per-source targets."""
    seed = plan.config.seed
    sources = [i.name for i in plan.config.inputs]
    available = dict.fromkeys(sources, 0)
    docs = dict.fromkeys(sources, 0)
    mix_spec = plan.mix
    for d in task_dirs:
        for _tokens, ids, srcs, n in iter_task_docs(d, dtype):
            for doc_id, source, ntok in zip(ids, srcs, n.tolist()):
                if validation_fraction and unit_hash(seed, "validation", doc_id) < validation_fraction:
                    continue
                available[source] += ntok
                docs[source] += 1
    result = MixPlan(available=available, docs=docs, seed=seed)
    if mix_spec is None:
        return result
    params: MixParams = mix_spec.params
    result.piece_tokens = params.piece_tokens
    result.active = True
    budgets = {i.name: i.tokens for i in plan.config.inputs if i.tokens is not None}
    if budgets and params.weights is None and params.temperature is None:
        target = {s: float(budgets.get(s, 0)) for s in sources}
    else:
        w = _weights(plan, params, available)
        if params.target_tokens is not None:
            total = float(params.target_tokens)
        else:  # largest budget in which no source needs more than one epoch
            total = min((available[s] / w[s] for s in sources if w[s] > 0), default=0.0)
        target = {s: w[s] * total for s in sources}
    target = _cap(target, available, params, result.warnings)
    result.target = {s: int(round(t)) for s, t in target.items()}
    for s in sources:
        result.rate[s] = (target[s] / available[s]) if available[s] else 0.0
    _thresholds(result, task_dirs, dtype=dtype, validation_fraction=validation_fraction)
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


def _thresholds(result: MixPlan, task_dirs: list[Path], *, dtype: np.dtype, validation_fraction: float) -> None:
    """For each source, the hash cut whose documents carry the fractional epoch's tokens."""
    frac_target = {s: (r - math.floor(r)) * result.available[s] for s, r in result.rate.items()}
    hist = {s: np.zeros(BINS, dtype=np.int64) for s in result.rate if frac_target[s] > 0}
    if not hist:
        return
    for d in task_dirs:
        for _tokens, ids, srcs, n in iter_task_docs(d, dtype):
            for doc_id, source, ntok in zip(ids, srcs, n.tolist()):
                h = hist.get(source)
                if h is None or (validation_fraction and
                                 unit_hash(result.seed, "validation", doc_id) < validation_fraction):
                    continue
                full = int(math.floor(result.rate[source]))
                for key, a, b in _units(doc_id, ntok, result.piece_tokens):
                    h[min(BINS - 1, int(unit_hash(result.seed, "mix", full, key) * BINS))] += b - a
    for s, h in hist.items():
        cum = np.cumsum(h)
        k = int(np.searchsorted(cum, frac_target[s]))  # first bin whose inclusion reaches the target
        k = min(k, BINS - 1)
        below = cum[k - 1] if k > 0 else 0
        # include bin k only if that lands closer to the target than stopping before it
        cut = k + 1 if abs(cum[k] - frac_target[s]) <= abs(frac_target[s] - below) else k
        result.threshold[s] = cut / BINS


def _units(doc_id: str, n: int, piece: int) -> Iterator[tuple[str, int, int]]:
    """Sampling units of a document: (hash key, start, end); the whole document when short."""
    if n <= piece:
        yield doc_id, 0, n
        return
    for k, a in enumerate(range(0, n, piece)):
        yield f"{doc_id}#{k}", a, min(n, a + piece)
