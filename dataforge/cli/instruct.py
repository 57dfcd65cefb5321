"""``dataforge self-instruct``, ``dedup-instructions``, ``tokenize-sft``: thin layers over ``dataforge.selfinstruct``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from ..selfinstruct.client import ClientConfig
from ..selfinstruct.generate import METHODS, GenerateSettings, run_generation
from ..selfinstruct.rouge import ROUGE_THRESHOLD
from ..selfinstruct.sft import ROWS_PER_SHARD, SEQ_LEN, SftSettings
from ..selfinstruct.sft import tokenize_sft as run_tokenize_sft
from .common import handle_errors

_PATH = click.Path(path_type=Path)
_EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)


class _Redact(logging.Filter):
    """Belt and braces: no log line may carry the API key, whoever logs it."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if self.secret in msg:
            record.msg, record.args = msg.replace(self.secret, "***"), None
        return True


@click.command("self-instruct")
@click.option("--method", type=click.Choice(METHODS), default="alpaca", show_default=True,
              help="alpaca: instruction+input+output lists; self-instruct: instructions, then classification, then instances.")
@click.option("--seed-tasks", type=_PATH, required=True, help="Seed tasks JSONL (Self-Instruct format).")
@click.option("--num-instructions", type=click.IntRange(min=1), required=True,
              help="Target: accepted instructions (alpaca: records; self-instruct: tasks, up to 5 instances each).")
@click.option("--model", required=True, help="Model name as the endpoint knows it.")
@click.option("--base-url", envvar="OPENAI_BASE_URL", default=None,
              help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 [env OPENAI_BASE_URL; default OpenAI].")
@click.option("--mode", type=click.Choice(["chat", "completions"]), default="chat", show_default=True)
@click.option("--output", type=_PATH, required=True, help="Output .jsonl (appended as accepted) or .json.")
@click.option("--seed", type=int, default=42, show_default=True, help="Sampling of in-context examples.")
@click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--rpm", type=click.IntRange(min=1), default=None, help="Requests-per-minute limit.")
@click.option("--tpm", type=click.IntRange(min=1), default=None, help="Tokens-per-minute limit.")
@click.option("--max-attempts", type=click.IntRange(min=1), default=6, show_default=True)
@click.option("--backoff", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="First retry delay in seconds (doubled per attempt, jittered).")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=120.0, show_default=True,
              help="Seconds per attempt.")
@click.option("--max-cost", type=click.FloatRange(min=0), default=None, help="Stop cleanly at this estimated USD.")
@click.option("--max-requests", type=click.IntRange(min=0), default=None, help="Stop cleanly after this many requests.")
@click.option("--prices", type=_EXISTING, default=None, help="Price table JSON (USD per 1M tokens) to use instead of the packaged one.")
@click.option("--cache", "cache_path", type=_PATH, default=None,
              help="Request cache (SQLite) [default: beside the output, OUTPUT.cache.sqlite].")
