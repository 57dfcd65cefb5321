"""What a dedup map writes per task (and the index per generation), and the drop lists.

A store folder holds ``meta.json`` (written last), ``docs.bin`` + ``ids.bin`` (id,
source, length, quality per document, in stream order; see ``docs.py``), per band one
or more sorted runs ``band_BBB.SSSS.run`` (one per spill), and for MinHash ``sigs.u32``
(K low 32 bits of each signature, row-major; for estimating Jaccard to a keeper).
Every file is checksummed in meta.json; the reduce reads rows with positioned reads.

Map memory: ``buffer_docs`` x (bands x 12 B of band records + ~16 B) until a spill,
plus one batch of signatures; nothing grows with the task's size.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, SupportsFloat

import numpy as np
import xxhash

from ..io import atomic_write, atomic_write_text
from .docs import DOC, DOCS_FILE, IDS_FILE, DocsWriter, encode_id, file_xxh3, read_rows, read_spans
from .runs import SignatureFileError, sort_records, verify_run, write_run

META = "meta.json"
SIGS = "sigs.u32"
STORE_VERSION = 2  # 1 kept the docs in a Parquet table
DROP_DTYPE = np.dtype([("pos", "<i8"), ("idhash", "<u8")])


def id_hash(doc_id: str) -> int:
    return xxhash.xxh3_64_intdigest(encode_id(doc_id))


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
        self._docs_writer = DocsWriter(folder)
        self._sigs_fh: Any = None
        self._sigs_hash = xxhash.xxh3_64()
        self._num_perm = 0

    def add(self, b: Batch) -> None:
        n = len(b.ids)
        local = np.arange(self.n, self.n + n, dtype=np.uint32)
        self._keys.append(b.keys[b.valid])
        self._docs.append(local[b.valid])
        self._buffered += int(b.valid.sum())
        self._docs_writer.add(b.ids, b.sources, b.lengths, b.qualities)
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
        docs_meta = self._docs_writer.close()
        if self._sigs_fh is not None:
            self._sigs_fh.close()
        meta = {"docs": self.n, "spills": self._spills, "bands": self.bands, "store_version": STORE_VERSION,
                "num_perm": self._num_perm, "sigs_xxh3": self._sigs_hash.intdigest() if self._sigs_fh else None,
                **docs_meta, **self.extra}
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

    @property
    def num_perm(self) -> int:
        return int(self.meta.get("num_perm") or 0)

    def doc_rows(self, local: np.ndarray) -> np.ndarray:
        """``DOC`` records of the given local rows (positioned reads, in the order given)."""
        return read_rows(self.folder / DOCS_FILE, DOC, local)

    def ids(self, recs: np.ndarray) -> list[str]:
        return [b.decode("utf-8", "surrogatepass") for b in read_spans(self.folder / IDS_FILE, recs["id_off"],
                                                                      recs["id_len"])]

    def source_names(self, recs: np.ndarray) -> np.ndarray:
        return np.array(self.meta["sources"], dtype=object)[recs["source"]] if len(recs) else np.empty(0, object)

    def sig_rows(self, local: np.ndarray) -> np.ndarray | None:
        """Stored 32-bit signatures of the given local rows, (n, K), or None without signatures."""
        k = self.num_perm
        if not k:
            return None
        return read_rows(self.folder / SIGS, np.dtype([("s", "<u4", (k,))]), local)["s"].reshape(len(local), k)


class SigReader:
    """Stored signatures by global id across stores (positioned reads, on demand)."""

    def __init__(self, stores: list[Store], offsets: np.ndarray) -> None:
        self.stores, self.offsets = stores, offsets
        self.k = max(s.num_perm for s in stores)

    def rows(self, gids: np.ndarray) -> np.ndarray:
        which = np.searchsorted(self.offsets, gids, side="right") - 1
        out = np.empty((len(gids), self.k), dtype=np.uint32)
        for s in np.unique(which):
            sel = which == s
            out[sel] = self.stores[s].sig_rows(gids[sel] - self.offsets[s])
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
    if store.meta.get("store_version") != STORE_VERSION:
        return bad + [(str(store.folder / META), f"store format {store.meta.get('store_version', 1)}, "
                                                 f"this version reads {STORE_VERSION}")]
    files = [(DOCS_FILE, store.docs * DOC.itemsize, "docs_xxh3"), (IDS_FILE, int(store.meta["ids_bytes"]), "ids_xxh3")]
    if store.meta.get("sigs_xxh3") is not None:
        files.append((SIGS, store.docs * store.num_perm * 4, "sigs_xxh3"))
    for name, size, key in files:
        f = store.folder / name
        if not f.exists() or f.stat().st_size != size:
            bad.append((str(f), "truncated or missing"))
        elif file_xxh3(f) != store.meta[key]:
            bad.append((str(f), "checksum mismatch (corrupted)"))
    return bad


def quality_of(meta: dict[str, Any]) -> float:
    """``meta['quality']`` as a float; NaN when absent or not a number."""
    q = meta.get("quality")
    if not isinstance(q, (str, SupportsFloat)):  # None, a list, ...
        return math.nan
    try:
        return float(q)
    except (TypeError, ValueError):
        return math.nan


def write_drop_list(path: Path, pos: np.ndarray, idhash: np.ndarray) -> None:
    arr = np.empty(len(pos), dtype=DROP_DTYPE)
    arr["pos"], arr["idhash"] = pos, idhash
    with atomic_write(path) as fh:
        np.save(fh, arr, allow_pickle=False)


def read_drop_list(path: Path) -> np.ndarray:
    if not path.exists():
        return np.empty(0, dtype=DROP_DTYPE)
    return np.load(path, allow_pickle=False)
