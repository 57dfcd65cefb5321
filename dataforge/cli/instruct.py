"""Instruction-data commands (``self-instruct``, ``dedup-instructions``, ``tokenize-sft``, ...):
thin layers over ``dataforge.selfinstruct``.

Options shared by every command that talks to a model (``client_options``) have one
name and one default each; every command that writes takes ``-o/--output``; a command
stopped by a limit the user set (--max-cost, --max-requests) keeps what it made and
exits 5.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..selfinstruct.chat import convert_file
from ..selfinstruct.client import ClientConfig
from ..selfinstruct.dedup import dedup_file
from ..selfinstruct.evol import EvolSettings, run_evol
from ..selfinstruct.formats import format_file
from ..selfinstruct.generate import run_generation
from ..selfinstruct.judge import JudgeSettings, run_judge
from ..selfinstruct.mix import run_mix
from ..selfinstruct.state import DEFAULT_SEED, METHODS, GenerateSettings
from ..selfinstruct.response import MAX_RESPONSE_BYTES
from ..selfinstruct.rouge import ROUGE_THRESHOLD
from ..selfinstruct.sft import ROWS_PER_SHARD, SEQ_LEN, SftSettings
from ..selfinstruct.sft import tokenize_sft as run_tokenize_sft
from ..selfinstruct.transport import TRANSPORTS
from .common import EXIT_LIMIT, echo, handle_errors

_PATH = click.Path(path_type=Path)
_EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)
_DEFAULTS = ClientConfig(model="")


class _Redact(logging.Filter):
    """Belt and braces: no log line may carry the API key, whoever logs it."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if self.secret in msg:
            record.msg, record.args = msg.replace(self.secret, "[REDACTED]"), None
        return True


def api_key_from_env() -> str | None:
    """OPENAI_API_KEY, with every log handler told to redact it."""
    api_key = os.environ.get("OPENAI_API_KEY") or None
    if api_key:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_Redact(api_key))
    return api_key


def client_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The endpoint, concurrency, retry and budget options of every model-driven command."""
    opts = [
        click.option("--model", required=True, help="Model name as the endpoint knows it."),
        click.option("--base-url", envvar="OPENAI_BASE_URL", default=None, show_default="env OPENAI_BASE_URL, else OpenAI",
                     help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1."),
        click.option("--mode", type=click.Choice(["chat", "completions"]), default=_DEFAULTS.mode, show_default=True),
        click.option("--concurrency", type=click.IntRange(min=1), default=_DEFAULTS.concurrency, show_default=True,
                     help="Requests in flight."),
        click.option("--rpm", type=click.IntRange(min=1), default=None, show_default="no limit",
                     help="Requests-per-minute limit."),
        click.option("--tpm", type=click.IntRange(min=1), default=None, show_default="no limit",
                     help="Tokens-per-minute limit."),
        click.option("--max-attempts", type=click.IntRange(min=1), default=_DEFAULTS.max_attempts, show_default=True,
                     help="Attempts per request (first included) on 429, 5xx, timeouts and bad responses."),
        click.option("--backoff", type=click.FloatRange(min=0), default=_DEFAULTS.backoff_base, show_default=True,
                     help="First retry delay in seconds (doubled per attempt, jittered)."),
        click.option("--timeout", type=click.FloatRange(min=0.01), default=_DEFAULTS.timeout, show_default=True,
                     help="Seconds per attempt, wall clock, from sending to the last byte."),
        click.option("--max-response-bytes", type=click.IntRange(min=1024), default=MAX_RESPONSE_BYTES,
                     show_default=True, help="Larger answers are refused (a bad response) before they are cached."),
        click.option("--transport", type=click.Choice(TRANSPORTS), default=_DEFAULTS.transport, show_default=True,
                     help="http: pre-encoded requests through the SDK's HTTP client; sdk: the SDK builds each one."),
        click.option("--max-cost", type=click.FloatRange(min=0), default=None, show_default="no limit",
                     help="Stop (exit 5) before the estimated USD could pass this; in-flight requests count "
                          "at their worst case."),
        click.option("--max-requests", type=click.IntRange(min=0), default=None, show_default="no limit",
                     help="Stop (exit 5) after this many requests (cached ones included)."),
        click.option("--price", default=None, metavar="IN/OUT", show_default="from the price table",
                     help="USD per 1M input/output tokens, e.g. 0.15/0.60 (a local model: 0/0)."),
        click.option("--prices", type=_EXISTING, default=None, show_default="the packaged table",
                     help="Price table JSON (USD per 1M tokens per model)."),
        click.option("--cache", "cache_path", type=_PATH, default=None, show_default="OUTPUT.cache.sqlite",
                     help="Request cache (SQLite)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def client_config(kw: dict[str, Any]) -> ClientConfig:
    """Pop the ``client_options`` values out of a command's kwargs into a ClientConfig."""
    return ClientConfig(model=kw.pop("model"), base_url=kw.pop("base_url"), mode=kw.pop("mode"),
                        concurrency=kw.pop("concurrency"), rpm=kw.pop("rpm"), tpm=kw.pop("tpm"),
                        max_attempts=kw.pop("max_attempts"), backoff_base=kw.pop("backoff"), timeout=kw.pop("timeout"),
                        max_response_bytes=kw.pop("max_response_bytes"), transport=kw.pop("transport"),
                        max_requests=kw.pop("max_requests"), max_cost=kw.pop("max_cost"))


