"""Tokenizer loading/training and per-task encoding (the map side of the final phase)."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from ..document import Document
from ..io import sha256_file
from ..stats import Stats
from .shards import token_dtype
from .stage import TokenizeParams, TrainTokenizerParams

TOKENS_FILE = "tokens.bin"
INDEX_FILE = "index.parquet"
INDEX_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("n_tokens", pa.int64())])


@functools.lru_cache(maxsize=4)
def _load(path: str, sha: str) -> Tokenizer:
    return Tokenizer.from_file(path)


def load_tokenizer(path: str) -> Tokenizer:
    """Load once per process (keyed by content hash, so a changed file is reloaded)."""
    return _load(path, sha256_file(path))


def vocab_size(tok: Tokenizer) -> int:
    """The whole vocabulary, added tokens included: what ids can reach."""
    return tok.get_vocab_size(with_added_tokens=True)


def train_tokenizer(texts: Iterable[str], *, params: TrainTokenizerParams, eos: str, out_path: Path) -> None:
    """Byte-level BPE (GPT-2 style) trained on ``texts``; EOS is added as a special token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=params.vocab_size, min_frequency=params.min_frequency,
                                  special_tokens=[eos], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.save(str(out_path))


def _batches(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def encode_task(docs: Iterable[Document], *, out_dir: Path, params: TokenizeParams, tokenizer_path: str,
                stats: Stats, label: str) -> None:
    """Encode every document, append EOS, and write ``tokens.bin`` (flat ids) plus
    ``index.parquet`` (id, source, n_tokens incl. EOS) in document order."""
    own = 0.0  # this step's time alone, without the upstream stages that feed it
    docs_in: dict[str, int] = {}
    tokens: dict[str, int] = {}
    tok = load_tokenizer(tokenizer_path)
    eos = tok.token_to_id(params.eos)
    dtype = token_dtype(vocab_size(tok))
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
    with open(out_dir / TOKENS_FILE, "wb") as fh, \
            pq.ParquetWriter(str(out_dir / INDEX_FILE), INDEX_SCHEMA, compression="zstd") as index:
        for batch in _batches(docs, params.batch_size):
            t_batch = time.perf_counter()
            encodings = encode([d.text for d in batch], add_special_tokens=False)
            lengths = [len(enc.ids) + 1 for enc in encodings]  # + EOS
            flat = np.empty(sum(lengths), dtype=dtype)
            pos = 0
            for enc, n in zip(encodings, lengths):
                flat[pos:pos + n - 1] = enc.ids
                flat[pos + n - 1] = eos
                pos += n
            fh.write(flat.tobytes())
            sources = [d.source for d in batch]
            index.write_table(pa.table({"id": [d.id for d in batch], "source": sources, "n_tokens": lengths},
                                       schema=INDEX_SCHEMA))
            for source, n in zip(sources, lengths):
                docs_in[source] = docs_in.get(source, 0) + 1
                tokens[source] = tokens.get(source, 0) + n
            own += time.perf_counter() - t_batch
    for source in docs_in:
        stats.add(label, source, "docs_in", docs_in[source])
        stats.add(label, source, "tokens", tokens[source])
    stats.add(label, "*", "seconds", own)
