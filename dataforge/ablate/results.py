"""``results.json`` of an ablation: assembled from the runs, written atomically, read back.

Schema (``format: dataforge-ablate/1``)::

    pipeline, output, baseline, seeds [int], train {TrainConfig without seed},
    budget {steps, tokens_per_step, tokens_per_run, steps_from: given|auto},
    eval_sets {name: {path, kind}}, chance {"<set>/chance": value}, eval_set_sizes {"<set>/<count>": n},
    variants {name: {edit, removed [stage labels], shards, train_tokens, epochs, built_reused,
                     build_seconds, runs [{seed, dir, reused, seconds, metrics {"<set>/<metric>": v},
                                           eval_loss, tokens_per_s, curve [[step, eval_loss], ...]}]}},
    table {variant: {metric: {n, dropped, values, mean, std, min, max,
                              vs_baseline {diff, se, t, df, beyond_noise, better}}}},
    rule {noise_se, text}, seconds {build, train, total}
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataforgeError
from ..io import atomic_write_text
from . import stats

if TYPE_CHECKING:
    from .run import Plan

FORMAT = "dataforge-ablate/1"
#: the per-set metrics compared across variants (evaluate.py's; chance and set sizes are constants)
COMPARED = ("bpb", "loss", "acc", "acc_norm")
RULE = (f"beyond noise: |mean(variant) - mean(baseline)| > {stats.NOISE_SE:g} x sqrt(s_v^2/n_v + s_b^2/n_b) "
        "(two standard errors of the difference, unequal variances; Welch's t and df reported alongside)")


def read_curve(run_dir: Path) -> list[list[float]]:
    """[[step, eval_loss], ...] from a run's metrics.jsonl (eval records; bad lines skipped)."""
    out: dict[int, float] = {}
    try:
        lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("event") == "eval" and isinstance(rec.get("eval_loss"), (int, float)):
            out[int(rec["step"])] = float(rec["eval_loss"])  # a resumed run may log a step twice: keep the last
    return [[s, v] for s, v in sorted(out.items())]


def _json_safe(value: Any) -> Any:
    """NaN/inf become null (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def assemble(plan: Plan, built: dict[str, dict[str, Any]], runs: dict[str, list[dict[str, Any]]], *,
             steps: int, tokens_per_step: int, steps_from: str, seconds: dict[str, float]) -> dict[str, Any]:
    from ..train import eval_sets_from  # deferred: ~0.4 s (trainer, config) the report's ablation table skips
    from .settings import train_config  # deferred: as above

    cfg = train_config(plan.settings, steps=steps, seed=plan.settings.base_seed, path=plan.pipeline)
    per_run: dict[str, list[dict[str, float]]] = {}
    chance: dict[str, float] = {}
    sizes: dict[str, float] = {}
    variants: dict[str, Any] = {}
    for v in plan.variants:
        rows = []
        for r in runs[v.name]:
            summary = r.get("summary") or {}
            sets = {}
            for k, val in (summary.get("eval_sets") or {}).items():
                kind = k.rsplit("/", 1)[-1]
                if kind == "chance":
                    chance[k] = val
                elif kind in COMPARED:
                    sets[k] = val
                else:  # sizes of the set (questions, bytes, tokens): the same for every run
                    sizes[k] = val
            rows.append({"seed": r["seed"], "dir": r["dir"], "reused": bool(r.get("reused")),
                         "seconds": r.get("seconds"), "metrics": sets, "eval_loss": summary.get("eval_loss"),
                         "tokens_per_s": summary.get("tokens_per_s"),
                         "curve": read_curve(plan.output / r["dir"])})
        per_run[v.name] = [row["metrics"] for row in rows]
        b = built[v.name]
        variants[v.name] = {"edit": v.edit, "removed": list(v.removed), "shards": str(Path("variants") / v.name),
                            "train_tokens": b["train_tokens"], "epochs": steps * tokens_per_step / b["train_tokens"],
                            "built_reused": b["reused"], "build_seconds": b["seconds"], "runs": rows}
    return _json_safe({
        "format": FORMAT, "pipeline": plan.pipeline, "output": str(plan.output), "baseline": plan.baseline,
        "seeds": [plan.settings.base_seed + i for i in range(plan.settings.seeds)],
        "train": {k: v for k, v in cfg.model_dump(mode="json").items() if k not in ("seed", "steps")},
        "budget": {"steps": steps, "tokens_per_step": tokens_per_step, "tokens_per_run": steps * tokens_per_step,
                   "steps_from": steps_from},
        "eval_sets": {s.name: {"path": s.path, "kind": s.kind}
                      for s in eval_sets_from(plan.settings.eval_text, plan.settings.eval_mc)},
        "chance": chance, "eval_set_sizes": sizes, "variants": variants, "table": stats.table(per_run, baseline=plan.baseline),
        "rule": {"noise_se": stats.NOISE_SE, "text": RULE}, "seconds": seconds,
    })


def write_results(output: Path, results: dict[str, Any]) -> Path:
    path = Path(output) / "results.json"
    atomic_write_text(path, json.dumps(results, indent=1, sort_keys=False, allow_nan=False) + "\n")
    return path


def read_results(output: Path) -> dict[str, Any]:
    path = Path(output) / "results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataforgeError(f"{path}: cannot read ablation results ({exc}); run dataforge ablate first") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataforgeError(f"{path}: not a {FORMAT} results file")
    return data


def metric_order(results: dict[str, Any]) -> list[str]:
    """Metrics for display: bits per byte first, then accuracies, then the rest (chance is separate)."""
    metrics = sorted({m for row in results["table"].values() for m in row})
    rank = {"bpb": 0, "acc_norm": 1, "acc": 2, "loss": 3}
    return sorted(metrics, key=lambda m: (rank.get(m.rsplit("/", 1)[-1], 9), m))
