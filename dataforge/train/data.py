"""Batches from memory-mapped shards, through the manifest. numpy only: no torch here.

Two layouts, chosen by the manifest:

* **stream** (``kind: pretrain``, ``packing: concat``): the shards' rows, end to end, are one
  flat token stream (zero-copy views, never a Python list). A sample is a window of
  ``window + 1`` tokens: ``x = w[:-1]``, ``y = w[1:]`` (nanoGPT get_batch); every target counts.
* **rows** (``kind: sft`` or ``packing: pad``): a sample is one row, ``x = ids[:-1]``,
  ``y = ids[1:]``; a target counts iff ``loss_mask[1:]`` (SFT) and it is inside the row's length.

Batch k of a run is a pure function of (seed, k): random windows come from a generator seeded
with ``[seed, k]``; epoch order from a permutation seeded with ``[seed, epoch]``. So the data
position a checkpoint needs is one integer, and a resumed run draws the very same batches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from ..tokenize.shards import ShardView
from .config import TrainError
from .verify import verify_shards

log = logging.getLogger(__name__)


@dataclass
class Batch:
    x: np.ndarray  # (B, T) int64 inputs
    y: np.ndarray  # (B, T) int64 targets
    mask: np.ndarray | None  # (B, T) bool, True = target counts; None = all count

    @property
    def targets(self) -> int:
        """Targets that count toward the loss."""
        return int(self.mask.sum()) if self.mask is not None else self.y.size


class Source(Protocol):
    def __len__(self) -> int: ...  # samples per epoch

    def get(self, indices: np.ndarray) -> Batch: ...

    def random_indices(self, rng: np.random.Generator, n: int) -> np.ndarray: ...

    def even_indices(self, n: int) -> np.ndarray: ...


class Stream:
    """A flat token stream made of zero-copy pieces; ``read`` copies only the window asked for."""

    def __init__(self, pieces: list[np.ndarray]) -> None:
        self.pieces = [p for p in pieces if p.size]
        self.starts = np.cumsum([0] + [p.size for p in self.pieces])  # piece i covers [starts[i], starts[i+1])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def read(self, offset: int, n: int) -> np.ndarray:
        i = int(np.searchsorted(self.starts, offset, side="right")) - 1
        local = offset - int(self.starts[i])
        piece = self.pieces[i]
        if local + n <= piece.size:
            return piece[local:local + n]
        out, need = [piece[local:]], n - (piece.size - local)
        while need > 0:
            i += 1
            out.append(self.pieces[i][:need])
            need -= out[-1].size
        return np.concatenate(out)

    def split(self, at: int) -> tuple[Stream, Stream]:
        """Two streams, [0, at) and [at, end), still views."""
        head: list[np.ndarray] = []
        tail: list[np.ndarray] = []
        for start, piece in zip(self.starts, self.pieces):
            cut = min(max(at - int(start), 0), piece.size)
            head.append(piece[:cut])
            tail.append(piece[cut:])
        return Stream(head), Stream(tail)


class StreamSource:
    """Windows of ``window + 1`` tokens over a stream; an epoch is its non-overlapping windows."""

    def __init__(self, stream: Stream, window: int) -> None:
        if len(stream) < window + 1:
            raise TrainError(f"only {len(stream)} tokens to draw windows of {window + 1} from; "
                             "lower seq_len (--seq-len) or give more data")
        self.stream, self.window = stream, window

    def __len__(self) -> int:
        return (len(self.stream) - 1) // self.window

    def get(self, indices: np.ndarray) -> Batch:
        """indices are token offsets (random) or window numbers times window (epoch); see callers."""
        rows = np.stack([self.stream.read(int(o), self.window + 1) for o in indices]).astype(np.int64)
        return Batch(x=np.ascontiguousarray(rows[:, :-1]), y=np.ascontiguousarray(rows[:, 1:]), mask=None)

    def random_indices(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(0, len(self.stream) - self.window, size=n)

    def epoch_offsets(self, windows: np.ndarray) -> np.ndarray:
        return windows * self.window

    def even_indices(self, n: int) -> np.ndarray:
        return np.linspace(0, len(self.stream) - self.window - 1, num=n).astype(np.int64)


class RowSource:
    """Whole rows (SFT or padded pretraining), each with its target mask."""

    def __init__(self, views: list[ShardView], rows: np.ndarray, *, window: int | None, sft: bool) -> None:
        if not len(rows):
            raise TrainError("no rows to train on in this split; give more data or a smaller holdout")
        self.rows, self.window = rows, window  # rows: global row numbers in this source
        self.row_starts = np.cumsum([0] + [len(v.lengths) for v in views])
        # zero-copy views, looked up once (building them per row would dominate the loader's time)
        self.tokens = [v.tokens for v in views]
        self.lengths = [v.lengths for v in views]
        self.masks = [v.loss_mask if sft else None for v in views]

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, indices: np.ndarray) -> Batch:
        ids, masks, lengths = [], [], []
        for k in indices:
            g = int(self.rows[int(k)])
            s = int(np.searchsorted(self.row_starts, g, side="right")) - 1
            r = g - int(self.row_starts[s])
            ids.append(self.tokens[s][r])
            lengths.append(int(self.lengths[s][r]))
            lm = self.masks[s]
            masks.append(lm[r] if lm is not None else None)
        seq = min(max(lengths), ids[0].size)
        if self.window is not None:
            seq = min(seq, self.window + 1)
        tok = np.stack([row[:seq] for row in ids]).astype(np.int64)
        pos = np.arange(1, seq)
        mask = np.stack([(pos < n) & (m[1:seq].astype(bool) if m is not None else True)
                         for m, n in zip(masks, lengths)])
        return Batch(x=np.ascontiguousarray(tok[:, :-1]), y=np.ascontiguousarray(tok[:, 1:]), mask=mask)

    def random_indices(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(0, len(self.rows), size=n)

    def epoch_offsets(self, windows: np.ndarray) -> np.ndarray:
        return windows

    def even_indices(self, n: int) -> np.ndarray:
        return np.linspace(0, len(self.rows) - 1, num=n).astype(np.int64)


@dataclass
class ShardData:
    """The train source, the eval source (or None) and the facts the model needs."""

    train: StreamSource | RowSource
    eval: StreamSource | RowSource | None
    eval_origin: str  # "validation" | "holdout" | "none"
    vocab_size: int  # the shards' vocabulary
    seq_len: int  # the shards' row length
    eos_id: int
    kind: str
    fingerprint: str  # the verified shards (names, counts, sizes, hashes): what a resume must see again
    manifest: dict[str, object]
    tokenizer: Path | None  # the output's tokenizer file (verified against the manifest), if it has one
    views: list[ShardView]  # every shard the sources read

    def check_vocab(self, model_vocab: int) -> None:
        check_vocab(self.views, model_vocab=model_vocab)


#: names of the validation split: tokenize-sft wrote "val" before it wrote "validation"
VALIDATION_SPLITS = ("validation", "val")


def check_vocab(views: list[ShardView], *, model_vocab: int | None) -> None:
    """Refuse shards with a token id the model's embedding cannot hold."""
    for view in views:
        if model_vocab is not None and view.vocab_size > model_vocab and view.tokens.size:
            top = int(view.tokens.max())
            if top >= model_vocab:
                raise TrainError(f"{view.path}: token id {top} does not fit the model's vocab_size {model_vocab} "
                                 f"(shards use a {view.vocab_size}-token vocabulary); train with vocab_size "
                                 f">= {view.vocab_size} or resume only on shards from the same tokenizer")


