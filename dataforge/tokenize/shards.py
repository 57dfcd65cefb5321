"""The shard format: what the trainer may rely on (DESIGN.md section 4).

A shard is an Arrow IPC *file* holding exactly one record batch, so it memory-maps
and every column is one contiguous buffer:

* ``input_ids``: ``fixed_size_list<uint16|uint32>[seq_len]`` - one row per sequence.
  uint16 only when the *whole* vocabulary (added tokens included) fits, i.e.
  ``vocab_size <= 65536`` (Dolma shipped a uint16/uint32 bug at this boundary).
  ``ShardView.tokens`` is a zero-copy numpy view of shape ``(rows, seq_len)``.
* ``length``: ``uint32`` - real tokens in the row; the rest is ``pad_id`` (padded
  packing) - always ``seq_len`` when packed by concatenation.
* ``doc_starts``: ``list<uint32>`` - positions in the row where a document begins, so
  a trainer can mask attention across documents.
* ``loss_mask`` (SFT shards only): ``fixed_size_list<uint8>[seq_len]``; ``loss_mask[t]
  == 1`` iff the token at position t is a training target (predicted from positions
  < t). With ``x = ids[:-1]`` and ``y = ids[1:]`` the mask for ``y`` is
  ``loss_mask[1:]``. Response tokens and the EOS after each response are 1.

Schema metadata (all strings) makes a shard self-describing: ``format_version``,
``kind`` (pretrain|sft), ``split``, ``tokenizer_sha256``, ``vocab_size``, ``dtype``,
``eos_id``, ``pad_id``, ``seq_len``, ``packing`` (concat|pad).

``manifest.json`` beside the shards lists every shard with rows, tokens and sha256;
a shard not in the manifest does not exist.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import DataforgeError
from ..io import atomic_write_text, fsync_dir, sha256_file, temp_path_for

FORMAT_VERSION = "1"
MANIFEST = "manifest.json"


def token_dtype(vocab_size: int) -> np.dtype:
    """Smallest unsigned type holding every id in ``range(vocab_size)``."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


@dataclass
class ShardInfo:
    path: str  # relative to the manifest's folder
    split: str
    rows: int
    tokens: int  # real (non-pad) tokens
    sha256: str


@dataclass
class ShardSpec:
    """Facts shared by every shard of one output."""

    kind: str  # "pretrain" | "sft"
    seq_len: int
    vocab_size: int
    eos_id: int
    pad_id: int
    tokenizer_sha256: str
    packing: str = "concat"  # "concat" | "pad"

    @property
    def dtype(self) -> np.dtype:
        return token_dtype(self.vocab_size)

    def metadata(self, split: str) -> dict[str, str]:
        return {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "split": split,
            "tokenizer_sha256": self.tokenizer_sha256,
            "vocab_size": str(self.vocab_size),
            "dtype": self.dtype.name,
            "eos_id": str(self.eos_id),
            "pad_id": str(self.pad_id),
            "seq_len": str(self.seq_len),
            "packing": self.packing,
        }


class ShardWriter:
    """Buffers rows and writes fixed-size shards atomically (temp file, then rename).

    Memory is bounded by ``rows_per_shard * seq_len`` tokens. Shard names are
    ``<split>-<NNNNN>.arrow``; numbering continues from ``start_index``.
    """

    def __init__(self, out_dir: Path, spec: ShardSpec, *, split: str, rows_per_shard: int,
                 start_index: int = 0) -> None:
        if rows_per_shard < 1:
            raise ValueError("rows_per_shard must be >= 1")
        self.out_dir = Path(out_dir)
        self.spec, self.split, self.rows_per_shard = spec, split, rows_per_shard
        self.index = start_index
        self.shards: list[ShardInfo] = []
        self._ids: list[np.ndarray] = []
        self._lengths: list[int] = []
        self._starts: list[list[int]] = []
        self._masks: list[np.ndarray] = []

    def add(self, ids: np.ndarray, *, length: int | None = None, doc_starts: list[int] | None = None,
            loss_mask: np.ndarray | None = None) -> None:
        """Add one row of exactly ``seq_len`` ids (pad it first when ``length < seq_len``)."""
        seq_len = self.spec.seq_len
        if ids.shape != (seq_len,):
            raise ValueError(f"row has shape {ids.shape}, expected ({seq_len},)")
        if (self.spec.kind == "sft") != (loss_mask is not None):
            raise ValueError("loss_mask is required for sft shards and only for them")
        self._ids.append(ids.astype(self.spec.dtype, copy=False))
        self._lengths.append(seq_len if length is None else int(length))
        self._starts.append(doc_starts if doc_starts is not None else [0])
        if loss_mask is not None:
            self._masks.append(loss_mask.astype(np.uint8, copy=False))
        if len(self._ids) >= self.rows_per_shard:
            self.flush()

    def flush(self) -> None:
        if not self._ids:
            return
        seq_len = self.spec.seq_len
        flat = np.concatenate(self._ids)
        arrays: dict[str, pa.Array] = {
            "input_ids": pa.FixedSizeListArray.from_arrays(pa.array(flat), seq_len),
            "length": pa.array(np.asarray(self._lengths, dtype=np.uint32)),
            "doc_starts": pa.array(self._starts, type=pa.list_(pa.uint32())),
        }
        if self._masks:
            arrays["loss_mask"] = pa.FixedSizeListArray.from_arrays(pa.array(np.concatenate(self._masks)), seq_len)
        batch = pa.RecordBatch.from_pydict(arrays)
        schema = batch.schema.with_metadata(self.spec.metadata(self.split))
        name = f"{self.split}-{self.index:05d}.arrow"
        final = self.out_dir / name
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tmp = temp_path_for(final)
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            writer.write_batch(batch.replace_schema_metadata(schema.metadata))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        digest = sha256_file(tmp)
        os.replace(tmp, final)
        fsync_dir(self.out_dir)
        self.shards.append(ShardInfo(path=name, split=self.split, rows=len(self._ids),
                                     tokens=int(sum(self._lengths)), sha256=digest))
        self.index += 1
        self._ids, self._lengths, self._starts, self._masks = [], [], [], []

    def close(self) -> list[ShardInfo]:
        self.flush()
        return self.shards


