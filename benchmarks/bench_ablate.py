"""The sample pipeline's own evidence (issue 17, item 5): ablate pipelines/pretrain_mix.yaml.

Variants: full (baseline), raw (mix + tokenize only), no-dedup (paragraph and MinHash dedup
removed), no-classifier (the fastText quality classifier removed); 3 seeds each; tiny model,
16 x 128 windows, STEPS steps (the same token budget for every run); scored on WikiText-2
(valid head), Botchan and ARC-Challenge. Writes benchmarks/results/ablate.md with the table,
the wall time and the machine's load before and after.

    .venv/bin/python benchmarks/bench_ablate.py [--steps 100] [--seeds 3] [--output out/bench_ablate]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from dataforge.ablate.page import cell_text, verdict
from dataforge.ablate.results import metric_order
from dataforge.ablate.run import ablate, make_plan
from dataforge.ablate.settings import merge_settings, read_pipeline
from dataforge.ablate.variants import build_variants
from dataforge.io import atomic_write_text

PIPELINE = "pipelines/pretrain_mix.yaml"
VARIANTS = {"full": "full", "raw": "raw", "no-dedup": "-paragraph_dedup,minhash_dedup",
            "no-classifier": "-quality_classifier"}
#: --more: the other stage families of issue 17's question (langid; the Gopher/C4/FineWeb heuristics)
MORE = {"no-langid": "-langid", "no-heuristics": "-gopher_repetition,gopher_quality,c4,fineweb_quality,c4_badwords"}
EVAL_TEXT = ["data/eval/wikitext2_valid_head.txt", "data/eval/botchan_head.txt"]
EVAL_MC = ["data/benchmarks/arc_challenge.jsonl"]


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else "n/a"


def markdown(results: dict, *, variants: dict[str, str], wall: float, load_before: str, load_after: str, steps_note: str) -> str:
    metrics = [m for m in metric_order(results) if not m.endswith("/loss")]
    runs = [r for v in results["variants"].values() for r in v["runs"]]
    reused = sum(1 for r in runs if r["reused"])
    trained = len(runs) - reused
    rates = sorted(r["tokens_per_s"] for r in runs if r.get("tokens_per_s"))
    tps = rates[len(rates) // 2] if rates else float("nan")
    b = results["budget"]
    lines = [
        "# Ablation of the sample pipeline (benchmarks/bench_ablate.py)", "",
        f"`{PIPELINE}` on the bundled data, variants {', '.join(f'`{k}` = `{v}`' for k, v in variants.items())}; "
        f"baseline `{results['baseline']}`; seeds {', '.join(map(str, results['seeds']))}; model "
        f"{results['train']['model']}, {b['steps']} steps x {b['tokens_per_step']:,} tokens = "
        f"{b['tokens_per_run']:,} tokens per run ({steps_note}); {results['train']['threads']} thread per run, "
        f"2 runs at a time.", "",
        f"Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}; "
        f"/proc/loadavg before `{load_before}`, after `{load_after}`.", "",
        f"**Wall time {wall / 60:.1f} min** (building the {len(variants)} variants "
        f"{results['seconds']['build']:.0f} s, {trained} trainings with evaluation {results['seconds']['train']:.0f} s"
        f"{f'; {reused} finished runs reused' if reused else ''}); median {tps:,.0f} tokens/s per training "
        "process.", "",
        "| variant | train tokens | epochs | " + " | ".join(f"{m} {'↓' if m.endswith('bpb') else '↑'}"
                                                          for m in metrics) + " |",
        "|---|---:|---:|" + "---:|" * len(metrics),
    ]
    for name, v in results["variants"].items():
        row = results["table"][name]
        cells = [f"{cell_text(row[m])} {verdict(row[m])}".strip() if m in row else "n/a" for m in metrics]
        lines.append(f"| {name} | {v['train_tokens']:,} | {v['epochs']:.3g} | " + " | ".join(cells) + " |")
    chance = ", ".join(f"{k} {v:.3f}" for k, v in sorted(results["chance"].items()))
    lines += ["", f"Mean ± sample std over the seeds. ▲/▼ better/worse than `{results['baseline']}` beyond seed "
              f"noise, ≈ within it. Rule: {results['rule']['text']}. Chance: {chance}.", ""]
    lines.append("Differences to the baseline (variant - baseline; t = diff / SE, Welch):")
    lines.append("")
    lines.append("| variant | metric | diff | SE | t | beyond noise |")
    lines.append("|---|---|---:|---:|---:|---|")
    for name in results["variants"]:
        for m in metrics:
            vs = results["table"][name].get(m, {}).get("vs_baseline")
            if vs and vs["diff"] is not None:
                t = f"{vs['t']:+.2f}" if vs["t"] is not None else "n/a"
                se = f"{vs['se']:.4f}" if vs["se"] is not None else "n/a"
                lines.append(f"| {name} | {m} | {vs['diff']:+.4f} | {se} | {t} | {vs['beyond_noise']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--output", default="out/bench_ablate")
    ap.add_argument("--results", default="benchmarks/results/ablate.md")
    ap.add_argument("--more", action="store_true", help="also no-langid and no-heuristics (6 variants)")
    args = ap.parse_args()
    variants = {**VARIANTS, **(MORE if args.more else {})}
    raw, _, lines = read_pipeline(PIPELINE)
    settings = merge_settings({}, {"variants": variants, "seeds": args.seeds, "steps": args.steps,
                                   "batch_size": 16, "seq_len": 128, "eval_text": EVAL_TEXT, "eval_mc": EVAL_MC,
                                   "output": args.output, "jobs": 2}, path=PIPELINE, lines=lines)
    plan = make_plan(PIPELINE, raw, settings, build_variants(raw, list(variants.items()), source=PIPELINE))
    before = loadavg()
    t0 = time.perf_counter()
    results = ablate(plan, on_progress=lambda m: print(time.strftime("%H:%M:%S"), m, flush=True))
    wall = time.perf_counter() - t0
    after = loadavg()
    text = markdown(results, variants=variants, wall=wall, load_before=before, load_after=after,
                    steps_note=f"--steps {args.steps}")
    atomic_write_text(args.results, text)
    print(text)


if __name__ == "__main__":
    main()
