"""Mean and spread over seeds, and whether a difference to the baseline is larger than seed noise.

The rule (pure functions, no I/O): a variant's difference to the baseline on a metric is
"beyond noise" when ``|mean_v - mean_b| > 2 * SE``, with ``SE = sqrt(s_v^2/n_v + s_b^2/n_b)``
the standard error of the difference of two means with unequal variances (Welch 1947,
Biometrika 34:28). Two standard errors is the usual ~95% normal band; with 3 seeds a side
Welch's t has ~4 degrees of freedom, whose two-sided 5% critical value is 2.78, so the rule is
the lenient screen (about 88% confidence at df=4), not a significance test: ``t`` and ``df``
are reported with it so a reader can apply the stricter one. FineWeb (Penedo et al. 2024)
and DataDecide (Magnusson et al. 2025) likewise judge data ablations against the spread of
seeds. With one seed on either side there is no spread, and the verdict is ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: how many standard errors of the difference count as "beyond seed noise"
NOISE_SE = 2.0

#: metrics where a smaller value is better (the rest, accuracies, are better when larger)
LOWER_IS_BETTER = ("bpb", "loss", "eval_loss", "train_loss", "ppl")


def lower_is_better(metric: str) -> bool:
    return metric.rsplit("/", 1)[-1] in LOWER_IS_BETTER


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """n, mean, sample std (n-1), min, max of the finite values (NaN/inf are counted as dropped)."""
    finite = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    n = len(finite)
    out: dict[str, Any] = {"n": n, "dropped": len(values) - n, "values": finite}
    if n == 0:
        return {**out, "mean": None, "std": None, "min": None, "max": None}
    mean = sum(finite) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else None
    return {**out, "mean": mean, "std": std, "min": min(finite), "max": max(finite)}


def compare(variant: dict[str, Any], baseline: dict[str, Any], *, metric: str) -> dict[str, Any]:
    """The difference of two summaries (variant - baseline) and its verdict."""
    if variant["mean"] is None or baseline["mean"] is None:
        return {"diff": None, "se": None, "t": None, "df": None, "beyond_noise": None, "better": None}
    diff = variant["mean"] - baseline["mean"]
    if variant["std"] is None or baseline["std"] is None:  # one seed: no spread to judge by
        return {"diff": diff, "se": None, "t": None, "df": None, "beyond_noise": None, "better": None}
    va, vb = variant["std"] ** 2 / variant["n"], baseline["std"] ** 2 / baseline["n"]
    se = math.sqrt(va + vb)
    if se == 0.0:
        beyond = diff != 0.0
        t = math.copysign(math.inf, diff) if diff else 0.0
        df = None
    else:
        t = diff / se
        beyond = abs(diff) > NOISE_SE * se
        # Welch-Satterthwaite degrees of freedom
        denom = (va**2 / (variant["n"] - 1) if va else 0.0) + (vb**2 / (baseline["n"] - 1) if vb else 0.0)
        df = (va + vb) ** 2 / denom if denom else None
    better = None
    if beyond:
        better = diff < 0 if lower_is_better(metric) else diff > 0
    return {"diff": diff, "se": se, "t": t if math.isfinite(t) else None, "df": df, "beyond_noise": beyond,
            "better": better}


def table(per_run: dict[str, list[dict[str, float]]], *, baseline: str) -> dict[str, dict[str, Any]]:
    """``{variant: {metric: summary + comparison}}`` from each variant's per-seed metric dicts."""
    metrics = sorted({m for runs in per_run.values() for run in runs for m in run})
    summaries = {v: {m: summarize([run[m] for run in runs if m in run]) for m in metrics}
                 for v, runs in per_run.items()}
    out: dict[str, dict[str, Any]] = {}
    for v, by_metric in summaries.items():
        out[v] = {}
        for m, s in by_metric.items():
            row = dict(s)
            if v != baseline and baseline in summaries:
                row["vs_baseline"] = compare(s, summaries[baseline][m], metric=m)
            out[v][m] = row
    return out