def trainable_targets(views: list[ShardView]) -> tuple[int, int]:
    """(targets the SFT loss mask trains, rows with none) over ``views``: mask[1:length] of each row."""
    total = empty = 0
    for view in views:
        mask = view.loss_mask
        if mask is None:
            continue
        inside_row = np.arange(1, view.seq_len)[None, :] < view.lengths[:, None]  # (rows, seq_len - 1)
        per_row = (mask[:, 1:].astype(bool) & inside_row).sum(axis=1)
        total += int(per_row.sum())
        empty += int((per_row == 0).sum())
    return total, empty


def _refuse_untrainable_sft(shards: Path, split: str, views: list[ShardView]) -> None:
    rows = sum(len(v.lengths) for v in views)
    targets, empty = trainable_targets(views)
    if rows and not targets:
        raise TrainError(f"{shards}: all {rows} {split} rows have every target masked out (loss_mask is 0 on "
                         "every response token), so there is nothing to learn; rewrite the shards with "
                         "tokenize-sft (a response longer than seq_len is cut: raise --seq-len)")
    if empty:
        log.warning("%s: %d of %d %s rows train no target (their response was cut off or is empty)",
                    shards, empty, rows, split)


def _source(views: list[ShardView], *, window: int | None, rows_mode: bool, sft: bool,
            part: tuple[float, float] = (0.0, 1.0)) -> StreamSource | RowSource:
    """A source over one share [lo, hi) of a split (the whole split by default); stream mode needs a window."""
    lo, hi = part
    if rows_mode or window is None:
        total = sum(len(v.lengths) for v in views)
        return RowSource(views, np.arange(int(lo * total), int(hi * total)), window=window, sft=sft)
    stream = Stream([_stream_piece(v) for v in views])
    head, _ = stream.split(int(hi * len(stream)))
    _, part_stream = head.split(int(lo * len(stream)))
    return StreamSource(part_stream, window)