@click.option("--temperature", type=float, default=None, help="Override the method's published value.")
@click.option("--top-p", type=float, default=None, help="Override the method's published value.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=None, help="Override the method's published value.")
@click.option("--presence-penalty", type=float, default=None, help="Override the method's published value.")
@click.option("--frequency-penalty", type=float, default=None, help="Override the method's published value.")
@click.option("--num-prompt-instructions", type=click.IntRange(min=1), default=None,
              help="In-context examples per prompt [alpaca 3, self-instruct 8].")
@click.option("--request-batch-size", type=click.IntRange(min=1), default=5, show_default=True,
              help="Prompts built from one pool state (self-instruct: also its parallelism in step 1).")
@click.option("--clf-seeds-only", is_flag=True, help="self-instruct: prompt with classification seeds only.")
@click.option("--templates-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory with edited copies of the packaged prompt templates.")
@handle_errors
def self_instruct(method: str, seed_tasks: Path, num_instructions: int, model: str, base_url: str | None, mode: str,
                  output: Path, seed: int, concurrency: int, rpm: int | None, tpm: int | None, max_attempts: int,
                  backoff: float, timeout: float, max_cost: float | None, max_requests: int | None,
                  prices: Path | None, cache_path: Path | None, temperature: float | None, top_p: float | None,
                  max_tokens: int | None, presence_penalty: float | None, frequency_penalty: float | None,
                  num_prompt_instructions: int | None, request_batch_size: int, clf_seeds_only: bool,
                  templates_dir: Path | None) -> None:
    """Generate instruction data through any OpenAI-compatible endpoint (OpenAI, vLLM,
    llama.cpp, Ollama), resumable and cost-accounted. The key comes from OPENAI_API_KEY.

    Rerunning the same command after a crash answers every earlier request from the
    cache (paying for none twice) and rewrites the same output.

    \b
    Example:
      dataforge self-instruct --method alpaca --seed-tasks data/instructions/seed_tasks.jsonl \\
        --num-instructions 1000 --model gpt-4o-mini --output out/instructions.jsonl --max-cost 5
    """
    api_key = os.environ.get("OPENAI_API_KEY") or None
    if api_key:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_Redact(api_key))
    sampling = {k: v for k, v in {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens,
                                  "presence_penalty": presence_penalty,
                                  "frequency_penalty": frequency_penalty}.items() if v is not None}
    settings = GenerateSettings(method=method, num_instructions=num_instructions, seed=seed,
                                num_prompt_instructions=num_prompt_instructions, request_batch_size=request_batch_size,
                                sampling=sampling, clf_seeds_only=clf_seeds_only, templates_dir=templates_dir)
    config = ClientConfig(model=model, base_url=base_url, mode=mode, concurrency=concurrency, rpm=rpm, tpm=tpm,
                          max_attempts=max_attempts, backoff_base=backoff, timeout=timeout,
                          max_requests=max_requests, max_cost=max_cost)
    summary = run_generation(settings, config, seed_tasks=seed_tasks, output=output, api_key=api_key,
                             cache_path=cache_path, prices_path=prices)
    usage = summary["usage"]
    click.echo(f"accepted {summary['accepted']}/{summary['target']} -> {output}")
    click.echo(f"requests {usage['requests']} ({usage['cached']} from cache, {usage['failed']} failed, "
               f"{usage['retries']} retries); tokens {usage['prompt_tokens']} in / {usage['completion_tokens']} out")
    if summary["estimated_cost_usd"] is not None:
        click.echo(f"estimated cost ${summary['estimated_cost_usd']:.4f} "
                   f"(this run ${summary['estimated_cost_this_run_usd']:.4f})")
    rejected = {k.split(".", 1)[1]: v for k, v in summary["counts"].items() if k.startswith("rejected.") and v}
    if rejected:
        click.echo("rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(rejected.items())))
    if summary["stopped"]:
        click.echo(f"stopped: {summary['stopped']}")


@click.command("dedup-instructions")
@click.argument("src", type=_EXISTING)
@click.argument("dst", type=_PATH)
@click.option("--threshold", type=click.FloatRange(0, 1), default=ROUGE_THRESHOLD, show_default=True,
              help="Drop an instruction whose ROUGE-L F1 with an earlier kept one is above this.")
@click.option("--against", type=_EXISTING, multiple=True,
              help="Also compare with the instructions of this file (e.g. the seed tasks); repeatable.")
@click.option("--report", type=_PATH, default=None, help="JSONL of dropped instructions and what they matched.")
@handle_errors
def dedup_instructions(src: Path, dst: Path, threshold: float, against: tuple[Path, ...], report: Path | None) -> None:
    """Drop instructions too similar (ROUGE-L F1 > 0.7, decisions identical to rouge-score)
    to an earlier one, in file order. Reads and writes Alpaca JSON or JSONL.

    \b
    Example:
      dataforge dedup-instructions alpaca_data.json alpaca_dedup.jsonl \\
        --against data/instructions/seed_tasks.jsonl --report dropped.jsonl
    """
    from ..selfinstruct.dedup import dedup_file

    counts = dedup_file(src, dst, threshold=threshold, against=list(against), report=report)
    click.echo(f"read {counts['read']}, kept {counts['kept']}, dropped {counts['dropped']} -> {dst}")


@click.command("tokenize-sft")
@click.argument("instructions", type=_EXISTING)
@click.option("--tokenizer", type=_EXISTING, required=True, help="tokenizers JSON file (e.g. data/tokenizer.json).")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output directory.")
@click.option("--seq-len", type=click.IntRange(min=2), default=SEQ_LEN, show_default=True)
@click.option("--template", type=_EXISTING, default=None,
              help='Prompt template JSON {"prompt_input": ..., "prompt_no_input": ...} [default: Alpaca].')
@click.option("--overflow", type=click.Choice(["truncate", "drop"]), default="truncate", show_default=True,
              help="Too-long examples: cut the response to fit, or drop them.")
@click.option("--val-fraction", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--rows-per-shard", type=click.IntRange(min=1), default=ROWS_PER_SHARD, show_default=True)
@click.option("--eos-token", default="<|endoftext|>", show_default=True)
@handle_errors
def tokenize_sft(instructions: Path, tokenizer: Path, output: Path, seq_len: int, template: Path | None,
                 overflow: str, val_fraction: float, rows_per_shard: int, eos_token: str) -> None:
    """Tokenize Alpaca-format examples into SFT shards: one example per row, a loss mask
    over the response and its EOS only, plus tokenizer.json and manifest.json.

    \b
    Example:
      dataforge tokenize-sft out/instructions.jsonl --tokenizer data/tokenizer.json \\
        --output out/sft --seq-len 512
    """
    settings = SftSettings(seq_len=seq_len, rows_per_shard=rows_per_shard, overflow=overflow,
                           val_fraction=val_fraction, eos_token=eos_token)
    manifest = run_tokenize_sft(instructions, tokenizer=tokenizer, output=output, settings=settings, template=template)
    c = manifest["counts"]
    click.echo(f"{c.get('rows_train', 0)} train + {c.get('rows_val', 0)} val rows in {len(manifest['shards'])} "
               f"shard(s); {c.get('truncated', 0)} truncated, {c.get('dropped_too_long', 0)} dropped -> {output}")

