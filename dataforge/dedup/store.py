"""What a dedup map writes per task (and the index per generation), and the drop lists.

A store folder holds ``meta.json`` (written last), ``docs.parquet`` (id, source,
length, quality per document, in stream order), per band one or more sorted runs
``band_BBB.SSSS.run`` (one per spill), and for MinHash ``sigs.u32`` (K low 32 bits of
each signature, row-major; for estimating Jaccard to a keeper).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from ..io import atomic_write, atomic_write_text
from .runs import SignatureFileError, sort_records, verify_run, write_run

META = "meta.json"
DOCS = "docs.parquet"
SIGS = "sigs.u32"
_DOCS_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()),
                          ("length", pa.int64()), ("quality", pa.float64())])
DROP_DTYPE = np.dtype([("pos", "<i8"), ("idhash", "<u8")])


def id_hash(doc_id: str) -> int:
    return xxhash.xxh3_64_intdigest(doc_id.encode("utf-8", "surrogatepass"))


@dataclass
class Batch:
    """One batch of signed documents (rows align)."""

    ids: list[str]
    sources: list[str]
    lengths: list[int]
    qualities: list[float]
    keys: np.ndarray  # (n, bands) uint64 bucket keys
    valid: np.ndarray  # (n,) bool: False = not signed (empty text), never a duplicate
    sigs: np.ndarray | None = None  # (n, K) uint64 signatures, MinHash only


class StoreWriter:
    """Streams a task's side outputs to ``folder``; ``close`` writes ``meta.json`` last."""

    def __init__(self, folder: Path, *, bands: int, spill_docs: int, extra: dict[str, Any]) -> None:
        self.folder, self.bands, self.spill_docs, self.extra = folder, bands, spill_docs, extra
        folder.mkdir(parents=True, exist_ok=True)
        self.n = 0
        self._keys: list[np.ndarray] = []
        self._docs: list[np.ndarray] = []
        self._buffered = 0
        self._spills = 0
        self._docs_writer = pq.ParquetWriter(folder / DOCS, _DOCS_SCHEMA)
        self._sigs_fh: Any = None
        self._sigs_hash = xxhash.xxh3_64()
        self._num_perm = 0

    def add(self, b: Batch) -> None:
        n = len(b.ids)
        local = np.arange(self.n, self.n + n, dtype=np.uint32)
        self._keys.append(b.keys[b.valid])
        self._docs.append(local[b.valid])
        self._buffered += int(b.valid.sum())
        self._docs_writer.write_table(pa.table(
            [b.ids, b.sources, b.lengths, b.qualities], schema=_DOCS_SCHEMA))
        if b.sigs is not None:
            if self._sigs_fh is None:
                self._sigs_fh = open(self.folder / SIGS, "wb")
                self._num_perm = b.sigs.shape[1]
            raw = np.ascontiguousarray(b.sigs.astype("<u4")).tobytes()  # keeps the low 32 bits
            self._sigs_fh.write(raw)
            self._sigs_hash.update(raw)
        self.n += n
        if self._buffered >= self.spill_docs:
            self._spill()

    def _spill(self) -> None:
        if not self._keys:
            return
        keys = np.concatenate(self._keys)
        docs = np.concatenate(self._docs)
        if len(docs):
            for band in range(self.bands):
                write_run(self.folder / f"band_{band:03d}.{self._spills:04d}.run",
                          sort_records(keys[:, band], docs))
            self._spills += 1
        self._keys, self._docs, self._buffered = [], [], 0

    def close(self) -> None:
        self._spill()
        self._docs_writer.close()
        if self._sigs_fh is not None:
            self._sigs_fh.close()
        meta = {"docs": self.n, "spills": self._spills, "bands": self.bands,
                "num_perm": self._num_perm, "sigs_xxh3": self._sigs_hash.intdigest() if self._sigs_fh else None,
                **self.extra}
        atomic_write_text(self.folder / META, json.dumps(meta, indent=1, sort_keys=True))


