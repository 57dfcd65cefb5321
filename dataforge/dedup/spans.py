"""Span-level dedup (paragraphs, sentence spans): what a task's map writes, and the reduce.

A *unit* is one paragraph or one span of consecutive sentences of a document. The map
numbers a task's units in stream order and writes, in its stage folder:

* ``run_SSSS.run``: sorted runs of ``(key, unit number)`` (``runs.py``: checksummed,
  merged in bounded memory), one per ``buffer_units`` units;
* ``units.bin``: ``(document position, unit index in the document)`` per unit number;
* ``keys.bin``: the key of each unit in unit order (the Bloom mode reads these);
* ``idhash.bin``: xxh3-64 of each document's id (apply checks it sees the same stream);
* ``meta.json`` (last): counts, the task's source and the format.

The reduce decides first occurrences. Order: the cross-run index first, then tasks by
source priority (pipeline-file order), then input order, then position in the document:
the same order ``keep: first`` uses for whole documents, applied to units.

* ``method: sorted`` (exact): all runs are merged by key (bounded memory: ``merge_buffer``
  records at a time); in each group of equal keys every unit after the first is dropped.
* ``method: bloom`` (as Dolma's dedup): units are read in priority order and tested
  against a Bloom filter of the keys seen so far; the filter is sized for the stated
  false-positive rate (a unique unit is wrongly dropped with at most that probability).
  Memory: ``1.44 log2(1/p)`` bits per unit, no merge.

Either way the dropped units of each task go to ``drop/<task>.npy`` as sorted
``(doc, unit, idhash)`` records; apply cuts them out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write, atomic_write_text
from .docs import read_rows
from .runs import RECORD, RunWriter, SignatureFileError, merge_runs, sort_records, verify_run, write_run

META = "meta.json"
UNIT = np.dtype([("doc", "<u4"), ("unit", "<u4")])
DROP = np.dtype([("doc", "<u4"), ("unit", "<u4"), ("idhash", "<u8")])
_CHUNK = 1 << 16


class SpanStoreWriter:
    """Streams one task's units to its stage folder."""

    def __init__(self, folder: Path, *, spill: int, extra: dict[str, Any]) -> None:
        self.folder, self.spill_at, self.extra = folder, spill, extra
        folder.mkdir(parents=True, exist_ok=True)
        self._units = open(folder / "units.bin", "wb")
        self._keys = open(folder / "keys.bin", "wb")
        self._ids = open(folder / "idhash.bin", "wb")
        self._buf_keys: list[np.ndarray] = []
        self.units = self.docs = self.spills = self._buffered = 0
        self.source: str | None = None

    def add(self, idhash: int, source: str, keys: list[int], unit_index: list[int]) -> None:
        """One document's units (``keys[i]`` is unit ``unit_index[i]`` of the document)."""
        self.source = self.source or source
        self._ids.write(np.uint64(idhash).tobytes())
        if keys:
            k = np.asarray(keys, dtype=np.uint64)
            u = np.empty(len(k), dtype=UNIT)
            u["doc"], u["unit"] = self.docs, unit_index
            self._units.write(u.tobytes())
            self._keys.write(k.tobytes())
            self._buf_keys.append(k)
            self._buffered += len(k)
            self.units += len(k)
        self.docs += 1
        if self._buffered >= self.spill_at:
            self._spill()

    def _spill(self) -> None:
        if not self._buffered:
            return
        keys = np.concatenate(self._buf_keys)
        first = self.units - len(keys)
        write_run(self.folder / f"run_{self.spills:04d}.run",
                  sort_records(keys, np.arange(first, self.units, dtype=np.uint32)))
        self.spills += 1
        self._buf_keys, self._buffered = [], 0

    def close(self) -> None:
        self._spill()
        for fh in (self._units, self._keys, self._ids):
            fh.close()
        meta = {"units": self.units, "docs": self.docs, "spills": self.spills, "source": self.source, **self.extra}
        atomic_write_text(self.folder / META, json.dumps(meta, indent=1, sort_keys=True))


