"""``dataforge tokenize-sft``: Alpaca-format examples and chats -> padded SFT shards with a loss mask.

Chat records (OpenAI messages, ShareGPT, LIMA: ``chat.py``) are rendered with a chat
template (``chat_template.py``: the tokenizer's own, else Zephyr's documented default)
and the loss is masked to the assistant turns, each turn's end token trained;
``render="chat"`` renders Alpaca records that way too.

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
every example that does not fit. Shards in which every target is masked out are
refused with the count (raise ``--seq-len``).

Splits are ``train`` and ``validation`` (a stable hash of seed and example index),
the names ``dataforge.train`` reads, as for pretraining shards. The output directory
is claimed (``dataforge.outputs.OutputDir``, kind ``sft``): a folder dataforge did not
make, or a pretraining output, is refused. A rerun writes its shards and tokenizer
into the other of two slots (``Slot``), renames the manifest over the old one, then
removes the old slot's files: killed at any moment, the manifest names a complete
set of shards.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xxhash
from tokenizers import Tokenizer

from ..errors import ConfigError, InputError, Problem
from ..io import remove_partial_writes, sha256_file
from ..outputs import OutputDir
from ..tokenize.shards import MANIFEST, ShardInfo, ShardSpec, ShardWriter, manifest_core, write_manifest
from .prompts import Template, load_template
from .chat import is_chat, to_conversation
from .chat_template import ChatRenderer, encode_segments, load_chat_template
from .records import read_records
from .sft_output import RecordedShardWriter, Slot

log = logging.getLogger(__name__)

SEQ_LEN = 512  # stanford_alpaca train.py model_max_length
ROWS_PER_SHARD = 4096  # rows per Arrow file: 2 MiB of uint16 tokens at seq_len 512
SPLITS = ("train", "validation")  # the split names dataforge.train.data reads (as pretraining shards)
_MAX_WARNINGS = 10  # skipped records logged one by one; the rest only counted
EOS_TOKEN = "<|endoftext|>"  # GPT-2 style byte-level BPE end of text (data/tokenizer.json id 0)


@dataclass(frozen=True)
class SftSettings:
    seq_len: int = SEQ_LEN
    rows_per_shard: int = ROWS_PER_SHARD
    overflow: str = "truncate"  # "truncate" | "drop"
    validation_fraction: float = 0.0  # share of examples (by a stable hash) in the "validation" split
    seed: int = 0
    eos_token: str = EOS_TOKEN
    pad_token: str | None = None  # None: pad with the EOS id (masked out, excluded from length)
    render: str = "auto"  # "auto": chat records by the chat template, Alpaca ones by the prompt; "chat": all by the chat template
    chat_template: Path | None = None  # None: the tokenizer's own (tokenizer_config.json), else the default


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
                 settings: SftSettings = SftSettings(), template: Path | None = None) -> dict[str, Any]:  # noqa: B008
    """Write ``output/<shards>/*.arrow``, the tokenizer and ``output/manifest.json`` (see the module docstring).

    The output directory is claimed (``OutputDir(kind="sft")``); a rerun writes into the
    other slot and publishes by renaming the manifest, so a kill leaves the old output
    or the new one, never a mix."""
    if settings.overflow not in ("truncate", "drop"):
        raise ConfigError([Problem("", None, "--overflow", "choose 'truncate' or 'drop'")])
    if settings.seq_len < 2:
        raise ConfigError([Problem("", None, "--seq-len", "must be at least 2")])
    if settings.render not in ("auto", "chat"):
        raise ConfigError([Problem("", None, "--render", "choose 'auto' or 'chat'")])
    if not 0.0 <= settings.validation_fraction < 1.0:
        raise ConfigError([Problem("", None, "--validation-fraction", "must be in [0, 1)")])
    prompts, tmpl = load_sft_template(template)
    tok = _load_tokenizer(tokenizer)
    eos_id = tok.token_to_id(settings.eos_token)
    if eos_id is None:
        raise ConfigError([Problem(str(tokenizer), None, "--eos-token",
                                   f"'{settings.eos_token}' is not in the tokenizer's vocabulary")])
    pad_id = eos_id if settings.pad_token is None else tok.token_to_id(settings.pad_token)
    if pad_id is None:
        raise ConfigError([Problem(str(tokenizer), None, "--pad-token", f"'{settings.pad_token}' is not in the vocabulary")])
    spec = ShardSpec(kind="sft", seq_len=settings.seq_len, vocab_size=tok.get_vocab_size(with_added_tokens=True),
                     eos_id=eos_id, pad_id=pad_id, tokenizer_sha256=sha256_file(tokenizer), packing="pad")
    with OutputDir(output, kind="sft") as out:
        remove_partial_writes(output)  # temp files of a killed run (we hold the lock)
        slot = Slot.next_for(output)
        slot.prepare(output)
        writers = {split: RecordedShardWriter(output, output / slot.shard_dir, spec, split=split,
                                              rows_per_shard=settings.rows_per_shard) for split in SPLITS}
        chat = _Chat(tokenizer, settings)
        try:
            counts, tokens = _write_rows(instructions, tok, prompts, writers, settings, eos_id=eos_id, pad_id=pad_id,
                                         chat=chat)
            shards: list[ShardInfo] = [s for split in SPLITS for s in writers[split].close()]
            _refuse_empty(instructions, counts, settings)
        except BaseException:
            slot.discard(output)
            raise
        slot.publish_tokenizer(output, tokenizer)
        manifest = manifest_core(spec, shards, tokenizer_file=slot.tokenizer_file, shard_dir=slot.shard_dir)
        manifest.update({
            "created_by": "dataforge tokenize-sft",
            "source": {"path": str(instructions), "sha256": sha256_file(instructions)},
            "template": tmpl.provenance(),
            "chat_template": chat.template.provenance() if chat.used else None,
            "overflow": settings.overflow,
            "validation_fraction": settings.validation_fraction,
            "counts": dict(sorted(counts.items())),
            "target_tokens": tokens["target"],
            "prompt_tokens": tokens["prompt"],
        })
        out.record(MANIFEST)
        write_manifest(output, manifest)  # the commit point: atomic rename
        slot.retire_other(output)
    return manifest


def _load_tokenizer(path: Path) -> Tokenizer:
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on a bad file
        raise ConfigError([Problem(str(path), None, "--tokenizer", f"not a tokenizers JSON file ({exc})")]) from exc


class _Chat:
    """The chat template, loaded and compiled on the first chat record."""

    def __init__(self, tokenizer: Path, settings: SftSettings) -> None:
        self.template = load_chat_template(tokenizer, settings.chat_template)
        self.eos_token = settings.eos_token
        self._renderer: ChatRenderer | None = None

    @property
    def used(self) -> bool:
        return self._renderer is not None

    def segments(self, rec: dict[str, Any]) -> list[tuple[str, bool]]:
        if self._renderer is None:
            self._renderer = ChatRenderer(self.template, eos_token=self.eos_token)
        return self._renderer.segments(to_conversation(rec))


def build_chat_row(ids: list[int], mask: list[int], *, pad_id: int, seq_len: int,
                   overflow: str) -> tuple[np.ndarray, np.ndarray, int, str | None] | None:
    """As ``build_row`` for a rendered conversation; None when it is dropped or no target fits."""
    note = None
    if len(ids) > seq_len:
        if overflow == "drop":
            return None
        ids, mask, note = ids[:seq_len], mask[:seq_len], "truncated"
    if not any(mask):
        return None
    row = np.full(seq_len, pad_id, dtype=np.int64)
    row[:len(ids)] = ids
    m = np.zeros(seq_len, dtype=np.uint8)
    m[:len(mask)] = mask
    return row, m, len(ids), note


def _write_rows(instructions: Path, tok: Tokenizer, prompts: dict[str, str], writers: Mapping[str, ShardWriter],
                settings: SftSettings, *, eos_id: int, pad_id: int, chat: _Chat) -> tuple[Counter[str], Counter[str]]:
    counts: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    try:
        for where, rec in _examples(instructions):
            counts["examples"] += 1
            if isinstance(rec, dict) and (is_chat(rec) or settings.render == "chat"):
                _chat_row(instructions, where, rec, tok, writers, settings, chat, counts, tokens, pad_id=pad_id)
                continue
            if not isinstance(rec, dict) or not isinstance(rec.get("instruction"), str):
                _skip(counts, "skipped_bad_record", f"{instructions}:{where}: skipped: not an Alpaca or chat record")
                continue
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
            _add_row(row, writers, settings, counts, tokens)
    except InputError as exc:
        raise ConfigError(str(exc)) from exc
    return counts, tokens


def _chat_row(instructions: Path, where: int, rec: dict[str, Any], tok: Tokenizer, writers: Mapping[str, ShardWriter],
              settings: SftSettings, chat: _Chat, counts: Counter[str], tokens: Counter[str], *, pad_id: int) -> None:
    try:
        ids, mask = encode_segments(tok, chat.segments(rec))
    except ValueError as exc:
        _skip(counts, "skipped_bad_chat", f"{instructions}:{where}: skipped: {exc}")
        return
    row = build_chat_row(ids, mask, pad_id=pad_id, seq_len=settings.seq_len, overflow=settings.overflow)
    if row is None:
        too_long = len(ids) > settings.seq_len and settings.overflow == "drop"
        counts["dropped_too_long" if too_long else "dropped_no_target"] += 1  # no_target: truncation cut every turn
        return
    _add_row(row, writers, settings, counts, tokens)
    counts["chat_rows"] += 1


def _add_row(row: tuple[np.ndarray, np.ndarray, int, str | None], writers: Mapping[str, ShardWriter],
             settings: SftSettings, counts: Counter[str], tokens: Counter[str]) -> None:
    """Write one built row to its split (a stable hash of the example's position) and count it."""
    ids, mask, length, note = row
    if note:
        counts[note] += 1
    split = "validation" if _in_validation(settings, counts["examples"] - 1) else "train"
    writers[split].add(ids, length=length, doc_starts=[0], loss_mask=mask)
    counts[f"rows_{split}"] += 1
    targets = int(mask.sum())
    tokens["target"] += targets
    tokens["prompt"] += length - targets


def _skip(counts: Counter[str], key: str, message: str) -> None:
    if counts[key] < _MAX_WARNINGS:
        log.warning("%s", message)
    counts[key] += 1


def _refuse_empty(instructions: Path, counts: Counter[str], settings: SftSettings) -> None:
    """No shards in which every target is masked out: say how many examples did not fit, and the fix."""
    if counts["rows_train"] > 0:
        return
    n = counts["examples"]
    if n == 0:
        raise ConfigError([Problem(str(instructions), None, "INSTRUCTIONS", "no examples in the file")])
    too_long = counts["dropped_too_long"]
    if too_long:
        raise ConfigError([Problem(str(instructions), None, "--seq-len",
                                   f"{too_long} of {n} examples do not fit in --seq-len {settings.seq_len} "
                                   "(the prompt alone fills the row, or --overflow drop), so every target would "
                                   "be masked out and no shard was written; raise --seq-len")])
    skipped = {k: v for k, v in sorted(counts.items()) if k.startswith(("skipped_", "dropped_no_target")) and v}
    if skipped:
        raise ConfigError([Problem(str(instructions), None, "INSTRUCTIONS",
                                   f"none of {n} examples could be used (" + ", ".join(f"{k} {v}" for k, v in
                                                                            skipped.items()) + "; see the log)")])
    raise ConfigError([Problem(str(instructions), None, "--validation-fraction",
                               f"no example of {n} is left for the train split (validation {counts['rows_validation']}); "
                               "lower --validation-fraction")])


def _examples(path: Path) -> Iterator[tuple[int, Any]]:
    """Alpaca and chat records; a Self-Instruct seed task (``instances``) yields one record per instance."""
    for where, rec in read_records(path):
        if isinstance(rec, dict) and "output" not in rec and isinstance(rec.get("instances"), list):
            for inst in rec["instances"]:
                if isinstance(inst, dict):
                    yield where, {"instruction": rec["instruction"], "input": inst.get("input", ""),
                                  "output": inst.get("output")}
        else:
            yield where, rec


def _in_validation(settings: SftSettings, index: int) -> bool:
    if settings.validation_fraction <= 0:
        return False
    return xxhash.xxh64_intdigest(f"{settings.seed}:{index}".encode()) / 2**64 < settings.validation_fraction
