"""``dataforge train``, ``dataforge sample`` and ``dataforge evaluate``: thin layers over ``dataforge.train``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import click

from ..train import eval_sets_from, load_train_config, require_torch, run_training
from ..train.config import DEFAULTS, MODEL_SIZES
from ..train.events import Event, RunStarted, format_event
from ..train.throughput import param_count
from .common import echo, handle_errors
from .terminal import printable

#: the vocabulary the sizes' parameter counts are given for (data/tokenizer.json's)
HELP_VOCAB = 8192


def _default(name: str) -> str:
    value = getattr(DEFAULTS, name)
    shown = {None: "from the shards", "": "none"}.get(value, value) if not isinstance(value, list) else "none"
    return f" [default: {shown}]"


def _sizes_epilog() -> str:
    rows = [f"  {name:<7} {s.n_layer:>2} layers x {s.d_model:>3} wide, {s.n_head:>2} heads, lr {s.lr:g}: "
            f"{param_count(s, vocab=HELP_VOCAB) / 1e6:6.2f}M params" for name, s in MODEL_SIZES.items()]
    return "\b\nModel sizes (parameters with an 8,192-token vocabulary; the embedding is tied):\n" + "\n".join(rows)


@click.command(epilog=_sizes_epilog())
@click.option("--shards", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Output folder of a dataforge run or tokenize-sft (holds manifest.json).")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: checkpoint, metrics.jsonl, run.json, summary.json, tokenizer. Claimed and locked; "
                   "a folder dataforge did not make is refused.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML with train settings (or a pipeline file: its train: section). Options given here win.")
@click.option("--model", type=click.Choice(list(MODEL_SIZES)), help="Model size (see below)." + _default("model"))
@click.option("--steps", type=int, help="Optimizer steps." + _default("steps"))
@click.option("--batch-size", type=int, help="Sequences per micro-batch." + _default("batch_size"))
@click.option("--grad-accum", type=int, help="Micro-batches per step." + _default("grad_accum"))
@click.option("--seq-len", type=int, help="Tokens per window." + _default("seq_len"))
@click.option("--lr", type=float, help="Peak learning rate [default: the model size's, below].")
@click.option("--warmup", type=int, help="Linear warmup steps." + _default("warmup"))
@click.option("--eval-every", type=int, help="Evaluate every N steps (0 = only at the end)." + _default("eval_every"))
@click.option("--eval-batches", type=int, help="Fixed eval batches." + _default("eval_batches"))
@click.option("--checkpoint-every", type=int, help="Checkpoint every N steps (0 = only at the end)."
              + _default("checkpoint_every"))
@click.option("--log-every", type=int, help="A training line every N steps." + _default("log_every"))
@click.option("--sampling", type=click.Choice(["random", "epoch"]), help="Random windows or epoch passes."
              + _default("sampling"))
@click.option("--seed", type=int, help="Seed for init, dropout and data order (0 to 2**63-1)." + _default("seed"))
@click.option("--device", help="auto, cpu, cuda, cuda:N, mps." + _default("device"))
@click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16", "float16"]),
              help="Precision: auto = bf16 on GPUs and CPUs that have it, else fp16 (GPU) or fp32." + _default("dtype"))
@click.option("--threads", type=int, help="CPU threads for torch (0 = one per core)." + _default("threads"))
@click.option("--compile/--no-compile", "compile_", default=None, help="torch.compile the model blocks."
              + _default("compile"))
@click.option("--verify", type=click.Choice(["sha256", "quick"]),
              help="Shard check before training: every byte hashed, or headers and counts only." + _default("verify"))
@click.option("--eval-text", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Reference text to score at the end (loss, bits per byte); repeatable [default: none].")
@click.option("--eval-mc", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Multiple-choice JSONL to score at the end (acc, acc_norm, chance); repeatable [default: none].")
@click.option("--resume", type=click.Choice(["no", "yes", "auto"]), default="no", is_flag=False, flag_value="yes",
              show_default=True, help="Continue the run in --output: --resume (exactly, or refuse), "
                                      "--resume=auto (continue if shards and settings match, else start afresh).")
@handle_errors
def train(shards: Path, output: Path, config_file: Path | None, resume: str, compile_: bool | None,
          eval_text: tuple[str, ...], eval_mc: tuple[str, ...], **options: Any) -> None:
    """Train a small GPT on the shards in SHARDS and report train/eval loss, tokens/s and MFU.

    Pretraining shards are read as one token stream (random windows); SFT shards row by
    row with their loss mask. Eval uses the validation split, else a held-out tail of train.
    Shards are checked against the manifest first (sha256 of every shard by default).
    Logs go to the terminal and OUTPUT/metrics.jsonl; OUTPUT/ckpt.pt is rewritten
    atomically, so a killed run continues exactly with --resume (the same settings; a
    larger --steps is allowed but stretches the lr schedule). A NaN or infinite loss stops
    the run with exit 1 before anything of it is saved.

    \b
    Examples:
      dataforge train --shards out/pretrain_mix --model tiny --steps 200 -o out/run1
      dataforge train --shards out/pretrain_mix --model tiny --steps 200 -o out/run1 --resume
      dataforge train --shards out/pretrain_mix -o out/run1 --eval-text data/eval/wikitext2_valid_head.txt \\
          --eval-mc data/benchmarks/arc_challenge.jsonl
      dataforge train --shards out/sft --config train.yaml -o out/sft_run
    """
    require_torch()
    overrides = {**options, "compile": compile_, "eval_text": list(eval_text) or None,
                 "eval_mc": list(eval_mc) or None}
    config = load_train_config(config_file, overrides)
    click.echo(f"training {config.model} on {shards} -> {output} ({config.steps} steps)", err=True)
    summary = run_training(config, shards=shards, output=output,
                           resume=_RESUME[resume], on_event=_print_event)
    echo(_summary_line(summary))


_RESUME: dict[str, bool | Literal["auto"]] = {"no": False, "yes": True, "auto": "auto"}


def _print_event(event: Event) -> None:
    click.echo(format_event(event), err=isinstance(event, RunStarted))


def _summary_line(summary: dict[str, Any]) -> str:
    parts = [f"done: {summary['steps']} steps", f"{summary['params']:,} params",
             f"train loss {summary['train_loss']:.4f}"]
    if summary.get("eval_loss") is not None:
        parts.append(f"eval loss {summary['eval_loss']:.4f} (ppl {summary['eval_ppl']:.1f}, {summary['eval_origin']})")
    if summary["timed_steps"]:
        parts.append(f"{summary['tokens_per_s']:,.0f} tok/s (MFU {summary['mfu']:.1%} of a measured "
                     f"{summary['peak_flops'] / 1e9:,.0f} GFLOP/s), data loading {summary['data_share']:.1%} of step time")
    return "; ".join(parts) + f"; checkpoint {summary['checkpoint']}"


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--prompt", "-p", default="", show_default=True, help="Text to continue (empty: start a new document).")
@click.option("--max-tokens", default=100, show_default=True, type=click.IntRange(1, 100_000), help="Tokens to generate.")
@click.option("--temperature", default=0.8, show_default=True, type=click.FloatRange(0, 100),
              help="0 = greedy.")
@click.option("--top-k", default=50, show_default=True, type=click.IntRange(0),
              help="Sample from the k likeliest (0 = all).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**63 - 1), help="Sampling seed.")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["auto", "cpu", "cuda", "mps"]),
              help="Where to run the model.")
@handle_errors
def sample(run_dir: Path, prompt: str, max_tokens: int, temperature: float, top_k: int, seed: int,
           device: str) -> None:
    """Continue PROMPT with the model trained in RUN_DIR (written by dataforge train).

    The output is the model's text with terminal controls replaced (as inspect shows data).

    \b
    Example:
      dataforge sample out/run1 --prompt "Alice was beginning to" --max-tokens 50
    """
    require_torch()
    from ..train.sample import sample_text  # deferred: imports torch

    text = sample_text(run_dir, prompt, max_new_tokens=max_tokens, temperature=temperature,
                       top_k=top_k or None, seed=seed, device=device)
    echo(printable(prompt + text))


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--eval-text", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Reference text: loss and bits per byte (repeatable).")
@click.option("--eval-mc", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Multiple-choice JSONL: acc, acc_norm, chance (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@handle_errors
def evaluate(run_dir: Path, eval_text: tuple[str, ...], eval_mc: tuple[str, ...], as_json: bool) -> None:
    """Score the model trained in RUN_DIR on evaluation sets independent of its data.

    \b
    Example:
      dataforge evaluate out/run1 --eval-text data/eval/wikitext2_valid_head.txt \\
          --eval-mc data/benchmarks/arc_challenge.jsonl
    """
    if not eval_text and not eval_mc:
        raise click.UsageError("give at least one --eval-text or --eval-mc file")
    sets = eval_sets_from(eval_text, eval_mc)
    require_torch()
    from ..train.evaluate import evaluate as score_run  # deferred: imports torch

    metrics = score_run(run_dir, sets)
    if as_json:
        echo(json.dumps(metrics, sort_keys=True))
        return
    for key, value in sorted(metrics.items()):
        echo(f"{printable(key)}\t{value:.4f}")
