"""`dataforge ablate`: the terminal side of ``dataforge.ablate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..ablate.page import cell_text, verdict
from ..ablate.results import metric_order
from ..ablate.stats import lower_is_better
from .common import err_console, handle_errors, out_console
from .terminal import cell


@click.command()
@click.argument("pipeline", type=click.Path(dir_okay=False))
@click.option("--variant", "variants", multiple=True, metavar="NAME=EDIT",
              help="A variant (repeatable): full, raw, only=STAGE,..., -STAGE[,STAGE], STAGE.option=VALUE, "
                   "inputs.NAME.key=VALUE; several edits joined by ';'. Replaces the file's ablate.variants.")
@click.option("--seeds", type=click.IntRange(1, 100), default=None, help="Seeds per variant [default: 3].")
@click.option("--steps", type=click.IntRange(1), default=None,
              help="Training steps per run [default: one pass over the smallest variant, at most 200].")
@click.option("--model", default=None, help="Model size (tiny, mini, small, ...) [default: tiny].")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="Sequences per step [default: 16].")
@click.option("--seq-len", type=click.IntRange(2), default=None, help="Tokens per window [default: 128].")
@click.option("--eval-text", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Reference text every run is scored on (bits per byte); repeatable.")
@click.option("--eval-mc", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Multiple-choice JSONL every run is scored on (acc, acc_norm); repeatable.")
@click.option("--baseline", default=None, help="Variant the others are compared to [default: full, else the first].")
@click.option("--jobs", type=click.IntRange(1, 256), default=None,
              help="Training processes at once, one thread each [default: 2].")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes for building each variant [default: the pipeline's executor].")
@click.option("-o", "--output", default=None, type=click.Path(file_okay=False),
              help="Ablation output folder [default: <pipeline output>/ablate].")
@handle_errors
def ablate(pipeline: str, variants: tuple[str, ...], workers: int | None, **options: Any) -> None:
    """Train the same small model on variants of a pipeline's data and compare them over seeds.

    Each variant is built by the normal runner into OUTPUT/variants/NAME, trained once per
    seed (same model, token budget and schedule) into OUTPUT/runs/NAME/TAG/seed-S (TAG: the settings), and scored
    on the evaluation sets. OUTPUT/results.json holds every figure; OUTPUT/report.html the
    table and the loss curves. A rerun reuses every finished variant and run. The table
    marks a difference to the baseline larger than 2 standard errors of seed noise.

    \b
    Examples:
      dataforge ablate pipelines/pretrain_mix.yaml --variant full --variant raw \\
          --variant no-dedup=-minhash_dedup,paragraph_dedup --seeds 3 --steps 100 \\
          --eval-text data/eval/wikitext2_valid_head.txt --eval-mc data/benchmarks/arc_challenge.jsonl
      dataforge ablate my_pipeline.yaml -o out/my_ablation   # settings from its ablate: section
    """
    from ..ablate.run import ablate as run_ablation, make_plan  # deferred: the runner and the API, ~0.5 s
    from ..ablate.settings import merge_settings, read_pipeline  # deferred: as above (the config)
    from ..ablate.variants import build_variants, parse_cli_variant  # deferred: as above

    raw, section, lines = read_pipeline(pipeline)
    overrides = dict(options)
    if variants:
        overrides["variants"] = dict(parse_cli_variant(v) for v in variants)
    settings = merge_settings(section, overrides, path=pipeline, lines=lines)
    plan = make_plan(pipeline, raw, settings, build_variants(raw, list(settings.variants.items()), source=pipeline))
    con = err_console()
    con.print(f"ablation of {cell(pipeline)}: {len(plan.variants)} variants x {settings.seeds} seeds -> "
              f"{cell(plan.output)}")
    results = run_ablation(plan, workers=workers, on_progress=lambda msg: con.print(cell(msg)))
    print_table(results)
    out_console().print(f"results: {cell(Path(results['output']) / 'results.json')}; "
                        f"page: {cell(Path(results['output']) / 'report.html')}")


def print_table(results: dict[str, Any]) -> None:
    metrics = metric_order(results)
    b = results["budget"]
    table = Table(title=f"{b['steps']} steps x {b['tokens_per_step']:,} tokens per run, seeds "
                        f"{', '.join(map(str, results['seeds']))}; baseline {results['baseline']}")
    table.add_column("variant")
    table.add_column("epochs", justify="right")
    for m in metrics:
        table.add_column(f"{m} {'(lower better)' if lower_is_better(m) else '(higher better)'}", justify="right")
    for name, v in results["variants"].items():
        row = results["table"][name]
        table.add_row(cell(name), f"{v['epochs']:.3g}",
                      *[cell(f"{cell_text(row[m])} {verdict(row[m])}".strip()) if m in row else "n/a" for m in metrics])
    con = out_console()
    con.print(table)
    chance = ", ".join(f"{k} {v:.3f}" for k, v in sorted(results["chance"].items()))
    if chance:
        con.print(f"chance: {cell(chance)}")
    con.print("▲/▼ better/worse than the baseline beyond seed noise, ≈ within it, ? one seed (no spread). "
              f"Wall time {results['seconds']['total']:.0f} s.")
