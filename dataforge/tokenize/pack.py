"""Packing and the global shuffle as parallel tasks (the apply side of ``tokenize``).

After every task has encoded its documents and the mixture plan is fixed:

1. **count** (per task): what the plan selects from the task, per split: tokens and
   parts (a part is one copy of a document, or of its sampled pieces). Reads the index
   only, never tokens.
2. **layout** (driver, O(tasks)): prefix sums give each task its place in the global
   stream of each split (task order, then document order: the order of the input
   files, however they were split into tasks). Concatenation packing cuts that stream
   into rows of ``seq_len`` at global multiples of ``seq_len``; padded packing makes
   one row per part. A keyed permutation (``shuffle.py``) sends row r to position
   perm(r); positions are cut into buckets of a whole number of shards.
3. **scatter** (per task): the task's rows (and the pieces of the rows it shares with
   its neighbours) written in stream order, with an index sorted by bucket.
4. **gather** (per bucket): the bucket's rows from every task, assembled and written as
   shards in position order; shard names come from positions, so the output is the same
   bytes for any worker count, executor or task split.

Memory: a task holds its own index (a few dozen bytes per row); a bucket holds
``rows_per_bucket`` rows (about ``shuffle_buffer_rows``); the driver holds counts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from ..mix import MixPlan
from .encode import INDEX_FILE, TOKENS_FILE
from .shards import ShardInfo, ShardSpec, ShardWriter
from .shuffle import Identity, Permutation

SPLITS = ("train", "validation")
#: feed the packer at most this many tokens at a time (bounds memory for huge tasks)
CHUNK_TOKENS = 1 << 20
FRAGMENT = np.dtype([("bucket", "<i8"), ("pos", "<i8"), ("offset", "<i4"), ("length", "<i4"),
                     ("data", "<i8"), ("starts", "<i8"), ("n_starts", "<i4")])


def iter_task_docs(task_dir: Path, dtype: np.dtype) -> Iterator[tuple[np.ndarray, list[str], list[str], np.ndarray,
                                                                       list[bool]]]:
    """(tokens, ids, sources, n_tokens, validation) in chunks of whole documents, memory-mapped."""
    path = task_dir / TOKENS_FILE
    tokens = np.memmap(path, dtype=dtype, mode="r") if path.stat().st_size else np.zeros(0, dtype=dtype)
    pos = 0
    for batch in pq.ParquetFile(str(task_dir / INDEX_FILE)).iter_batches(batch_size=4096):
        d = batch.to_pydict()
        n = np.asarray(d["n_tokens"], dtype=np.int64)
        total = int(n.sum())
        yield tokens[pos:pos + total], d["id"], d["source"], n, d["validation"]
        pos += total


def _parts(plan: MixPlan, doc_id: str, source: str, n: int, validation: bool) -> list[tuple[int, int, bool]]:
    return [(0, n, False)] if validation else plan.parts(doc_id, source, n)


# ---- 1. count -----------------------------------------------------------------------
def count_task(task_dir: str, plan: dict[str, Any], *, seq_len: int, packing: str) -> dict[str, Any]:
    """Per split: tokens and parts selected; per source: docs/tokens written and repeats."""
    mix = MixPlan.from_json(plan)
    splits = {s: {"tokens": 0, "parts": 0, "truncated": 0} for s in SPLITS}
    per_source: dict[str, dict[str, int]] = {}
    for batch in pq.ParquetFile(str(Path(task_dir) / INDEX_FILE)).iter_batches(batch_size=4096,
                                                                               columns=["id", "source", "n_tokens",
                                                                                        "validation"]):
        d = batch.to_pydict()
        for doc_id, source, n, val in zip(d["id"], d["source"], d["n_tokens"], d["validation"]):
            split = "validation" if val else "train"
            c = per_source.setdefault(source, {"train_docs": 0, "train_tokens": 0, "validation_docs": 0,
                                               "validation_tokens": 0, "repeats": 0})
            parts = _parts(mix, doc_id, source, n, val)
            c["repeats"] += max(0, len(parts) - 1)
            for a, b, eos in parts:
                m = b - a + int(eos)
                kept = m if packing == "concat" else min(m, seq_len)
                splits[split]["tokens"] += kept
                splits[split]["truncated"] += m - kept
                splits[split]["parts"] += 1
                c[f"{split}_docs"] += 1
                c[f"{split}_tokens"] += kept
    return {"splits": splits, "sources": per_source}


# ---- 2. layout ----------------------------------------------------------------------
@dataclass
class SplitLayout:
    rows: int  # rows of the split in the output
    rows_per_shard: int
    rows_per_bucket: int  # a whole number of shards
    buckets: int
    start_index: int  # the first shard's number (appending continues an earlier output's)
    tokens: int  # tokens selected
    dropped_tail: int  # concatenation: tokens after the last whole row

    def shards(self) -> int:
        return math.ceil(self.rows / self.rows_per_shard) if self.rows else 0


def layout(counts: list[dict[str, Any]], *, seq_len: int, packing: str, rows_per_shard: int,
           buffer_rows: int, start_index: dict[str, int]) -> tuple[dict[str, SplitLayout], list[dict[str, list[int]]]]:
    """Each split's layout, and each task's (token offset, part offset) in each split."""
    out: dict[str, SplitLayout] = {}
    offsets: list[dict[str, list[int]]] = [{} for _ in counts]
    for split in SPLITS:
        tok = part = 0
        for i, c in enumerate(counts):
            offsets[i][split] = [tok, part]
            tok += c["splits"][split]["tokens"]
            part += c["splits"][split]["parts"]
        rows = tok // seq_len if packing == "concat" else part
        per_bucket = max(1, buffer_rows // rows_per_shard) * rows_per_shard
        out[split] = SplitLayout(rows=rows, rows_per_shard=rows_per_shard, rows_per_bucket=per_bucket,
                                 buckets=math.ceil(rows / per_bucket) if rows else 0,
                                 start_index=start_index.get(split, 0), tokens=tok,
                                 dropped_tail=tok - rows * seq_len if packing == "concat" else 0)
    return out, offsets


def permutation(n: int, *, shuffle: bool, seed: int, split: str) -> Permutation | Identity:
    return Permutation(n, seed=seed, tag=f"rows:{split}") if shuffle else Identity(n)


# ---- 3. scatter ---------------------------------------------------------------------
class _Scatter:
    """One split's rows of one task: tokens to ``<split>.bin``, fragments to the index."""

    def __init__(self, out: Path, split: str, lay: SplitLayout, *, seq_len: int, seed: int, shuffle: bool,
                 dtype: np.dtype) -> None:
        self.split, self.lay, self.L, self.dtype = split, lay, seq_len, dtype
        self.perm = permutation(lay.rows, shuffle=shuffle, seed=seed, split=split)
        self.fh = open(out / f"{split}.bin", "wb")
        self.starts_fh = open(out / f"{split}.starts.bin", "wb")
        self.frags: list[np.ndarray] = []
        self.data = self.nstarts = 0

    def emit(self, rows: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, tokens: list[np.ndarray],
             starts: list[np.ndarray]) -> None:
        if not len(rows):
            return
        f = np.empty(len(rows), dtype=FRAGMENT)
        pos = self.perm(rows)
        f["pos"], f["bucket"] = pos, pos // self.lay.rows_per_bucket
        f["offset"], f["length"] = offsets, lengths
        f["data"] = self.data + np.concatenate(([0], np.cumsum(lengths)[:-1]))
        n_starts = np.asarray([len(s) for s in starts], dtype=np.int64)
        f["starts"] = self.nstarts + np.concatenate(([0], np.cumsum(n_starts)[:-1]))
        f["n_starts"] = n_starts
        self.fh.write(np.concatenate(tokens).astype(self.dtype, copy=False).tobytes())
        if n_starts.sum():
            self.starts_fh.write(np.concatenate(starts).astype("<u4").tobytes())
        self.data += int(lengths.sum())
        self.nstarts += int(n_starts.sum())
        self.frags.append(f)

    def close(self, out: Path) -> None:
        self.fh.close()
        self.starts_fh.close()
        frags = np.concatenate(self.frags) if self.frags else np.empty(0, dtype=FRAGMENT)
        frags = frags[np.lexsort((frags["offset"], frags["pos"]))]
        np.save(out / f"{self.split}.idx.npy", frags)
        bounds = np.searchsorted(frags["bucket"], np.arange(self.lay.buckets + 1), side="left")
        np.save(out / f"{self.split}.buckets.npy", bounds.astype(np.int64))