@dataclass
class Store:
    """A finished store (a task's stage folder or an index generation), read-only."""

    folder: Path
    meta: dict[str, Any]
    task_dir: Path | None  # the task folder to redo if this store is bad (None: index)

    @classmethod
    def open(cls, folder: Path, task_dir: Path | None) -> "Store":
        try:
            meta = json.loads((folder / META).read_text())
        except (OSError, ValueError) as exc:
            raise SignatureFileError(folder / META, f"unreadable ({exc.__class__.__name__})",
                                     task_dir=task_dir) from None
        return cls(folder, meta, task_dir)

    @property
    def docs(self) -> int:
        return int(self.meta["docs"])

    def band_runs(self, band: int) -> list[Path]:
        return [self.folder / f"band_{band:03d}.{s:04d}.run" for s in range(int(self.meta["spills"]))]

    def read_docs(self, columns: list[str]) -> pa.Table:
        return pq.read_table(self.folder / DOCS, columns=columns)

    def sig_rows(self, local: np.ndarray) -> np.ndarray | None:
        """Stored 32-bit signatures of the given local rows, or None without signatures."""
        k = int(self.meta.get("num_perm") or 0)
        if not k or not len(local):
            return None
        mm = np.memmap(self.folder / SIGS, dtype="<u4", mode="r", shape=(self.docs, k))
        try:
            return np.array(mm[local])
        finally:
            del mm


class SigReader:
    """Stored signatures by global id across stores (memory-mapped, read on demand)."""

    def __init__(self, stores: list[Store], offsets: np.ndarray) -> None:
        self.offsets = offsets
        self.maps = [np.memmap(s.folder / SIGS, dtype="<u4", mode="r", shape=(s.docs, int(s.meta["num_perm"])))
                     if s.docs and s.meta.get("num_perm") else None for s in stores]

    def rows(self, gids: np.ndarray) -> np.ndarray:
        which = np.searchsorted(self.offsets, gids, side="right") - 1
        k = next(m.shape[1] for m in self.maps if m is not None)
        out = np.empty((len(gids), k), dtype=np.uint32)
        for s in np.unique(which):
            sel = which == s
            out[sel] = self.maps[s][gids[sel] - self.offsets[s]]
        return out

    def jaccard(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Estimated Jaccard of each pair: the fraction of equal MinHash values."""
        return (self.rows(u) == self.rows(v)).mean(axis=1)


def verify_store(folder: str, task_dir: str | None) -> list[tuple[str, str]]:
    """Every problem with a store as ``(path, reason)`` pairs (empty when sound).

    Returns instead of raising so it runs unchanged in a process pool or on Ray.
    """
    tdir = Path(task_dir) if task_dir else None
    try:
        store = Store.open(Path(folder), tdir)
    except SignatureFileError as exc:
        return [(exc.path, exc.reason)]
    bad: list[tuple[str, str]] = []
    for band in range(int(store.meta["bands"])):
        for run in store.band_runs(band):
            try:
                verify_run(run)
            except SignatureFileError as exc:
                bad.append((exc.path, exc.reason))
    docs_path = store.folder / DOCS
    try:
        if pq.ParquetFile(docs_path).metadata.num_rows != store.docs:
            bad.append((str(docs_path), "row count differs from meta.json"))
    except (OSError, pa.ArrowException) as exc:
        bad.append((str(docs_path), f"unreadable ({exc.__class__.__name__})"))
    if store.meta.get("sigs_xxh3") is not None:
        sigs = store.folder / SIGS
        expect = store.docs * int(store.meta["num_perm"]) * 4
        if not sigs.exists() or sigs.stat().st_size != expect:
            bad.append((str(sigs), "truncated or missing"))
        else:
            h = xxhash.xxh3_64()
            with open(sigs, "rb") as fh:
                while block := fh.read(1 << 22):
                    h.update(block)
            if h.intdigest() != store.meta["sigs_xxh3"]:
                bad.append((str(sigs), "checksum mismatch (corrupted)"))
    return bad


def quality_of(meta: dict[str, Any]) -> float:
    """``meta['quality']`` as a float; NaN when absent or not a number."""
    q = meta.get("quality")
    try:
        q = float(q)
    except (TypeError, ValueError):
        return math.nan
    return q


def write_drop_list(path: Path, pos: np.ndarray, idhash: np.ndarray) -> None:
    arr = np.empty(len(pos), dtype=DROP_DTYPE)
    arr["pos"], arr["idhash"] = pos, idhash
    with atomic_write(path) as fh:
        np.save(fh, arr, allow_pickle=False)


def read_drop_list(path: Path) -> np.ndarray:
    if not path.exists():
        return np.empty(0, dtype=DROP_DTYPE)
    return np.load(path, allow_pickle=False)
