"""The ``tokenize`` step: options, and the checks made before any work starts.

It is not a streaming stage: the runner runs it as the final phase (encode per task,
then pack into shards in the driver), after ``mix`` when the pipeline has one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import model_validator

from ..stage import Params, Step


class TrainTokenizerParams(Params):
    """Train a byte-level BPE on the run's own kept text (HF tokenizers)."""

    vocab_size: int = 8192  # small corpora; GPT-2 used 50257
    min_frequency: int = 2  # merges seen fewer times are not learned (tokenizers' default is 0)
    max_docs: int | None = None  # train on at most this many documents (in task order); None = all


class TokenizeParams(Params):
    tokenizer: str | None = None  # path to a Hugging Face tokenizer.json
    train: TrainTokenizerParams | None = None  # or train one on the kept text
    eos: str = "<|endoftext|>"  # appended after every document (GPT-2's EOS token)
    seq_len: int = 1024  # tokens per packed sequence (nanoGPT's block_size)
    shard_tokens: int = 1_048_576  # tokens per shard file (rounded down to whole sequences)
    packing: Literal["concat", "pad"] = "concat"  # concat+cut (GPT-style) or one document per padded row
    validation_fraction: float = 0.0  # share of documents (by stable hash) held out as validation shards
    shuffle: bool = True  # global, seeded shuffle of packed sequences across shards
    shuffle_buffer_rows: int = 65_536  # rows held in memory by the shuffle (bounds peak memory)
    batch_size: int = 256  # documents per encode_batch call

    @model_validator(mode="after")
    def _one_source(self) -> "TokenizeParams":
        if (self.tokenizer is None) == (self.train is None):
            raise ValueError("give exactly one of 'tokenizer: PATH' or 'train: {vocab_size: N}'")
        if self.seq_len < 2:
            raise ValueError(f"seq_len must be >= 2, got {self.seq_len}")
        if self.shard_tokens < self.seq_len:
            raise ValueError(f"shard_tokens ({self.shard_tokens}) must be >= seq_len ({self.seq_len})")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        return self

    @property
    def rows_per_shard(self) -> int:
        return max(1, self.shard_tokens // self.seq_len)


class Tokenize(Step[TokenizeParams]):
    """Encode kept documents, append EOS, pack into fixed-length sequences, write Arrow shards."""

    Params: ClassVar[type[Params]] = TokenizeParams

    @classmethod
    def check(cls, params: Params) -> list[tuple[str, str]]:
        assert isinstance(params, TokenizeParams)
        if params.tokenizer is None:
            return []
        path = Path(params.tokenizer)
        if not path.is_file():
            return [("tokenizer", f"tokenizer file '{params.tokenizer}' not found "
                                  "(give a tokenizer.json path, or use 'train: {vocab_size: N}')")]
        try:
            vocab = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return [("tokenizer", f"'{params.tokenizer}' is not a tokenizer.json ({exc})")]
        from .encode import load_tokenizer

        try:
            tok = load_tokenizer(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on a bad file
            return [("tokenizer", f"'{params.tokenizer}' cannot be loaded by tokenizers ({exc})")]
        if tok.token_to_id(params.eos) is None:
            added = [t.get("content") for t in vocab.get("added_tokens", [])][:5]
            return [("eos", f"token '{params.eos}' is not in {params.tokenizer} (its special tokens: {added})")]
        return []