def _stream_piece(view: ShardView) -> np.ndarray:
    """A concat shard's tokens as one flat view; a short last row contributes only its real tokens."""
    flat, lengths = view.tokens.reshape(-1), view.lengths
    short = np.flatnonzero(lengths < view.seq_len)
    if not short.size:
        return flat
    first = int(short[0])
    if first < len(lengths) - 1:
        log.warning("%s: row %d of a concat shard is short; the %d rows after it are skipped",
                    view.path, first, len(lengths) - 1 - first)
    return flat[:first * view.seq_len + int(lengths[first])]


def load_data(shards: Path, *, window: int | None, holdout: float, model_vocab: int | None = None,
              full_hash: bool = True) -> ShardData:
    """Verify and open train (and validation) shards; hold out the end of train for eval when there is
    no validation split. With ``model_vocab``, refuse token ids the model cannot embed (else call
    ``ShardData.check_vocab`` once the model's vocabulary is known)."""
    verified = verify_shards(shards, full_hash=full_hash)
    manifest = verified.manifest
    kind, packing = manifest["kind"], manifest["packing"]
    rows_mode = kind == "sft" or packing == "pad"
    seq_len = int(manifest["seq_len"])
    if not rows_mode and window is None:
        window = seq_len
    train_views = verified.views.get("train", [])
    if not train_views:
        raise TrainError(f"{shards}/manifest.json lists no train shards; write the shards first (dataforge run)")
    val_split = next((s for s in VALIDATION_SPLITS if verified.views.get(s)), None)
    val_views = verified.views.get(val_split, []) if val_split else []
    if model_vocab is not None:
        check_vocab(train_views + val_views, model_vocab=model_vocab)
    if kind == "sft":
        _refuse_untrainable_sft(shards, "train", train_views)
    opts = {"window": window, "rows_mode": rows_mode, "sft": kind == "sft"}
    if val_views:
        train, evals, origin = _source(train_views, **opts), _source(val_views, **opts), "validation"
    elif holdout > 0:
        cut = 1.0 - holdout
        train, evals = _source(train_views, part=(0.0, cut), **opts), _source(train_views, part=(cut, 1.0), **opts)
        origin = "holdout"
    else:
        train, evals, origin = _source(train_views, **opts), None, "none"
    if kind == "sft" and evals is not None and val_views and not trainable_targets(val_views)[0]:
        log.warning("%s: the %s rows train no target; eval loss is reported from none", shards, val_split)
        evals, origin = None, "none"
    return ShardData(train=train, eval=evals, eval_origin=origin, vocab_size=int(manifest["vocab_size"]),
                     seq_len=seq_len, eos_id=int(manifest["eos_id"]), kind=kind,
                     fingerprint=verified.fingerprint, manifest=manifest, tokenizer=verified.tokenizer,
                     views=train_views + val_views)


@lru_cache(maxsize=2)
def _epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch, 1]).permutation(n)


def train_batch(source: StreamSource | RowSource, k: int, *, batch_size: int, seed: int, sampling: str) -> Batch:
    """The k-th micro-batch of a run: a pure function of (seed, k), so resuming at k is exact."""
    if sampling == "random":
        return source.get(source.random_indices(np.random.default_rng([seed, k, 0]), batch_size))
    n = len(source)
    items = np.arange(k * batch_size, (k + 1) * batch_size)
    order = np.concatenate([_epoch_order(seed, int(e), n)[items[items // n == e] % n] for e in np.unique(items // n)])
    return source.get(source.epoch_offsets(order))


def eval_batches(source: StreamSource | RowSource, *, batches: int, batch_size: int) -> list[Batch]:
    """Fixed, evenly spaced samples: the same every evaluation and every run (no RNG)."""
    idx = source.even_indices(batches * batch_size)
    return [source.get(idx[i:i + batch_size]) for i in range(0, len(idx), batch_size)]
