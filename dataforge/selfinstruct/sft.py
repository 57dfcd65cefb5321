"""``dataforge tokenize-sft``: Alpaca-format examples -> padded SFT shards with a loss mask.

Each example is rendered with a prompt template (Alpaca's ``PROMPT_DICT`` from
stanford_alpaca train.py by default: one text with an input, one without) and the
response follows it directly, then the EOS, as Alpaca trains (``output +
eos_token``, prompt tokens ignored by the loss). Prompt and response are tokenized
separately, so the mask boundary is exact whatever the tokenizer merges.

One example per row (``packing="pad"``): ``loss_mask[t] == 1`` iff token ``t`` is a
response token or the EOS after it (the convention of ``dataforge.tokenize.shards``);
padding uses ``pad_id`` (the EOS when the tokenizer has no pad token) and ``length``
counts the real tokens.

Too long for ``seq_len``: with ``overflow="truncate"`` (default, as Alpaca's
``truncation=True`` to ``model_max_length``) the response is cut to fit - the EOS is
lost with it, so the model never learns to stop at an arbitrary cut - and counted;
an example whose prompt alone fills the row is dropped and counted. ``"drop"`` drops
every example that does not fit.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xxhash
from tokenizers import Tokenizer

from ..errors import ConfigError, InputError, Problem
from ..io import sha256_file
from ..tokenize.shards import ShardInfo, ShardSpec, ShardWriter, manifest_core, write_manifest
from .prompts import Template, load_template
from .records import read_instructions

log = logging.getLogger(__name__)

SEQ_LEN = 512  # stanford_alpaca train.py model_max_length
ROWS_PER_SHARD = 4096  # rows per Arrow file: 2 MiB of uint16 tokens at seq_len 512
_MAX_WARNINGS = 10  # skipped records logged one by one; the rest only counted
EOS_TOKEN = "<|endoftext|>"  # GPT-2 style byte-level BPE end of text (data/tokenizer.json id 0)


@dataclass(frozen=True)
class SftSettings:
    seq_len: int = SEQ_LEN
    rows_per_shard: int = ROWS_PER_SHARD
    overflow: str = "truncate"  # "truncate" | "drop"
    val_fraction: float = 0.0  # share of examples (by a stable hash) in the "val" split
    seed: int = 0
    eos_token: str = EOS_TOKEN
    pad_token: str | None = None  # None: pad with the EOS id (masked out, excluded from length)


def load_sft_template(path: Path | None) -> tuple[dict[str, str], Template]:
    """The two prompt texts (``prompt_input``, ``prompt_no_input``) and their provenance."""
    tmpl = load_template("alpaca_sft.json") if path is None else _user_template(path)
    try:
        data = json.loads(tmpl.text)
        prompts = {k: str(data[k]) for k in ("prompt_input", "prompt_no_input")}
        prompts["prompt_input"].format(instruction="", input="")
        prompts["prompt_no_input"].format(instruction="")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ConfigError([Problem(str(path or "alpaca_sft.json"), None, "--template",
                                   'expected JSON {"prompt_input": "...{instruction}...{input}...", '
                                   f'"prompt_no_input": "...{{instruction}}..."}} ({exc!r})')]) from exc
    return prompts, tmpl


def _user_template(path: Path) -> Template:
    if not Path(path).is_file():
        raise ConfigError([Problem(str(path), None, "--template", "file not found")])
    return load_template(Path(path).name, directory=Path(path).parent)


def render_prompt(prompts: dict[str, str], record: dict[str, Any]) -> str:
    """Alpaca: the with-input template when ``input`` is non-empty, else the other one."""
    inp = record.get("input") or ""
    if inp != "":
        return prompts["prompt_input"].format(instruction=record["instruction"], input=inp)
    return prompts["prompt_no_input"].format(instruction=record["instruction"])


def build_row(prompt_ids: list[int], response_ids: list[int], *, eos_id: int, pad_id: int, seq_len: int,
              overflow: str) -> tuple[np.ndarray, np.ndarray, int, str | None] | None:
    """(ids, loss_mask, length, note) for one example; None when it is dropped.

    ``note`` is ``"truncated"`` when the response was cut to fit.
    """
    full = prompt_ids + response_ids + [eos_id]
    note = None
    if len(full) > seq_len:
        if overflow == "drop" or len(prompt_ids) >= seq_len:
            return None
        full = full[:seq_len]
        note = "truncated"
    length = len(full)
    ids = np.full(seq_len, pad_id, dtype=np.int64)
    ids[:length] = full
    mask = np.zeros(seq_len, dtype=np.uint8)
    mask[len(prompt_ids):length] = 1
    return ids, mask, length, note


def tokenize_sft(instructions: Path, *, tokenizer: Path, output: Path,
                 settings: SftSettings = SftSettings(), template: Path | None = None) -> dict[str, Any]:
    """Write ``output/shards/*.arrow``, ``output/tokenizer.json`` and ``output/manifest.json``."""
    if settings.overflow not in ("truncate", "drop"):
        raise ConfigError([Problem("", None, "--overflow", "choose 'truncate' or 'drop'")])
    if settings.seq_len < 2:
        raise ConfigError([Problem("", None, "--seq-len", "must be at least 2")])
    prompts, tmpl = load_sft_template(template)
    try:
        tok = Tokenizer.from_file(str(tokenizer))
    except Exception as exc:  # tokenizers raises a bare Exception on a bad file
        raise ConfigError([Problem(str(tokenizer), None, "--tokenizer", f"not a tokenizers JSON file ({exc})")]) from exc
    eos_id = tok.token_to_id(settings.eos_token)
    if eos_id is None:
        raise ConfigError([Problem(str(tokenizer), None, "--eos-token",
                                   f"'{settings.eos_token}' is not in the tokenizer's vocabulary")])
    pad_id = eos_id if settings.pad_token is None else tok.token_to_id(settings.pad_token)
    if pad_id is None:
        raise ConfigError([Problem(str(tokenizer), None, "--pad-token", f"'{settings.pad_token}' is not in the vocabulary")])
    spec = ShardSpec(kind="sft", seq_len=settings.seq_len, vocab_size=tok.get_vocab_size(with_added_tokens=True),
                     eos_id=eos_id, pad_id=pad_id, tokenizer_sha256=sha256_file(tokenizer), packing="pad")
    shard_dir = output / "shards"
    writers = {split: ShardWriter(shard_dir, spec, split=split, rows_per_shard=settings.rows_per_shard)
               for split in ("train", "val")}
    counts: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    try:
        for where, rec in _examples(instructions):
            counts["examples"] += 1
            out = rec.get("output")
            if not isinstance(out, str):
                if counts["skipped_no_output"] < _MAX_WARNINGS:
                    log.warning("%s:%s: skipped: no string 'output'", instructions, where)
                counts["skipped_no_output"] += 1
                continue
            prompt_ids = tok.encode(render_prompt(prompts, rec)).ids
            response_ids = tok.encode(out).ids
            row = build_row(prompt_ids, response_ids, eos_id=eos_id, pad_id=pad_id, seq_len=settings.seq_len,
                            overflow=settings.overflow)
            if row is None:
                counts["dropped_too_long"] += 1
                continue
            ids, mask, length, note = row
            if note:
                counts[note] += 1
            split = "val" if _in_val(settings, counts["examples"] - 1) else "train"
            writers[split].add(ids, length=length, doc_starts=[0], loss_mask=mask)
            counts[f"rows_{split}"] += 1
            tokens["prompt"] += min(len(prompt_ids), length)
            tokens["target"] += int(mask.sum())
    except InputError as exc:
        raise ConfigError(str(exc)) from exc
    shards: list[ShardInfo] = writers["train"].close() + writers["val"].close()
    output.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tokenizer, output / "tokenizer.json")
    _remove_stale(shard_dir, {s.path for s in shards})
    manifest = manifest_core(spec, shards)
    manifest.update({
        "created_by": "dataforge tokenize-sft",
        "source": {"path": str(instructions), "sha256": sha256_file(instructions)},
        "template": tmpl.provenance(),
        "overflow": settings.overflow,
        "counts": dict(sorted(counts.items())),
        "target_tokens": tokens["target"],
        "prompt_tokens": tokens["prompt"],
    })
    write_manifest(output, manifest)
    return manifest


def _examples(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Alpaca records; a Self-Instruct seed task (``instances``) yields one record per instance."""
    for where, rec in read_instructions(path):
        if "output" not in rec and isinstance(rec.get("instances"), list):
            for inst in rec["instances"]:
                if isinstance(inst, dict):
                    yield where, {"instruction": rec["instruction"], "input": inst.get("input", ""),
                                  "output": inst.get("output")}
        else:
            yield where, rec


def _in_val(settings: SftSettings, index: int) -> bool:
    if settings.val_fraction <= 0:
        return False
    return xxhash.xxh64_intdigest(f"{settings.seed}:{index}".encode()) / 2**64 < settings.val_fraction


def _remove_stale(shard_dir: Path, keep: set[str]) -> None:
    """A previous run's extra shards are not in the new manifest; remove them to avoid confusion."""
    if shard_dir.is_dir():
        for path in shard_dir.glob("*.arrow"):
            if path.name not in keep:
                path.unlink()
