"""The input of an export: a dataforge output's shards, verified, then read in bounded chunks.

``open_source`` checks every shard against its manifest with the trainer's
``dataforge.train.verify.verify_shards`` (sha256 of every byte by default, rows, token
counts, metadata, dtype, ``max(token) < vocab_size``) before anything is written; any
disagreement is an :class:`ExportError` (exit 2) naming the file. The memory maps it opened
are dropped again: the writers open one shard at a time (``iter_chunks``) and never hold
more than ``CHUNK_TOKENS`` tokens of it in memory at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import DataforgeError
from ..io import sha256_file
from ..tokenize.shards import MANIFEST, ShardError, ShardView, manifest_shards, open_shard
from ..train.config import TrainError
from ..train.verify import verify_shards

log = logging.getLogger(__name__)

#: tokens of one shard held in memory at a time (rows are never split): 1 Mi tokens, the
#: size of a default shard (``TokenizeParams.shard_tokens``), 2-4 MB
CHUNK_TOKENS = 1 << 20
#: the split names dataforge writes (``tokenize`` and ``tokenize-sft``)
SPLITS = ("train", "validation")


class ExportError(DataforgeError):
    """Shards that cannot be exported as asked (damaged, mismatched, or too large for the format). Nothing is written."""

    exit_code = 2


@dataclass(frozen=True)
class Source:
    """A verified dataforge output: the facts every format needs, and its shards per split."""

    root: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    shards: dict[str, list[Path]]  # split -> shard paths, in manifest order (the packing order)
    tokens: dict[str, int]  # split -> real (non-pad) tokens, from the manifest (verified)
    rows: dict[str, int]
    tokenizer: Path | None
    kind: str  # the manifest's (verified against every shard)
    seq_len: int
    vocab_size: int
    packing: str

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.manifest["dtype"])

    @property
    def rows_in_order(self) -> bool:
        """Rows follow one another in the order they were cut from the document stream, so a
        document piece that opens a row continues the previous row's last document.

        True only for concat packing that the manifest says was not shuffled
        (``shuffle: false``); a manifest without the key (older writers, hand-made shards)
        counts as shuffled, so pieces are never joined to a document they do not belong to.
        """
        return self.packing == "concat" and self.manifest.get("shuffle") is False


def open_source(root: str | Path, *, splits: tuple[str, ...] | None = None, full_hash: bool = True) -> Source:
    """Verify the output in ``root`` and list its shards; ``splits`` None means every split it has."""
    root = Path(root)
    if not (root / MANIFEST).is_file():
        raise ExportError(f"{root / MANIFEST}: not found; give the output folder of a dataforge run or "
                          "tokenize-sft (the folder that holds manifest.json)")
    try:
        verified = verify_shards(root, full_hash=full_hash)
    except (TrainError, ShardError) as exc:
        raise ExportError(f"{exc}; nothing was exported") from None
    manifest = verified.manifest
    present = [s for s in SPLITS if s in verified.views] + sorted(set(verified.views) - set(SPLITS))
    del verified  # drop the memory maps: writers open one shard at a time
    if not present:
        raise ExportError(f"{root / MANIFEST}: lists no shards; there is nothing to export")
    wanted = tuple(present) if splits is None else splits
    missing = [s for s in wanted if s not in present]
    if missing:
        raise ExportError(f"{root / MANIFEST}: no {', '.join(missing)} shards (this output has: "
                          f"{', '.join(present) or 'none'}); choose --split from those")
    shards: dict[str, list[Path]] = {}
    tokens: dict[str, int] = {}
    rows: dict[str, int] = {}
    for split in wanted:
        listed = manifest_shards(root, split)
        shards[split] = [path for path, _ in listed]
        tokens[split] = sum(int(entry["tokens"]) for _, entry in listed)
        rows[split] = sum(int(entry["rows"]) for _, entry in listed)
    tok = manifest.get("tokenizer")
    tok_path = root / tok["file"] if isinstance(tok, dict) and isinstance(tok.get("file"), str) else None
    return Source(root=root, manifest=manifest, manifest_sha256=sha256_file(root / MANIFEST), shards=shards,
                  tokens=tokens, rows=rows, tokenizer=tok_path if tok_path is not None and tok_path.is_file() else None,
                  kind=str(manifest["kind"]), seq_len=int(manifest["seq_len"]), vocab_size=int(manifest["vocab_size"]),
                  packing=str(manifest["packing"]))


@dataclass
class Chunk:
    """Consecutive rows of one shard: zero-copy views into its memory map (``tokens``,
    ``lengths``, ``mask``) and the rows' ``doc_starts`` as flat values plus offsets."""

    path: Path
    first_row: int
    tokens: np.ndarray  # (rows, seq_len)
    lengths: np.ndarray  # (rows,) real tokens per row
    start_offsets: np.ndarray  # (rows + 1,) into start_values
    start_values: np.ndarray  # doc_starts of all rows, back to back
    mask: np.ndarray | None  # (rows, seq_len) loss mask, SFT shards only
    table: pa.Table  # the same rows as an Arrow table (for writers that keep Arrow columns)

    @property
    def rows(self) -> int:
        return int(self.lengths.shape[0])


def _list_parts(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    col = table.column(name)
    arr = col.chunk(0) if col.num_chunks == 1 else pa.concat_arrays(col.chunks)
    offsets = arr.offsets.to_numpy().astype(np.int64)
    values = arr.values.to_numpy(zero_copy_only=False)
    return offsets - offsets[0], values[offsets[0]:offsets[-1]]


def iter_chunks(path: Path, *, chunk_tokens: int | None = None) -> Iterator[Chunk]:
    """The rows of one shard, ``chunk_tokens // seq_len`` rows (at least one) at a time
    (``CHUNK_TOKENS`` when not given)."""
    view: ShardView = open_shard(path, check_tokens=False)  # checked by open_source already
    step = max(1, (CHUNK_TOKENS if chunk_tokens is None else chunk_tokens) // view.seq_len)
    tokens, lengths, mask = view.tokens, view.lengths, view.loss_mask
    for lo in range(0, tokens.shape[0], step):
        hi = min(lo + step, tokens.shape[0])
        part = view.table.slice(lo, hi - lo)
        offsets, values = _list_parts(part, "doc_starts")
        yield Chunk(path=path, first_row=lo, tokens=tokens[lo:hi], lengths=lengths[lo:hi], start_offsets=offsets,
                    start_values=values, mask=None if mask is None else mask[lo:hi], table=part)