class SpanStore:
    """A finished task store (read-only)."""

    def __init__(self, folder: Path, task_dir: Path | None) -> None:
        self.folder, self.task_dir = folder, task_dir
        try:
            self.meta = json.loads((folder / META).read_text())
        except (OSError, ValueError) as exc:
            raise SignatureFileError(folder / META, f"unreadable ({exc.__class__.__name__})",
                                     task_dir=task_dir) from None
        for name, size in (("units.bin", self.units * UNIT.itemsize), ("keys.bin", self.units * 8),
                           ("idhash.bin", int(self.meta["docs"]) * 8)):
            f = folder / name
            if not f.exists() or f.stat().st_size != size:
                raise SignatureFileError(f, "truncated or missing", task_dir=task_dir)

    @property
    def units(self) -> int:
        return int(self.meta["units"])

    def runs(self) -> list[Path]:
        return [self.folder / f"run_{s:04d}.run" for s in range(int(self.meta["spills"]))]

    def verify(self) -> None:
        for r in self.runs():
            try:
                verify_run(r)
            except SignatureFileError as exc:
                raise SignatureFileError(exc.path, exc.reason, task_dir=self.task_dir) from None

    def key_chunks(self) -> Iterator[np.ndarray]:
        with open(self.folder / "keys.bin", "rb") as fh:
            while raw := fh.read(_CHUNK * 8):
                yield np.frombuffer(raw, dtype="<u8")


def order_stores(stores: list[SpanStore], sources: list[str]) -> list[SpanStore]:
    """Tasks by source priority, then as given (input order); stable."""
    rank = {s: i for i, s in enumerate(sources)}
    return sorted(stores, key=lambda s: rank.get(s.meta.get("source") or "", len(sources)))


class DropSpill:
    """Per-store files of dropped local unit numbers (u32), appended as the reduce goes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for f in folder.glob("*.spill"):  # left by a killed reduce
            f.unlink()
        self.counts: dict[int, int] = {}

    def add(self, store: int, local: np.ndarray) -> None:
        if len(local):
            with open(self.folder / f"{store:06d}.spill", "ab") as fh:
                fh.write(local.astype("<u4").tobytes())
            self.counts[store] = self.counts.get(store, 0) + len(local)

    def read(self, store: int) -> np.ndarray:
        f = self.folder / f"{store:06d}.spill"
        return np.sort(np.fromfile(f, dtype="<u4")) if f.exists() else np.empty(0, "<u4")


def sorted_duplicates(index_runs: list[Path], stores: list[SpanStore], spill: DropSpill, *, buffer: int) -> int:
    """Exact mode: every unit whose key appeared earlier (index first). Returns units dropped."""
    offsets = np.cumsum([1] + [s.units for s in stores]).astype(np.int64)  # global 0 = the index
    runs = [(r, 0) for r in index_runs] + [(r, int(off)) for s, off in zip(stores, offsets) for r in s.runs()]
    carry: int | None = None
    total = 0
    for keys, units in merge_runs(runs, buffer=buffer):
        dup = np.empty(len(keys), dtype=bool)
        dup[0] = carry is not None and int(keys[0]) == carry
        np.equal(keys[1:], keys[:-1], out=dup[1:])
        carry = int(keys[-1])
        d = units[dup & (units > 0)]  # index records (global 0) are never dropped
        which = np.searchsorted(offsets, d, side="right") - 1
        for s in np.unique(which).tolist():
            spill.add(s, d[which == s] - offsets[s])
        total += len(d)
    return total


# ---- Bloom filter ----------------------------------------------------------------------------
def bloom_size(capacity: int, fp_rate: float) -> tuple[int, int]:
    """(bits, hash functions) for ``capacity`` keys at false-positive rate ``fp_rate``
    (m = -n ln p / ln(2)^2, k = m/n ln 2; Bloom 1970, the standard sizing)."""
    n = max(capacity, 1)
    m = max(64, int(math.ceil(-n * math.log(fp_rate) / math.log(2) ** 2)))
    return m, max(1, round(m / n * math.log(2)))


def bloom_fp_rate(bits: int, hashes: int, n: int) -> float:
    """Expected false-positive rate after ``n`` insertions."""
    return (1 - math.exp(-hashes * n / bits)) ** hashes


class Bloom:
    def __init__(self, bits: int, hashes: int, data: np.ndarray | None = None) -> None:
        self.bits, self.hashes = bits, hashes
        self.data = data if data is not None else np.zeros((bits + 7) // 8, dtype=np.uint8)

    def _positions(self, keys: np.ndarray) -> np.ndarray:
        """(k, n) bit positions: double hashing on the key's two 32-bit halves."""
        h1 = (keys & np.uint64(0xFFFFFFFF)).astype(np.uint64)
        h2 = (keys >> np.uint64(32)) | np.uint64(1)
        i = np.arange(self.hashes, dtype=np.uint64)[:, None]
        with np.errstate(over="ignore"):
            return (h1[None, :] + i * h2[None, :]) % np.uint64(self.bits)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        pos = self._positions(keys)
        hit = (self.data[pos >> np.uint64(3)] >> (pos & np.uint64(7)).astype(np.uint8)) & 1
        return hit.all(axis=0).astype(bool)

    def add(self, keys: np.ndarray) -> None:
        pos = self._positions(keys).ravel()
        np.bitwise_or.at(self.data, pos >> np.uint64(3), (1 << (pos & np.uint64(7))).astype(np.uint8))

    def save(self, path: Path) -> None:
        with atomic_write(path) as fh:
            np.save(fh, self.data, allow_pickle=False)