def report_client(summary: dict[str, Any]) -> None:
    """The usage lines every model-driven command prints; exit 5 when a limit stopped it."""
    usage = summary["usage"]
    echo(f"requests {usage['requests']} ({usage['cached']} from cache, {usage['failed']} failed, "
         f"{usage['retries']} retries); tokens {usage['prompt_tokens']} in / {usage['completion_tokens']} out")
    if usage.get("bad_responses"):
        echo("bad responses: " + ", ".join(f"{k} {v}" for k, v in sorted(usage["bad_responses"].items())))
    if summary["estimated_cost_usd"] is not None:
        echo(f"estimated cost ${summary['estimated_cost_usd']:.4f} (this run ${summary['estimated_cost_this_run_usd']:.4f}"
             + (f"; up to ${summary['possibly_billed_unanswered_usd']:.4f} more for attempts that got no answer"
                if summary.get("possibly_billed_unanswered_usd") else "") + ")")
    if summary.get("stopped"):
        echo(f"stopped: {summary['stopped']}")
        click.get_current_context().exit(EXIT_LIMIT)


def sampling_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for name, typ in reversed([("--temperature", float), ("--top-p", float), ("--max-tokens", click.IntRange(min=1)),
                               ("--presence-penalty", float), ("--frequency-penalty", float)]):
        fn = click.option(name, type=typ, default=None, show_default="the method's published value",
                          help="Override the method's published sampling value.")(fn)
    return fn