def _view(arr: pa.Array) -> np.ndarray:
    """A zero-copy numpy view of a primitive Arrow array without nulls. (``to_numpy``
    imports pandas, about 0.7 s in every process that opens a shard.)"""
    dtype = np.dtype(arr.type.to_pandas_dtype())
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


class ShardError(DataforgeError):
    """A shard or manifest that does not match what it claims, or what the reader needs."""


@dataclass
class ShardView:
    """A memory-mapped shard. ``tokens`` is a zero-copy numpy view ``(rows, seq_len)``."""

    path: Path
    meta: dict[str, str]
    table: pa.Table

    @property
    def seq_len(self) -> int:
        return int(self.meta["seq_len"])

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def tokens(self) -> np.ndarray:
        col = self.table.column("input_ids").chunk(0)
        flat = _view(col.values)
        return flat.reshape(-1, self.seq_len)

    @property
    def loss_mask(self) -> np.ndarray | None:
        if "loss_mask" not in self.table.column_names:
            return None
        flat = _view(self.table.column("loss_mask").chunk(0).values)
        return flat.reshape(-1, self.seq_len)

    @property
    def lengths(self) -> np.ndarray:
        return _view(self.table.column("length").chunk(0))

    @property
    def doc_starts(self) -> list[list[int]]:
        return self.table.column("doc_starts").to_pylist()


def open_shard(path: str | os.PathLike[str], *, check_tokens: bool = True) -> ShardView:
    """Memory-map a shard and validate it up front (count, dtype, ``max(token) < vocab_size``)."""
    path = Path(path)
    if not path.exists():
        raise ShardError(f"{path}: shard file is missing")
    try:
        table = pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise ShardError(f"{path}: not a readable Arrow IPC file ({exc})") from exc
    raw = table.schema.metadata or {}
    meta = {k.decode(): v.decode() for k, v in raw.items()}
    if meta.get("format_version") != FORMAT_VERSION:
        raise ShardError(f"{path}: format_version {meta.get('format_version')!r}, this dataforge reads {FORMAT_VERSION!r}")
    if table.column("input_ids").num_chunks != 1:
        raise ShardError(f"{path}: expected one record batch, found {table.column('input_ids').num_chunks}")
    view = ShardView(path=path, meta=meta, table=table)
    tokens = view.tokens
    if tokens.dtype.name != meta["dtype"]:
        raise ShardError(f"{path}: tokens are {tokens.dtype.name} but metadata says {meta['dtype']}")
    if check_tokens and tokens.size and int(tokens.max()) >= view.vocab_size:
        raise ShardError(f"{path}: token id {int(tokens.max())} >= vocab_size {view.vocab_size}; "
                         "the shard does not match its tokenizer")
    return view


def manifest_core(spec: ShardSpec, shards: list[ShardInfo], *, tokenizer_file: str = "tokenizer.json",
                  shard_dir: str = "shards") -> dict[str, Any]:
    """The manifest keys every reader of an output relies on (writers add their own).

    ``tokenizer_file`` is a copy of the tokenizer inside the output folder, so the
    output is self-contained.
    """
    return {
        "format_version": FORMAT_VERSION,
        "kind": spec.kind,
        "shard_dir": shard_dir,
        "seq_len": spec.seq_len,
        "vocab_size": spec.vocab_size,
        "eos_id": spec.eos_id,
        "pad_id": spec.pad_id,
        "dtype": spec.dtype.name,
        "packing": spec.packing,
        "tokenizer": {"file": tokenizer_file, "sha256": spec.tokenizer_sha256},
        "shards": [asdict(s) for s in shards],
    }


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(Path(out_dir) / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        raise ShardError(f"{path}: no manifest; is {out_dir} a dataforge output directory?")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ShardError(f"{path}: manifest is not valid JSON ({exc})") from exc


def manifest_shards(out_dir: str | os.PathLike[str], split: str | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """The shards a manifest lists (optionally one split), as (absolute path, entry)."""
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    base = out_dir / manifest.get("shard_dir", "shards")
    return [(base / s["path"], s) for s in manifest["shards"] if split is None or s["split"] == split]


def shard_info_dict(info: ShardInfo) -> dict[str, Any]:
    return asdict(info)
