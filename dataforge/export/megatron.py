"""Megatron-LM's indexed dataset: ``<name>.bin`` (tokens) + ``<name>.idx`` (where each sequence is).

The layout, from NVIDIA/Megatron-LM ``megatron/core/datasets/indexed_dataset.py``
(``_IndexWriter`` / ``_IndexReader``; our own code), all little-endian:

``.idx``::

    9 bytes   b"MMIDIDX\\x00\\x00"                  magic
    <Q        1                                     version
    <B        dtype code (DType: uint8=1 int8=2 int16=3 int32=4 int64=5 float64=6 float32=7 uint16=8)
    <Q        sequence_count   (S)
    <Q        document_count   (D = documents + 1: the length of document_indices)
    int32[S]  sequence_lengths  (tokens per sequence)
    int64[S]  sequence_pointers (byte offset of each sequence in .bin)
    int64[D]  document_indices  ([0, ...]: the sequence index where each document ends)

``.bin``: the sequences' tokens back to back in that dtype, nothing else.

We write one sequence per document, so ``document_indices = [0, 1, ..., S]`` (as Megatron's
``add_document`` does for a one-sequence document) and Megatron's own document boundaries
are the dataforge documents (``documents.py`` says what a document is). Tokens are uint16
when the whole vocabulary fits (<= 65536 ids), else int32: Megatron's DType has no uint32.

SFT shards: the loss mask goes into a second indexed dataset beside the first,
``<name>_loss_mask.bin/.idx`` (uint8, the same sequence lengths, mask[t] for token t),
which Megatron-LM's GPTDataset does not read (it builds its own loss mask from EOD
settings); the prompt/response split is kept there for a trainer that wants it.

The document lengths go to a scratch file as they are found and the index is written from
it at the end in blocks, so memory does not grow with the number of documents.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import IO

import numpy as np

from .base import Exporter, Progress, SplitResult
from .documents import DocumentCutter, document_lengths, real_mask, real_tokens
from .source import ExportError, iter_chunks
from .staging import Staging, sync_close, write_array

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
#: Megatron's DType codes (indexed_dataset.py)
DTYPE_CODES = {np.dtype(np.uint8): 1, np.dtype(np.int8): 2, np.dtype(np.int16): 3, np.dtype(np.int32): 4,
               np.dtype(np.int64): 5, np.dtype(np.float64): 6, np.dtype(np.float32): 7, np.dtype(np.uint16): 8}
#: sequence lengths are int32 in the index
MAX_SEQUENCE = 2**31 - 1
#: index entries written per block
_BLOCK = 1 << 20


def megatron_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id of the vocabulary fits, else int32 (Megatron has no uint32 code)."""
    if vocab_size <= 1 << 16:
        return np.dtype(np.uint16)
    if vocab_size <= 2**31:
        return np.dtype(np.int32)
    raise ExportError(f"vocab_size {vocab_size} does not fit Megatron's int32 tokens (at most 2**31 ids)")


def write_index(idx: Path, *, lengths_file: Path, count: int, dtype: np.dtype) -> None:
    """Write a ``.idx`` for ``count`` sequences (one per document) whose int32 lengths are in ``lengths_file``."""
    itemsize = dtype.itemsize
    lengths = np.memmap(lengths_file, dtype=np.int32, mode="r") if count else np.zeros(0, dtype=np.int32)
    if lengths.shape[0] != count:
        raise RuntimeError(f"{lengths_file}: {lengths.shape[0]} lengths for {count} sequences")
    fh = open(idx, "wb")
    fh.write(MAGIC + struct.pack("<Q", VERSION) + struct.pack("<B", DTYPE_CODES[dtype]))
    fh.write(struct.pack("<Q", count) + struct.pack("<Q", count + 1))
    for lo in range(0, count, _BLOCK):
        fh.write(np.ascontiguousarray(lengths[lo:lo + _BLOCK]).tobytes())
    offset = 0  # tokens before the block
    for lo in range(0, count, _BLOCK):
        block = lengths[lo:lo + _BLOCK].astype(np.int64)
        before = np.cumsum(block) - block
        fh.write(((before + offset) * itemsize).astype(np.int64).tobytes())
        offset += int(block.sum())
    for lo in range(0, count + 1, _BLOCK):
        fh.write(np.arange(lo, min(lo + _BLOCK, count + 1), dtype=np.int64).tobytes())
    sync_close(fh)
    del lengths