def sampling_from(kw: dict[str, Any]) -> dict[str, Any]:
    values = {k: kw.pop(k) for k in ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty")}
    return {k: v for k, v in values.items() if v is not None}


@click.command("self-instruct")
@click.option("--method", type=click.Choice(METHODS), default="alpaca", show_default=True,
              help="alpaca: instruction+input+output lists; self-instruct: instructions, then classification, then instances.")
@click.option("--seed-tasks", type=_PATH, required=True, help="Seed tasks JSONL (Self-Instruct format).")
@click.option("--num-instructions", type=click.IntRange(min=1), required=True,
              help="Target: accepted instructions (alpaca: records; self-instruct: tasks, up to 5 instances each).")
@click.option("-o", "--output", type=_PATH, required=True, help="Output .jsonl (appended as accepted) or .json.")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Sampling of in-context examples (42: bootstrap_instructions.py's random.seed(42)).")
@client_options
@sampling_options
@click.option("--num-prompt-instructions", type=click.IntRange(min=1), default=None,
              show_default="alpaca 3, self-instruct 8", help="In-context examples per prompt.")
@click.option("--request-batch-size", type=click.IntRange(min=1), default=5, show_default=True,
              help="Prompts built from one pool state (self-instruct: also its parallelism in step 1).")
@click.option("--clf-seeds-only", is_flag=True, help="self-instruct: prompt with classification seeds only.")
@click.option("--templates-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              show_default="the packaged templates", help="Directory with edited copies of the prompt templates.")
@handle_errors
def self_instruct(**kw: Any) -> None:
    """Generate instruction data through any OpenAI-compatible endpoint (OpenAI, vLLM,
    llama.cpp, Ollama), resumable and cost-accounted. The key comes from OPENAI_API_KEY.

    Rerunning the same command after a crash answers every earlier request from the
    cache (paying for none twice) and rewrites the same output. Exit codes: 0 done,
    1 failed (e.g. the endpoint kept answering badly), 2 bad options, 3 output locked,
    5 stopped at --max-cost / --max-requests (what was accepted is kept).

    \b
    Example:
      dataforge self-instruct --method alpaca --seed-tasks data/instructions/seed_tasks.jsonl \\
        --num-instructions 1000 --model gpt-4o-mini -o out/instructions.jsonl --max-cost 5
    """
    api_key = api_key_from_env()
    config = client_config(kw)
    settings = GenerateSettings(method=kw["method"], num_instructions=kw["num_instructions"], seed=kw["seed"],
                                num_prompt_instructions=kw["num_prompt_instructions"],
                                request_batch_size=kw["request_batch_size"], sampling=sampling_from(kw),
                                clf_seeds_only=kw["clf_seeds_only"], templates_dir=kw["templates_dir"])
    summary = run_generation(settings, config, seed_tasks=kw["seed_tasks"], output=kw["output"], api_key=api_key,
                             cache_path=kw["cache_path"], prices_path=kw["prices"], price=kw["price"])
    echo(f"accepted {summary['accepted']}/{summary['target']} -> {kw['output']}")
    report_rejections(summary)
    report_client(summary)


@click.command("dedup-instructions")
@click.argument("src", type=_EXISTING)
@click.argument("dst", type=_PATH, required=False)
@click.option("-o", "--output", type=_PATH, default=None, show_default="DST",
              help="Output .json or .jsonl (or give it as DST).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=ROUGE_THRESHOLD, show_default=True,
              help="Drop an instruction whose ROUGE-L F1 with an earlier kept one is above this.")
@click.option("--against", type=_EXISTING, multiple=True, show_default="none",
              help="Also compare with the instructions of this file (e.g. the seed tasks); repeatable.")
@click.option("--report", type=_PATH, default=None, show_default="none",
              help="JSONL of dropped instructions and what they matched.")
@click.option("--decontaminate", "references", multiple=True, metavar="NAME=REFS.jsonl", show_default="none",
              help="Drop records sharing a 13-gram with this benchmark's test items (the decontaminate stage's "
                   "index), counted per benchmark; repeatable.")
@handle_errors
def dedup_instructions(src: Path, dst: Path | None, output: Path | None, threshold: float, against: tuple[Path, ...],
                       report: Path | None, references: tuple[str, ...]) -> None:
    """Drop instructions that contain benchmark test data (--decontaminate), then those too
    similar (ROUGE-L F1 > 0.7, decisions identical to rouge-score) to an earlier one, in
    file order. Reads and writes Alpaca JSON or JSONL.

    \b
    Example:
      dataforge dedup-instructions alpaca_data.json -o alpaca_dedup.jsonl \\
        --against data/instructions/seed_tasks.jsonl --report dropped.jsonl \\
        --decontaminate arc_challenge=data/benchmarks/arc_challenge.jsonl
    """
    target = _one_output(dst, output)
    refs = {}
    for item in references:
        name, sep, path = item.partition("=")
        if not sep or not name or not Path(path).is_file():
            raise click.UsageError(f"--decontaminate {item!r}: write NAME=FILE with an existing JSONL file")
        refs[name] = Path(path)
    counts = dedup_file(src, target, threshold=threshold, against=list(against), report=report, references=refs)
    echo(f"read {counts['read']}, kept {counts['kept']}, dropped {counts['dropped']} similar"
         + (f", {counts['contaminated']} contaminated" if refs else "") + f" -> {target}")
    for key, n in counts.items():
        if key.startswith("contaminated."):
            echo(f"  {key.split('.', 1)[1]}: {n}")


def _one_output(positional: Path | None, option: Path | None) -> Path:
    if positional is not None and option is not None and positional != option:
        raise click.UsageError("give the output once: as DST or with -o/--output")
    target = option or positional
    if target is None:
        raise click.UsageError("missing the output: -o/--output FILE")
    return target


@click.command("tokenize-sft")
@click.argument("instructions", type=_EXISTING)
@click.option("--tokenizer", type=_EXISTING, required=True, help="tokenizers JSON file (e.g. data/tokenizer.json).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output directory (new, empty, or an earlier tokenize-sft output).")
@click.option("--seq-len", type=click.IntRange(min=2), default=SEQ_LEN, show_default=True)
@click.option("--template", type=_EXISTING, default=None, show_default="Alpaca's PROMPT_DICT",
              help='Prompt template JSON {"prompt_input": ..., "prompt_no_input": ...}.')
@click.option("--overflow", type=click.Choice(["truncate", "drop"]), default="truncate", show_default=True,
              help="Too-long examples: cut the response to fit, or drop them.")
@click.option("--validation-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="Share of examples (stable hash of --seed and position) in the validation split.")
@click.option("--val-fraction", "val_fraction_alias", type=click.FloatRange(0, 1, max_open=True), default=None,
              hidden=True)
@click.option("--seed", type=int, default=SftSettings().seed, show_default=True, help="Seed of the validation split.")
@click.option("--rows-per-shard", type=click.IntRange(min=1), default=ROWS_PER_SHARD, show_default=True)
@click.option("--eos-token", default=SftSettings().eos_token, show_default=True)
@click.option("--chat-template", type=_EXISTING, default=None,
              show_default="the tokenizer's own (tokenizer_config.json), else Zephyr's",
              help="Jinja chat template for chat records (OpenAI messages, ShareGPT, LIMA).")
@click.option("--render", type=click.Choice(["auto", "chat"]), default="auto", show_default=True,
              help="auto: chats by the chat template, Alpaca records by --template; chat: everything as chats.")
@handle_errors
def tokenize_sft(instructions: Path, tokenizer: Path, output: Path, seq_len: int, template: Path | None,
                 overflow: str, validation_fraction: float, val_fraction_alias: float | None, seed: int,
                 rows_per_shard: int, eos_token: str, chat_template: Path | None, render: str) -> None:
    """Tokenize Alpaca examples and chats into SFT shards: one example per row, a loss mask
    over the responses (assistant turns) and their end tokens only, plus the tokenizer and
    manifest.json. A rerun replaces the output atomically; a directory dataforge did not
    make is refused.

    \b
    Example:
      dataforge tokenize-sft out/instructions.jsonl --tokenizer data/tokenizer.json \\
        -o out/sft --seq-len 512 --validation-fraction 0.05
    """
    fraction = val_fraction_alias if val_fraction_alias is not None else validation_fraction
    settings = SftSettings(seq_len=seq_len, rows_per_shard=rows_per_shard, overflow=overflow,
                           validation_fraction=fraction, seed=seed, eos_token=eos_token, render=render,
                           chat_template=chat_template)
    manifest = run_tokenize_sft(instructions, tokenizer=tokenizer, output=output, settings=settings, template=template)
    c = manifest["counts"]
    echo(f"{c.get('rows_train', 0)} train + {c.get('rows_validation', 0)} validation rows in "
         f"{len(manifest['shards'])} shard(s); {c.get('truncated', 0)} truncated, "
         f"{c.get('dropped_too_long', 0)} dropped -> {output}")


@click.command("evol-instruct")
@click.argument("seeds", type=_EXISTING)
@click.option("-o", "--output", type=_PATH, required=True, help="Output .jsonl (appended as accepted) or .json.")
@click.option("--rounds", type=click.IntRange(min=1), default=4, show_default=True,
              help="Rounds of evolution, M (WizardLM: 4).")
@click.option("--methods", default="constraints,deepen,concretize,reasoning,complicate_input,breadth",
              show_default=True, help="Evolving methods to draw from, comma-separated.")
@click.option("--seed", type=int, default=42, show_default=True, help="Draw of the method per lineage and round.")
@click.option("--limit", type=click.IntRange(min=1), default=None, show_default="all seeds",
              help="Evolve only the first N seed instructions.")
@click.option("--instruction-field", default="instruction", show_default=True,
              help="Field of the seed records holding the instruction.")
@click.option("--novelty-threshold", type=click.FloatRange(0, 1), default=ROUGE_THRESHOLD, show_default=True,
              help="Reject an evolution whose ROUGE-L F1 with a pool instruction is above this (1: off).")
@client_options
@sampling_options
@handle_errors
def evol_instruct(**kw: Any) -> None:
    """WizardLM's Evol-Instruct over any seed set (Self-Instruct seed tasks, Alpaca JSON, or
    JSONL with an instruction field): M rounds of in-depth and in-breadth evolving with the
    published prompts and elimination rules, counted by reason, then the ROUGE-L novelty
    filter. Same client, cache, resume, limits and exit codes as self-instruct.

    \b
    Example:
      dataforge evol-instruct data/instructions/seed_tasks.jsonl -o out/evol.jsonl \\
        --rounds 4 --model gpt-4o-mini --max-cost 5
    """
    api_key = api_key_from_env()
    config = client_config(kw)
    settings = EvolSettings(rounds=kw["rounds"], methods=tuple(m.strip() for m in kw["methods"].split(",") if m.strip()),
                            seed=kw["seed"], limit=kw["limit"], instruction_field=kw["instruction_field"],
                            novelty_threshold=kw["novelty_threshold"], sampling=sampling_from(kw))
    summary = run_evol(settings, config, seeds_path=kw["seeds"], output=kw["output"], api_key=api_key,
                       cache_path=kw["cache_path"], prices_path=kw["prices"], price=kw["price"])
    echo(f"accepted {summary['accepted']} evolved instructions from {summary['seeds']} seeds -> {kw['output']}")
    report_rejections(summary)
    report_client(summary)


def report_rejections(summary: dict[str, Any]) -> None:
    rejected = {k.split(".", 1)[1]: v for k, v in summary["counts"].items() if k.startswith("rejected.") and v}
    if rejected:
        echo("rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(rejected.items())))


@click.command("judge")
@click.argument("instructions", type=_EXISTING)
@click.option("-o", "--output", type=_PATH, required=True, help="Output .jsonl or .json: the records with their score.")
@click.option("--min-score", type=click.FloatRange(0, 5), default=None, show_default="keep all",
              help="Keep records scoring at least this (AlpaGasus kept 9k of 52k at 4.5).")
@click.option("--safety/--no-safety", default=True, show_default=True,
              help="Flag high-risk instructions with the documented rule set, counted by category.")
@click.option("--drop-unsafe", is_flag=True, help="Drop flagged records without rating them.")
@click.option("--score-field", default="score", show_default=True, help="Record field the score is written to.")
@client_options
@sampling_options
@handle_errors
def judge(**kw: Any) -> None:
    """Rate each instruction/response pair 0-5 with AlpaGasus's rubric prompt through the
    same client (cache, retries, limits, exit codes as self-instruct), write the score to
    each record, keep the best with --min-score, and flag high-risk instructions.

    \b
    Example:
      dataforge judge out/instructions.jsonl -o out/judged.jsonl --model gpt-4o-mini \\
        --min-score 4.5 --drop-unsafe --max-cost 2
    """
    api_key = api_key_from_env()
    config = client_config(kw)
    settings = JudgeSettings(min_score=kw["min_score"], safety=kw["safety"], drop_unsafe=kw["drop_unsafe"],
                             score_field=kw["score_field"], sampling=tuple(sorted(sampling_from(kw).items())))
    summary = run_judge(settings, config, src=kw["instructions"], output=kw["output"], api_key=api_key,
                        cache_path=kw["cache_path"], prices_path=kw["prices"], price=kw["price"])
    c = summary["counts"]
    echo(f"read {c.get('read', 0)}, kept {summary['kept']} -> {kw['output']}")
    if summary["score_distribution"]:
        echo("scores: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["score_distribution"].items())))
    unusable = {k: v for k, v in c.items() if k.startswith(("score.", "dropped."))}
    if unusable:
        echo(", ".join(f"{k} {v}" for k, v in sorted(unusable.items())))
    flagged = {k.split(".", 1)[1]: v for k, v in c.items() if k.startswith("safety.") and k != "safety.flagged"}
    if flagged:
        echo(f"safety: {c.get('safety.flagged', 0)} flagged (" + ", ".join(f"{k} {v}" for k, v in sorted(flagged.items()))
             + ")")
    report_client(summary)


@click.command("convert-instructions")
@click.argument("src", type=_EXISTING)
@click.option("-o", "--output", type=_PATH, required=True, help="Output .jsonl or .json.")
@click.option("--to", "fmt", type=click.Choice(["messages", "sharegpt", "alpaca"]), default="messages",
              show_default=True, help="Format to write.")
@handle_errors
def convert_instructions(src: Path, output: Path, fmt: str) -> None:
    """Convert instruction data between formats: reads OpenAI messages, ShareGPT, LIMA and
    Alpaca (detected per record), writes messages, ShareGPT or Alpaca (single-turn only).
    A record that cannot be converted is skipped and counted with its file:line.

    \b
    Example:
      dataforge convert-instructions lima_train.jsonl -o lima_messages.jsonl --to messages
    """
    counts = convert_file(src, output, fmt=fmt)
    echo(f"read {counts['read']}, wrote {counts['written']}, skipped {counts['skipped']} -> {output}")


@click.command("format-instructions")
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=_PATH, required=True, help="Output .jsonl or .json (Alpaca records).")
@click.option("--task", required=True, help="Task shape in the template library: qa, classification, summarization.")
@click.option("--field", "fields", multiple=True, metavar="NAME=COLUMN", show_default="the task's field names",
              help="Map a task field to a column (dotted paths and [i] allowed: answer=answers.text[0]); repeatable.")
@click.option("--seed", type=int, default=0, show_default=True, help="Choice of the template per example.")
@click.option("--inverted/--no-inverted", default=True, show_default=True,
              help="Include the inverted templates (answer -> question) in the pool, as FLAN did.")
@click.option("--split", default="train", show_default=True, help="Split of a saved DatasetDict.")
@click.option("--label-names", default=None, show_default="dataset_info.json's ClassLabel names",
              help="Comma-separated names for integer labels.")
@click.option("--templates", "library", type=_EXISTING, default=None, show_default="the packaged formats.yaml",
              help="Template library YAML.")
@handle_errors
def format_instructions(src: Path, output: Path, task: str, fields: tuple[str, ...], seed: int, inverted: bool,
                        split: str, label_names: str | None, library: Path | None) -> None:
    """Turn a labelled dataset (JSONL, Parquet, or a Hugging Face dataset saved with
    save_to_disk) into instruction records with a template library: several templates per
    task chosen by a seeded hash, inverted templates included, as FLAN did.

    \b
    Example:
      dataforge format-instructions data/instructions/formats/qa.jsonl -o out/qa_inst.jsonl \\
        --task qa --field answer=answers.text[0]
    """
    field_map = {}
    for item in fields:
        name, sep, column = item.partition("=")
        if not sep or not name or not column:
            raise click.UsageError(f"--field {item!r}: write NAME=COLUMN")
        field_map[name.strip()] = column.strip()
    counts = format_file(src, output, task=task, seed=seed, inverted=inverted, field_map=field_map, split=split,
                         library=library, label_names=label_names.split(",") if label_names else None)
    skipped = {k: v for k, v in counts.items() if k.startswith("skipped.")}
    echo(f"read {counts.get('read', 0)}, wrote {counts['written']} ({counts.get('direct', 0)} direct, "
         f"{counts.get('inverted', 0)} inverted) -> {output}"
         + ("; " + ", ".join(f"{k} {v}" for k, v in skipped.items()) if skipped else ""))


@click.command("sft-mix")
@click.argument("mix", type=_EXISTING)
@click.option("-o", "--output", type=_PATH, default=None, show_default="the mix file's output:",
              help="Mixed .jsonl or .json to write.")
@handle_errors
def sft_mix(mix: Path, output: Path | None) -> None:
    """Combine instruction collections with weights and caps (FLAN's examples-proportional
    mixing with a maximum, up-weighted collections) into one seeded, shuffled file, and SFT
    shards when the mix file has an sft: section. Prints realised vs target per collection.

    \b
    Example:
      dataforge sft-mix pipelines/sft_mix.yaml -o out/sft_mix.jsonl
    \b
    MIX.yaml:
      seed: 0
      output: out/sft_mix.jsonl
      cap: 3000                      # FLAN's K: a collection counts at most this many
      collections:
        alpaca: {path: out/instructions.jsonl, weight: 1.0}
        judged: {path: out/judged.jsonl, weight: 2.0}
      sft: {tokenizer: data/tokenizer.json, output: out/sft_mix, seq_len: 512}
    """
    report = run_mix(mix, output=output)
    echo(f"{'collection':<20} {'available':>9} {'capped':>7} {'weight':>6} {'target':>7} {'realised':>8} "
         f"{'epochs':>6} {'share':>6}")
    for name, row in report["collections"].items():
        echo(f"{name:<20} {row['available']:>9} {row['capped']:>7} {row['weight']:>6g} {row['target']:>7} "
             f"{row['realised']:>8} {row['epochs']:>6.2f} {row['share']:>6.3f}")
    echo(f"{report['total_realised']} records (target {report['total_target']}) -> {report['output']}")
    if "sft" in report:
        c = report["sft"]["counts"]
        echo(f"shards: {c.get('rows_train', 0)} train + {c.get('rows_validation', 0)} validation rows -> "
             f"{report['sft']['output']}")
