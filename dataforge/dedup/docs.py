"""Per-document facts of a dedup store in fixed-width files, read by row.

``docs.bin`` holds one 32-byte ``DOC`` record per document in stream order (where its
id sits in ``ids.bin``, its source as a number into meta.json ``sources``, its text
length and ``meta.quality``); ``ids.bin`` holds the UTF-8 ids back to back. meta.json
carries both files' xxh3-64.

The reduce reads only the rows it needs with positioned reads (``read_rows``,
``read_spans``): its memory follows the rows asked for, never the store's size. (The
first version read a whole task's Parquet table per slice, which Arrow's allocator kept,
and memory-mapped signatures, whose touched pages count towards RSS: together about
180 B per corpus document at 1M documents.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from .runs import SignatureFileError

DOC = np.dtype([("id_off", "<u8"), ("id_len", "<u4"), ("source", "<u4"), ("length", "<i8"), ("quality", "<f8")])
DOCS_FILE = "docs.bin"
IDS_FILE = "ids.bin"
# wanted byte ranges closer than this share one read (a page: reading it whole costs no more)
_GAP = 4096
# most bytes one read brings in, so a slice's memory stays near the size of what it asked for
_SPAN = 1 << 20


def encode_id(doc_id: str) -> bytes:
    return doc_id.encode("utf-8", "surrogatepass")


class DocsWriter:
    """Appends documents to ``docs.bin`` and ``ids.bin``; ``close`` returns their meta entries."""

    def __init__(self, folder: Path) -> None:
        self._docs = open(folder / DOCS_FILE, "wb")
        self._ids = open(folder / IDS_FILE, "wb")
        self._docs_hash, self._ids_hash = xxhash.xxh3_64(), xxhash.xxh3_64()
        self._sources: dict[str, int] = {}
        self._off = 0
        self.n = 0

    def add(self, ids: list[str], sources: list[str], lengths: Any, qualities: Any) -> None:
        enc = [encode_id(i) for i in ids]
        rec = np.empty(len(enc), dtype=DOC)
        lens = np.fromiter(map(len, enc), dtype=np.uint64, count=len(enc))
        ends = np.cumsum(lens) + np.uint64(self._off)
        rec["id_len"] = lens
        rec["id_off"] = ends - lens
        rec["source"] = [self._sources.setdefault(s, len(self._sources)) for s in sources]
        rec["length"] = lengths
        rec["quality"] = qualities
        blob, raw = b"".join(enc), rec.tobytes()
        self._ids.write(blob)
        self._ids_hash.update(blob)
        self._docs.write(raw)
        self._docs_hash.update(raw)
        self._off += len(blob)
        self.n += len(enc)

    def close(self) -> dict[str, Any]:
        self._docs.close()
        self._ids.close()
        return {"sources": list(self._sources), "docs_xxh3": self._docs_hash.intdigest(),
                "ids_xxh3": self._ids_hash.intdigest(), "ids_bytes": self._off}


def _groups(starts: np.ndarray, ends: np.ndarray) -> Iterator[tuple[int, int]]:
    """Runs ``[i, j)`` of sorted byte ranges to fetch with one read each: neighbours
    less than ``_GAP`` apart join, and a read stops growing past ``_SPAN`` bytes."""
    n = len(starts)
    breaks = np.flatnonzero(starts[1:] - ends[:-1] > _GAP) + 1 if n > 1 else np.zeros(0, np.int64)
    i = 0
    while i < n:
        nb = int(np.searchsorted(breaks, i, side="right"))
        j_gap = int(breaks[nb]) if nb < len(breaks) else n
        j_span = int(np.searchsorted(ends, starts[i] + _SPAN, side="right"))
        j = max(i + 1, min(j_gap, j_span))
        yield i, j
        i = j


def _pread(fd: int, path: Path, lo: int, size: int) -> bytes:
    data = os.pread(fd, size, lo)
    if len(data) != size:
        raise SignatureFileError(path, f"truncated: {size} bytes wanted at offset {lo}, got {len(data)}")
    return data


def read_rows(path: Path, dtype: np.dtype, rows: np.ndarray, *, header: int = 0) -> np.ndarray:
    """Fixed-width records ``rows`` (any order, repeats allowed) of a file, by positioned reads."""
    out = np.empty(len(rows), dtype=dtype)
    if not len(rows):
        return out
    order = np.argsort(rows, kind="stable")
    r = np.asarray(rows, dtype=np.int64)[order]
    size = dtype.itemsize
    starts = header + r * size
    with open(path, "rb") as fh:
        for i, j in _groups(starts, starts + size):
            lo = int(starts[i])
            buf = np.frombuffer(_pread(fh.fileno(), path, lo, int(starts[j - 1]) + size - lo), dtype=dtype)
            out[order[i:j]] = buf[r[i:j] - r[i]]
    return out


def read_spans(path: Path, offs: np.ndarray, lens: np.ndarray) -> list[bytes]:
    """Byte ranges ``[offs[i], offs[i] + lens[i])`` of a file, in the order given."""
    out: list[bytes] = [b""] * len(offs)
    if not len(offs):
        return out
    order = np.argsort(offs, kind="stable")
    starts = np.asarray(offs, dtype=np.int64)[order]
    ends = starts + np.asarray(lens, dtype=np.int64)[order]
    with open(path, "rb") as fh:
        for i, j in _groups(starts, np.maximum.accumulate(ends)):
            lo = int(starts[i])
            data = _pread(fh.fileno(), path, lo, int(ends[i:j].max()) - lo)
            for k, a, b in zip(order[i:j].tolist(), (starts[i:j] - lo).tolist(), (ends[i:j] - lo).tolist()):
                out[k] = data[a:b]
    return out


def file_xxh3(path: Path, *, chunk: int = 1 << 22) -> int:
    h = xxhash.xxh3_64()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.intdigest()