class MegatronExporter(Exporter):
    name = "megatron"

    def check(self) -> None:
        megatron_dtype(self.source.vocab_size)

    def _names(self, split: str) -> list[str]:
        base = f"{self.params.stem}{split}"
        names = [f"{base}.bin", f"{base}.idx"]
        if self.source.kind == "sft":
            names += [f"{base}_loss_mask.bin", f"{base}_loss_mask.idx"]
        return names

    def finals(self) -> list[str]:
        return [name for split in self.source.shards for name in self._names(split)]

    def exported_dtype(self) -> str:
        return megatron_dtype(self.source.vocab_size).name

    def keeps(self) -> dict[str, str]:
        sft = self.source.kind == "sft"
        joined = self.source.rows_in_order
        return {
            "keeps": "every real token; one sequence per document"
                     + (" (documents cut across rows joined back)" if joined else "")
                     + ("; the loss mask as <name>_loss_mask.bin/.idx (uint8)" if sft else ""),
            "drops": "padding and the packed-row layout (Megatron re-packs)"
                     + ("" if joined or self.source.packing == "pad" else
                        "; documents cut across shuffled rows stay in pieces, one document each"),
        }

    def write_split(self, split: str, staging: Staging, progress: Progress | None) -> SplitResult:
        dtype = megatron_dtype(self.source.vocab_size)
        bin_name, idx_name, *mask_names = self._names(split)
        lengths_file = staging.scratch(f"{split}.lengths")
        bin_fh = open(staging.path(bin_name), "wb")
        mask_fh = open(staging.path(mask_names[0]), "wb") if mask_names else None
        lengths_fh = open(lengths_file, "wb")
        cutter = DocumentCutter()
        every_row = not self.source.rows_in_order
        docs = tokens = rows = 0
        paths = self.source.shards[split]
        for done, path in enumerate(paths, 1):
            for chunk in iter_chunks(path):
                stream = real_tokens(chunk)
                write_array(bin_fh, stream.astype(dtype, copy=False))
                if mask_fh is not None:
                    write_array(mask_fh, real_mask(chunk))
                docs += self._lengths(lengths_fh, document_lengths(chunk, cutter, every_row=every_row), path)
                tokens += int(stream.shape[0])
                rows += chunk.rows
            if progress is not None:
                progress(split, done, len(paths))
        docs += self._lengths(lengths_fh, cutter.close(), paths[-1])
        sync_close(lengths_fh)
        sync_close(bin_fh)
        write_index(staging.path(idx_name), lengths_file=lengths_file, count=docs, dtype=dtype)
        files = [bin_name, idx_name]
        if mask_fh is not None:
            sync_close(mask_fh)
            write_index(staging.path(mask_names[1]), lengths_file=lengths_file, count=docs, dtype=np.dtype(np.uint8))
            files += mask_names
        return SplitResult(split=split, files=files, tokens=tokens, rows=rows, documents=docs)

    @staticmethod
    def _lengths(fh: IO[bytes], lengths: np.ndarray, path: Path) -> int:
        if lengths.size and int(lengths.max()) > MAX_SEQUENCE:
            raise ExportError(f"{path}: a document of {int(lengths.max())} tokens; Megatron's index holds "
                              f"at most {MAX_SEQUENCE} per sequence")
        write_array(fh, lengths.astype(np.int32))
        return int(lengths.size)
