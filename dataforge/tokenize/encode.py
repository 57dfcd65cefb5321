"""Tokenizer loading and training, and the map side of ``tokenize``: encode one task.

``encode_task`` encodes every document of a task (EOS appended) and decides its split,
once, here: a document is validation when ``unit_hash(seed, "validation", id) <
validation_fraction``. It writes, in the task's folder:

* ``tokens.bin``: the task's token ids back to back (uint16 or uint32, see shards.py);
* ``index.parquet``: id, source, n_tokens (EOS included) and validation, in document order;
* ``encode.json``: per source, documents and tokens per split (what the mixture plan and
  the driver read: counts, never tokens);
* ``mixhist.npz`` (with a ``mix`` stage): per source, a token-weighted histogram of the
  sampling units' hashes (``mix.units``), so the plan can cut the fractional epoch at
  an exact token count without reading any document again.

``sample_task`` is the map of tokenizer training: a bounded, seeded sample of a task's
kept text (the documents with the smallest hashes, up to a byte budget).
"""

from __future__ import annotations

import functools
import heapq
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from ..document import Document
from ..io import sha256_file
from ..stats import Stats
from .hashing import HIST_BINS, hash_bin, unit_hash, units
from .shards import token_dtype

TOKENS_FILE = "tokens.bin"
INDEX_FILE = "index.parquet"
SUMMARY_FILE = "encode.json"
HIST_FILE = "mixhist.npz"
SAMPLE_FILE = "tokenizer_sample.parquet"
INDEX_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("n_tokens", pa.int64()),
                          ("validation", pa.bool_())])


@functools.lru_cache(maxsize=4)
def _load(path: str, sha: str) -> Tokenizer:
    return Tokenizer.from_file(path)


def load_tokenizer(path: str) -> Tokenizer:
    """Load once per process (keyed by content hash, so a changed file is reloaded)."""
    return _load(path, sha256_file(path))


def vocab_size(tok: Tokenizer) -> int:
    """The whole vocabulary, added tokens included: what ids can reach."""
    return tok.get_vocab_size(with_added_tokens=True)


def train_tokenizer(texts: Iterable[str], *, vocab: int, min_frequency: int, eos: str, out_path: Path) -> None:
    """Byte-level BPE (GPT-2 style) trained on ``texts``; EOS is added as a special token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=min_frequency,
                                  special_tokens=[eos], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.save(str(out_path))


def batches(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Hist:
    """Per-source token-weighted histograms of unit hashes (dense while counting)."""

    def __init__(self, seed: int, piece_tokens: int) -> None:
        self.seed, self.piece = seed, piece_tokens
        self.bins: dict[str, np.ndarray] = {}

    def add(self, doc_id: str, source: str, n: int) -> None:
        h = self.bins.get(source)
        if h is None:
            h = self.bins[source] = np.zeros(HIST_BINS, dtype=np.int64)
        for key, a, b in units(doc_id, n, self.piece):
            h[hash_bin(self.seed, key)] += b - a

    def save(self, path: Path) -> None:
        """Sparse: the non-empty bins and their tokens, per source (index in the order of ``sources``)."""
        arrays: dict[str, np.ndarray] = {}
        for i, (source, h) in enumerate(sorted(self.bins.items())):
            nz = np.flatnonzero(h)
            arrays[f"bins_{i}"], arrays[f"tokens_{i}"] = nz.astype(np.int32), h[nz]
        arrays["sources"] = np.array(sorted(self.bins), dtype=object)
        np.savez(path, **arrays, allow_pickle=True)


def read_hist(path: Path) -> dict[str, np.ndarray]:
    """A task's histograms, dense, per source."""
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=True) as z:
        out = {}
        for i, source in enumerate(z["sources"].tolist()):
            h = np.zeros(HIST_BINS, dtype=np.int64)
            h[z[f"bins_{i}"]] = z[f"tokens_{i}"]
            out[str(source)] = h
    return out


def encode_task(docs: Iterable[Document], *, out_dir: Path, tokenizer_path: str, eos_token: str, batch_size: int,
                validation_fraction: float, seed: int, piece_tokens: int | None, stats: Stats, label: str) -> None:
    """Encode every document of a task; see the module docstring for what is written."""
    own = 0.0  # this step's time alone, without the upstream stages that feed it
    counts: dict[str, dict[str, int]] = {}
    tok = load_tokenizer(tokenizer_path)
    eos = tok.token_to_id(eos_token)
    dtype = token_dtype(vocab_size(tok))
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
    hist = _Hist(seed, piece_tokens) if piece_tokens is not None else None
    with open(out_dir / TOKENS_FILE, "wb") as fh, \
            pq.ParquetWriter(str(out_dir / INDEX_FILE), INDEX_SCHEMA, compression="zstd") as index:
        for batch in batches(docs, batch_size):
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
            val = [bool(validation_fraction) and unit_hash(seed, "validation", d.id) < validation_fraction
                   for d in batch]
            index.write_table(pa.table({"id": [d.id for d in batch], "source": [d.source for d in batch],
                                        "n_tokens": lengths, "validation": val}, schema=INDEX_SCHEMA))
            for d, n, v in zip(batch, lengths, val):
                c = counts.setdefault(d.source, {"docs": 0, "tokens": 0, "train_docs": 0, "train_tokens": 0,
                                                 "validation_docs": 0, "validation_tokens": 0})
                split = "validation" if v else "train"
                c["docs"] += 1
                c["tokens"] += n
                c[f"{split}_docs"] += 1
                c[f"{split}_tokens"] += n
                if hist is not None and not v:
                    hist.add(d.id, d.source, n)
            own += time.perf_counter() - t_batch
    (out_dir / SUMMARY_FILE).write_text(json.dumps({"sources": counts, "dtype": dtype.name}, sort_keys=True))
    if hist is not None:
        hist.save(out_dir / HIST_FILE)
    for source, c in counts.items():
        stats.add(label, source, "docs_in", c["docs"])
        stats.add(label, source, "tokens", c["tokens"])
    stats.add(label, "*", "seconds", own)


def read_summary(task_dir: Path) -> dict[str, Any]:
    return json.loads((task_dir / SUMMARY_FILE).read_text())


def sample_task(docs: Iterable[Document], *, out_path: Path, seed: int, budget_bytes: int) -> Iterator[Document]:
    """Pass documents through, keeping those with the smallest ``unit_hash(seed, "tokenizer",
    id)`` up to ``budget_bytes`` of text (a seeded sample whatever the task order), written
    in hash order when the stream ends. Memory: the budget."""
    heap: list[tuple[float, str]] = []  # max-heap by hash (negated): drop the largest first
    held = 0
    for doc in docs:
        h = unit_hash(seed, "tokenizer", doc.id)
        size = len(doc.text.encode("utf-8", "surrogatepass"))
        if size <= budget_bytes and (held + size <= budget_bytes or (heap and -heap[0][0] > h)):
            heapq.heappush(heap, (-h, doc.text))
            held += size
            while held > budget_bytes and heap:
                _, dropped = heapq.heappop(heap)
                held -= len(dropped.encode("utf-8", "surrogatepass"))
        yield doc
    texts = [t for _, t in sorted(heap, key=lambda x: -x[0])]
    pq.write_table(pa.table({"text": pa.array(texts, type=pa.large_string())}), str(out_path), compression="zstd")