def bloom_duplicates(bloom: Bloom, stores: list[SpanStore], spill: DropSpill) -> int:
    """Bloom mode: units in priority order; a unit is a duplicate when its key is (probably)
    in the filter already or appeared earlier in the same chunk. Returns units dropped."""
    total = 0
    for s, store in enumerate(stores):
        base = 0
        for keys in store.key_chunks():
            _, first = np.unique(keys, return_index=True)
            firsts = np.zeros(len(keys), dtype=bool)
            firsts[first] = True
            seen = np.zeros(len(keys), dtype=bool)
            seen[first] = bloom.contains(keys[first])
            dup = seen | ~firsts
            bloom.add(keys[first[~seen[first]]])
            spill.add(s, base + np.flatnonzero(dup))
            total += int(dup.sum())
            base += len(keys)
    return total


def write_drops(store: SpanStore, local: np.ndarray, path: Path) -> int:
    """The store's dropped units as sorted (doc, unit, idhash) records; returns the count."""
    out = np.empty(len(local), dtype=DROP)
    if len(local):
        # positioned reads: memory follows the drops, not the store
        units = read_rows(store.folder / "units.bin", UNIT, local.astype(np.int64))
        out["doc"], out["unit"] = units["doc"], units["unit"]
        out["idhash"] = read_rows(store.folder / "idhash.bin", np.dtype("<u8"), units["doc"].astype(np.int64))
        out = out[np.lexsort((out["unit"], out["doc"]))]
    with atomic_write(path) as fh:
        np.save(fh, out, allow_pickle=False)
    return len(out)


def read_drops(path: Path) -> np.ndarray:
    return np.load(path, allow_pickle=False) if path.exists() else np.empty(0, dtype=DROP)


def filtered_run(store: SpanStore, dropped: np.ndarray, out: Path) -> int:
    """The store's records minus ``dropped`` units (sorted), streamed into one sorted run
    (for the cross-run index; unit numbers are not kept there)."""
    writer = RunWriter(out)
    for keys, units in merge_runs([(r, 0) for r in store.runs()], buffer=_CHUNK):
        keep = ~np.isin(units, dropped, assume_unique=False)
        rec = np.empty(int(keep.sum()), dtype=RECORD)
        rec["key"], rec["doc"] = keys[keep], 0
        writer.write(rec)
    writer.close()
    return writer.count
