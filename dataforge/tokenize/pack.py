"""Packing encoded documents into fixed-length rows, a bounded-memory global shuffle,
and the shard writers for train and validation splits (the reduce of the final phase).

Memory is bounded by the shuffle buffer (``shuffle_buffer_rows`` rows) plus one
shard, never by corpus size: rows are spread over bucket files by a seeded hash of
their position (pass 1), then each bucket is permuted in memory and written (pass 2).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow.parquet as pq
import xxhash

from .encode import INDEX_FILE, TOKENS_FILE
from .shards import ShardInfo, ShardSpec, ShardWriter
from .stage import TokenizeParams

#: feed the packer at most this many tokens at a time (bounds memory for huge tasks)
CHUNK_TOKENS = 1 << 20
U64 = float(1 << 64)


def unit_hash(seed: int, *parts: object) -> float:
    """A stable uniform number in [0, 1) from the seed and the parts (xxhash, never hash())."""
    key = "\0".join(str(p) for p in parts).encode("utf-8", "surrogatepass")
    return xxhash.xxh64_intdigest(key, seed=seed & 0xFFFFFFFFFFFFFFFF) / U64


@dataclass
class RowSink:
    """Where packed rows go: straight to a ShardWriter, or through the bucket shuffle."""

    writer: ShardWriter
    shuffle: bool
    seed: int
    work_dir: Path
    n_buckets: int = 1
    rows: int = 0
    _files: dict[int, tuple[IO[bytes], IO[str]]] = field(default_factory=dict)

    def add(self, ids: np.ndarray, starts: list[int], length: int) -> None:
        if not self.shuffle:
            self.writer.add(ids, length=length, doc_starts=starts)
            self.rows += 1
            return
        bucket = int(unit_hash(self.seed, "row", self.writer.split, self.rows) * self.n_buckets)
        self.rows += 1
        if bucket not in self._files:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            stem = self.work_dir / f"{self.writer.split}-{bucket:05d}"
            self._files[bucket] = (open(f"{stem}.bin", "wb"), open(f"{stem}.jsonl", "w"))
        rows_fh, meta_fh = self._files[bucket]
        rows_fh.write(ids.astype(self.writer.spec.dtype, copy=False).tobytes())
        meta_fh.write(json.dumps([length, starts]) + "\n")

    def close(self) -> list[ShardInfo]:
        if self.shuffle:
            for bucket in sorted(self._files):
                for fh in self._files[bucket]:
                    fh.close()
                stem = self.work_dir / f"{self.writer.split}-{bucket:05d}"
                rows = np.fromfile(f"{stem}.bin", dtype=self.writer.spec.dtype).reshape(-1, self.writer.spec.seq_len)
                with open(f"{stem}.jsonl") as meta_fh:
                    meta = [json.loads(line) for line in meta_fh]
                order = np.random.default_rng([self.seed & 0xFFFFFFFF, bucket]).permutation(len(rows))
                for i in order:
                    self.writer.add(rows[i], length=meta[i][0], doc_starts=meta[i][1])
                Path(f"{stem}.bin").unlink()
                Path(f"{stem}.jsonl").unlink()
        return self.writer.close()


class ConcatPacker:
    """Concatenate whole documents (each already ending in EOS) and cut rows of seq_len."""

    def __init__(self, sink: RowSink, seq_len: int, dtype: np.dtype) -> None:
        self.sink, self.seq_len = sink, seq_len
        self.pending = np.zeros(0, dtype=dtype)
        self.pending_starts: list[int] = []
        self.tokens_in = 0

    def add(self, tokens: np.ndarray, doc_lens: np.ndarray) -> None:
        """``tokens`` is whole documents back to back; ``doc_lens`` their lengths."""
        if len(tokens) == 0:
            return
        self.tokens_in += len(tokens)
        base = len(self.pending)
        offsets = base + np.concatenate(([0], np.cumsum(doc_lens)[:-1])).astype(np.int64)
        buf = np.concatenate((self.pending, tokens))
        starts = np.concatenate((np.asarray(self.pending_starts, dtype=np.int64), offsets))
        L = self.seq_len
        n_rows = len(buf) // L
        row_of = starts // L
        for r in range(n_rows):
            lo, hi = np.searchsorted(row_of, [r, r + 1])
            self.sink.add(buf[r * L:(r + 1) * L], (starts[lo:hi] - r * L).tolist(), L)
        self.pending = buf[n_rows * L:].copy()
        self.pending_starts = (starts[starts >= n_rows * L] - n_rows * L).tolist()

    @property
    def dropped_tail(self) -> int:
        """Tokens left over at the end (fewer than seq_len): not written."""
        return len(self.pending)


class PadPacker:
    """One document per row, truncated to seq_len, padded with pad_id."""

    def __init__(self, sink: RowSink, seq_len: int, dtype: np.dtype, pad_id: int) -> None:
        self.sink, self.seq_len, self.pad_id, self.dtype = sink, seq_len, pad_id, dtype
        self.tokens_in = 0
        self.truncated = 0

    def add(self, tokens: np.ndarray, doc_lens: np.ndarray) -> None:
        pos = 0
        for n in doc_lens.tolist():
            doc = tokens[pos:pos + n]
            pos += n
            keep = min(n, self.seq_len)
            self.truncated += n - keep
            self.tokens_in += keep
            row = np.full(self.seq_len, self.pad_id, dtype=self.dtype)
            row[:keep] = doc[:keep]
            self.sink.add(row, [0], keep)

    dropped_tail = 0


def iter_task_docs(task_dir: Path, dtype: np.dtype) -> Iterator[tuple[np.ndarray, list[str], list[str], np.ndarray]]:
    """(tokens, ids, sources, n_tokens) in chunks of whole documents, memory-mapped."""
    path = task_dir / TOKENS_FILE
    if path.stat().st_size == 0:
        return
    tokens = np.memmap(path, dtype=dtype, mode="r")
    pos = 0
    for batch in pq.ParquetFile(str(task_dir / INDEX_FILE)).iter_batches(batch_size=4096):
        d = batch.to_pydict()
        n = np.asarray(d["n_tokens"], dtype=np.int64)
        total = int(n.sum())
        yield tokens[pos:pos + total], d["id"], d["source"], n
        pos += total


@dataclass
class PackResult:
    shards: list[ShardInfo]
    per_source: dict[str, dict[str, int]]  # source -> docs/tokens written per split, repeats
    dropped_tail: dict[str, int]
    truncated_tokens: int


SelectFn = Callable[[str, str, np.ndarray], list[np.ndarray]]


def pack(task_dirs: list[Path], *, spec: ShardSpec, params: TokenizeParams, seed: int, shard_dir: Path,
         scratch: Path, total_rows_hint: int, select: SelectFn | None = None,
         start_index: dict[str, int] | None = None) -> PackResult:
    """Pack every task's encoded documents (task order, then document order) into shards.

    ``select(id, source, tokens)`` returns what of a document is written (the mixture
    plan: nothing drops it, two copies repeat it, pieces of a long one sample it); each
    part ends in EOS. Validation documents are chosen by stable hash and written once,
    whole, to validation shards only. ``start_index`` continues shard
    numbering per split (appending to an earlier run's shards).
    """
    n_buckets = max(1, math.ceil(total_rows_hint / max(1, params.shuffle_buffer_rows)))
    sinks = {
        split: RowSink(ShardWriter(shard_dir, spec, split=split, rows_per_shard=params.rows_per_shard,
                                   start_index=(start_index or {}).get(split, 0)),
                       shuffle=params.shuffle, seed=seed, work_dir=scratch, n_buckets=n_buckets)
        for split in ("train", "validation")
    }
    packers = {
        split: (ConcatPacker(sink, spec.seq_len, spec.dtype) if spec.packing == "concat"
                else PadPacker(sink, spec.seq_len, spec.dtype, spec.pad_id))
        for split, sink in sinks.items()
    }
    per_source: dict[str, dict[str, int]] = {}
    for task_dir in task_dirs:
        for tokens, ids, sources, n in iter_task_docs(task_dir, spec.dtype):
            picks: dict[str, list[np.ndarray]] = {"train": [], "validation": []}
            lens: dict[str, list[int]] = {"train": [], "validation": []}
            offsets = np.concatenate(([0], np.cumsum(n))).astype(np.int64)
            for j, (doc_id, source) in enumerate(zip(ids, sources)):
                count = per_source.setdefault(source, {"train_docs": 0, "train_tokens": 0, "validation_docs": 0,
                                                       "validation_tokens": 0, "repeats": 0})
                doc = tokens[offsets[j]:offsets[j + 1]]
                if params.validation_fraction and unit_hash(seed, "validation", doc_id) < params.validation_fraction:
                    split, parts = "validation", [doc]
                else:
                    split, parts = "train", ([doc] if select is None else select(doc_id, source, doc))
                count["repeats"] += max(0, len(parts) - 1)
                for part in parts:
                    picks[split].append(part)
                    lens[split].append(len(part))
                    count[f"{split}_docs"] += 1
                    count[f"{split}_tokens"] += len(part)
                _flush_if_large(packers, picks, lens)
            _flush_if_large(packers, picks, lens, force=True)
    shards: list[ShardInfo] = []
    for split in ("train", "validation"):
        shards += sinks[split].close()
    return PackResult(shards=shards, per_source=per_source,
                      dropped_tail={s: int(p.dropped_tail) for s, p in packers.items()},
                      truncated_tokens=int(getattr(packers["train"], "truncated", 0)
                                           + getattr(packers["validation"], "truncated", 0)))


def _flush_if_large(packers: dict[str, ConcatPacker | PadPacker], picks: dict[str, list[np.ndarray]],
                    lens: dict[str, list[int]], force: bool = False) -> None:
    for split, arrays in picks.items():
        if arrays and (force or sum(lens[split]) >= CHUNK_TOKENS):
            packers[split].add(np.concatenate(arrays), np.asarray(lens[split], dtype=np.int64))
            arrays.clear()
            lens[split].clear()