def scatter_task(task_dir: str, out_dir: str, plan: dict[str, Any], layouts: dict[str, dict[str, Any]],
                 offsets: dict[str, list[int]], *, seq_len: int, packing: str, shuffle: bool, seed: int,
                 dtype: str, pad_id: int, eos_id: int) -> dict[str, int]:
    """Write the task's rows of every split (see the module docstring); returns row counts."""
    mix, out = MixPlan.from_json(plan), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dt = np.dtype(dtype)
    lays = {s: SplitLayout(**layouts[s]) for s in SPLITS}
    sc = {s: _Scatter(out, s, lays[s], seq_len=seq_len, seed=seed, shuffle=shuffle, dtype=dt) for s in SPLITS}
    cursor = {s: list(offsets[s]) for s in SPLITS}  # [token offset, part offset] in the split's stream
    eos = np.asarray([eos_id], dtype=dt)
    pending: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    size = dict.fromkeys(SPLITS, 0)
    for tokens, ids, sources, n, val in iter_task_docs(Path(task_dir), dt):
        doc_off = np.concatenate(([0], np.cumsum(n))).astype(np.int64)
        for j, (doc_id, source, v) in enumerate(zip(ids, sources, val)):
            split = "validation" if v else "train"
            doc = tokens[doc_off[j]:doc_off[j + 1]]
            for a, b, add_eos in _parts(mix, doc_id, source, int(n[j]), v):
                part = np.concatenate((doc[a:b], eos)) if add_eos else doc[a:b]
                if packing == "pad":
                    _pad_row(sc[split], cursor[split], part, seq_len)
                else:
                    pending[split].append(part)
                    size[split] += len(part)
                    if size[split] >= CHUNK_TOKENS:
                        _concat_rows(sc[split], cursor[split], pending[split], seq_len)
                        pending[split], size[split] = [], 0
    written = {}
    for s in SPLITS:
        if pending[s]:
            _concat_rows(sc[s], cursor[s], pending[s], seq_len)
        sc[s].close(out)
        written[s] = sum(len(f) for f in sc[s].frags)
    return written


