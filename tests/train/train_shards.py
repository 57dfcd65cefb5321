"""Builders of real shards for the trainer tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from dataforge.io import sha256_file
from dataforge.tokenize.shards import ShardSpec, ShardWriter, manifest_core, write_manifest

EOS = 0  # <|endoftext|> in data/tokenizer.json
PROMPT = "### Instruction:\n{instruction}\n\n### Response:\n"  # Alpaca's prompt shape, no input field


def pretrain_stream(tokenizer: Tokenizer, texts: list[str]) -> np.ndarray:
    """Each document's ids followed by EOS, end to end (concat packing)."""
    ids: list[int] = []
    for enc in tokenizer.encode_batch(texts):
        ids.extend(enc.ids)
        ids.append(EOS)
    return np.asarray(ids, dtype=np.uint16)


def write_output(out: Path, tokenizer_path: Path, spec: ShardSpec, splits: dict[str, list[dict]], *,
                 rows_per_shard: int) -> Path:
    """Write rows (dicts of ShardWriter.add keywords) per split, the manifest and a tokenizer copy."""
    infos = []
    for split, rows in splits.items():
        writer = ShardWriter(out / "shards", spec, split=split, rows_per_shard=rows_per_shard)
        for row in rows:
            writer.add(**row)
        infos.extend(writer.close())
    write_manifest(out, manifest_core(spec, infos))
    shutil.copyfile(tokenizer_path, out / "tokenizer.json")
    return out


def pretrain_output(out: Path, tokenizer_path: Path, stream: np.ndarray, *, seq_len: int, vocab_size: int = 8192,
                    validation_every: int | None = 20, rows_per_shard: int = 256) -> Path:
    """Concat-packed pretraining shards; every ``validation_every``-th row goes to the validation split."""
    rows = stream[: len(stream) // seq_len * seq_len].reshape(-1, seq_len)
    is_val = np.zeros(len(rows), dtype=bool)
    if validation_every:
        is_val[validation_every - 1::validation_every] = True
    spec = ShardSpec(kind="pretrain", seq_len=seq_len, vocab_size=vocab_size, eos_id=EOS, pad_id=EOS,
                     tokenizer_sha256=sha256_file(tokenizer_path))
    splits = {"train": [{"ids": r} for r in rows[~is_val]]}
    if is_val.any():
        splits["validation"] = [{"ids": r} for r in rows[is_val]]
    return write_output(out, tokenizer_path, spec, splits, rows_per_shard=rows_per_shard)


def book_body(path: Path) -> str:
    """A Project Gutenberg book without its header and license (between the START and END markers)."""
    text = path.read_text(encoding="utf-8")
    start = text.index("\n", text.index("*** START OF")) + 1
    return text[start:text.index("*** END OF")].strip()


def sft_row(tokenizer: Tokenizer, instruction: str, response: str, seq_len: int) -> dict:
    """One padded SFT row: prompt tokens masked, response tokens and the closing EOS trained."""
    prompt = tokenizer.encode(PROMPT.format(instruction=instruction)).ids
    answer = tokenizer.encode(response).ids + [EOS]
    ids = (prompt + answer)[:seq_len]
    mask = ([0] * len(prompt) + [1] * len(answer))[:seq_len]
    length = len(ids)
    pad = seq_len - length
    return {"ids": np.asarray(ids + [EOS] * pad, dtype=np.uint16), "length": length,
            "loss_mask": np.asarray(mask + [0] * pad, dtype=np.uint8)}
