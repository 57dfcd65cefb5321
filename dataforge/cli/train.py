"""``dataforge train`` and ``dataforge sample``: thin layers over ``dataforge.train``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..train.config import MODEL_SIZES, load_train_config
from ..train.metrics import format_record
from .common import handle_errors


@click.command()
@click.option("--shards", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Output folder of a dataforge run (holds manifest.json).")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: checkpoint, metrics.jsonl, tokenizer.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML with train settings (or a pipeline file; its train: section is used).")
@click.option("--model", type=click.Choice(list(MODEL_SIZES)), help="Model size (default tiny).")
@click.option("--steps", type=int, help="Optimizer steps.")
@click.option("--batch-size", type=int, help="Sequences per micro-batch.")
@click.option("--grad-accum", type=int, help="Micro-batches per step.")
@click.option("--seq-len", type=int, help="Tokens per window (default: the shards' seq_len).")
@click.option("--lr", type=float, help="Peak learning rate (default: the model size's).")
@click.option("--warmup", type=int, help="Warmup steps.")
@click.option("--eval-every", type=int, help="Evaluate every N steps (0 = only at the end).")
@click.option("--checkpoint-every", type=int, help="Checkpoint every N steps (0 = only at the end).")
@click.option("--sampling", type=click.Choice(["random", "epoch"]), help="Random windows or epoch passes.")
@click.option("--seed", type=int, help="Seed for init, dropout and data order.")
@click.option("--device", help="auto, cpu, cuda, cuda:N, mps.")
@click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16"]), help="Precision (bf16 = autocast).")
@click.option("--threads", type=int, help="CPU threads for torch (0 = one per core).")
@click.option("--compile/--no-compile", "compile_", default=None, help="torch.compile the model.")
@click.option("--resume", is_flag=True, help="Continue the run in --output from its checkpoint.")
@handle_errors
def train(shards: Path, output: Path, config_file: Path | None, resume: bool, compile_: bool | None,
          **options: Any) -> None:
    """Train a small GPT on the shards in SHARDS and report train/eval loss.

    Pretraining shards are read as one token stream (random windows); SFT shards row by
    row with their loss mask. Eval uses the validation split, else a held-out tail of train.
    Logs go to the terminal and OUTPUT/metrics.jsonl; OUTPUT/ckpt.pt is rewritten
    atomically, so a killed run continues exactly with --resume (the same
    settings; a larger --steps is allowed but stretches the lr schedule).

    \b
    Examples:
      dataforge train --shards out/pretrain_mix --model tiny --steps 200 --output out/run1
      dataforge train --shards out/pretrain_mix --model tiny --steps 200 --output out/run1 --resume
      dataforge train --shards out/sft --config train.yaml --output out/sft_run
    """
    from ..train.loop import run_training

    config = load_train_config(config_file, {**options, "compile": compile_})
    click.echo(f"training {config.model} on {shards} -> {output} ({config.steps} steps)", err=True)
    summary = run_training(config, shards=shards, output=output, resume=resume,
                           on_log=lambda record: click.echo(format_record(record)))
    click.echo(_summary_line(summary))


def _summary_line(summary: dict[str, Any]) -> str:
    parts = [f"done: {summary['steps']} steps", f"{summary['params']:,} params"]
    if summary.get("train_loss") is not None:
        parts.append(f"train loss {summary['train_loss']:.4f}")
    if summary.get("eval_loss") is not None:
        parts.append(f"eval loss {summary['eval_loss']:.4f} (ppl {summary['eval_ppl']:.1f}, {summary['eval_origin']})")
    if summary.get("tokens_per_s"):
        parts.append(f"{summary['tokens_per_s']:,.0f} tok/s, data loading {summary['data_share']:.1%} of step time")
    return "; ".join(parts) + f"; checkpoint {summary['checkpoint']}"


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--prompt", "-p", default="", help="Text to continue (empty: start a new document).")
@click.option("--max-tokens", default=100, show_default=True, type=click.IntRange(1), help="Tokens to generate.")
@click.option("--temperature", default=0.8, show_default=True, type=click.FloatRange(0), help="0 = greedy.")
@click.option("--top-k", default=50, show_default=True, type=click.IntRange(0),
              help="Sample from the k likeliest (0 = all).")
@click.option("--seed", default=0, show_default=True, type=int, help="Sampling seed.")
@click.option("--device", default="cpu", show_default=True, help="auto, cpu, cuda, mps.")
@handle_errors
def sample(run_dir: Path, prompt: str, max_tokens: int, temperature: float, top_k: int, seed: int,
           device: str) -> None:
    """Continue PROMPT with the model trained in RUN_DIR (written by dataforge train).

    \b
    Example:
      dataforge sample out/run1 --prompt "Alice was beginning to" --max-tokens 50
    """
    from ..train.loop import require_torch

    require_torch()
    from ..train.sample import sample_text

    text = sample_text(run_dir, prompt, max_new_tokens=max_tokens, temperature=temperature,
                       top_k=top_k or None, seed=seed, device=device)
    click.echo(prompt + text)