def _pad_row(sc: _Scatter, cursor: list[int], part: np.ndarray, seq_len: int) -> None:
    row = cursor[1]
    cursor[1] += 1
    keep = part[:seq_len]
    sc.emit(np.asarray([row]), np.asarray([0]), np.asarray([len(keep)]), [keep], [np.asarray([0])])


def _concat_rows(sc: _Scatter, cursor: list[int], parts: list[np.ndarray], seq_len: int) -> None:
    """Cut consecutive parts (starting at global token ``cursor[0]``) at global row edges."""
    flat = np.concatenate(parts)
    g0 = cursor[0]
    cursor[0] += len(flat)
    part_starts = g0 + np.concatenate(([0], np.cumsum([len(p) for p in parts])[:-1])).astype(np.int64)
    first, last = g0 // seq_len, min((g0 + len(flat) - 1) // seq_len, sc.lay.rows - 1)
    if last < first:  # everything here is in the tail after the last whole row
        return
    rows = np.arange(first, last + 1, dtype=np.int64)
    lo = np.maximum(rows * seq_len, g0)
    hi = np.minimum((rows + 1) * seq_len, g0 + len(flat))
    cut = np.searchsorted(part_starts, np.stack([lo, hi]), side="left")
    tokens = [flat[a - g0:b - g0] for a, b in zip(lo, hi)]
    starts = [part_starts[i:j] - r * seq_len for i, j, r in zip(cut[0], cut[1], rows)]
    sc.emit(rows, lo - rows * seq_len, hi - lo, tokens, starts)


# ---- 4. gather ----------------------------------------------------------------------
def gather_bucket(split: str, bucket: int, scatter_dirs: list[str], layout_: dict[str, Any], spec: dict[str, Any],
                  out_dir: str) -> list[dict[str, Any]]:
    """Assemble the bucket's rows from every task and write its shards; returns their infos."""
    lay, sspec = SplitLayout(**layout_), ShardSpec(**spec)
    L, dt = sspec.seq_len, sspec.dtype
    lo = bucket * lay.rows_per_bucket
    n = min(lay.rows, lo + lay.rows_per_bucket) - lo
    rows = np.full((n, L), sspec.pad_id, dtype=dt)
    lengths = np.zeros(n, dtype=np.int64)
    starts: list[list[int]] = [[] for _ in range(n)]
    for d in map(Path, scatter_dirs):
        bounds = np.load(d / f"{split}.buckets.npy", mmap_mode="r")
        if bucket + 1 >= len(bounds) or bounds[bucket] == bounds[bucket + 1]:
            continue
        frags = np.load(d / f"{split}.idx.npy", mmap_mode="r")[bounds[bucket]:bounds[bucket + 1]]
        data = np.memmap(d / f"{split}.bin", dtype=dt, mode="r") if (d / f"{split}.bin").stat().st_size else None
        sfile = d / f"{split}.starts.bin"
        sdata = np.memmap(sfile, dtype="<u4", mode="r") if sfile.stat().st_size else None
        for f in frags:
            r = int(f["pos"]) - lo
            off, m = int(f["offset"]), int(f["length"])
            assert data is not None  # a fragment has tokens
            rows[r, off:off + m] = data[f["data"]:f["data"] + m]
            lengths[r] += m
            if f["n_starts"] and sdata is not None:
                starts[r].extend(int(x) for x in sdata[f["starts"]:f["starts"] + f["n_starts"]])
    if sspec.packing == "concat" and n and int(lengths.min()) != L:
        bad = int(np.argmin(lengths))
        raise RuntimeError(f"{split} bucket {bucket}: row at position {lo + bad} has {int(lengths[bad])} of {L} tokens; "
                           "the scatter files are incomplete (rerun to redo them)")
    first_shard = lo // lay.rows_per_shard
    writer = ShardWriter(Path(out_dir), sspec, split=split, rows_per_shard=lay.rows_per_shard,
                         start_index=lay.start_index + first_shard)
    for r in range(n):
        writer.add(rows[r], length=int(lengths[r]), doc_starts=sorted(starts[r]))
    return [asdict(s) for s in writer.close()]


def shard_infos(items: list[list[dict[str, Any]]]) -> list[ShardInfo]:
    return [ShardInfo(**d) for group in items for d in group]


def dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, sort_keys=True))
