"""Sorted run files of fixed-width (key, doc) records with a checksum, and their merge.

Layout (little endian): a 32-byte header ``MAGIC | version u32 | record size u32 |
count u64 | xxh3-64 of the payload u64``, then ``count`` records of ``(key u64, doc u32)``
sorted by key then doc. A truncated, extended or bit-flipped file fails ``verify_run``;
an unsorted one fails the merge. Either raises ``SignatureFileError`` naming the file.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xxhash

from ..errors import TaskOutputError
from ..io import atomic_write

MAGIC = b"DFDEDUP1"
VERSION = 1
RECORD = np.dtype([("key", "<u8"), ("doc", "<u4")])
_HEADER = struct.Struct("<8sIIQQ")
_VERIFY_CHUNK = 1 << 22
# fewest records read from a run at a time when many runs share the merge buffer (12 KiB)
_MIN_CHUNK = 1024


class SignatureFileError(TaskOutputError):
    """A dedup side file is corrupt or truncated. Redo the task that wrote it, then the reduce.

    ``path`` is the bad file; ``task_dir`` the task folder that holds it (None for the index).
    """

    def __init__(self, path: str | Path, reason: str, *, task_dir: str | Path | None = None,
                 more: list[tuple[str, str, str | None]] | None = None):
        self.path, self.reason = str(path), reason
        self.task_dir = str(task_dir) if task_dir is not None else None
        self.more = list(more or [])  # further bad files: (path, reason, task_dir)
        fix = (f"delete task folder {self.task_dir} so the task is redone" if self.task_dir
               else "restore the dedup index from a backup or rebuild it")
        extra = "".join(f"\n{p}: {r}" for p, r, _ in self.more)
        super().__init__(f"{self.path}: {reason}; {fix}{extra}")

    @property
    def task_dirs(self) -> list[str]:
        """Every task folder to redo (in order, without repeats)."""
        dirs = [self.task_dir] + [t for _, _, t in self.more]
        return list(dict.fromkeys(d for d in dirs if d))

    def __reduce__(self):  # picklable across process pools and Ray
        return (_rebuild_error, (self.path, self.reason, self.task_dir, self.more))


def _rebuild_error(path: str, reason: str, task_dir: str | None, more: list) -> SignatureFileError:
    return SignatureFileError(path, reason, task_dir=task_dir, more=more)


def sort_records(keys: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Records sorted by key, then doc (``docs`` ascend on input, the sort is stable)."""
    order = np.argsort(keys, kind="stable")
    rec = np.empty(len(keys), dtype=RECORD)
    rec["key"] = keys[order]
    rec["doc"] = docs[order]
    return rec


def write_run(path: Path, records: np.ndarray) -> None:
    """Write sorted records atomically with their checksum."""
    payload = np.ascontiguousarray(records, dtype=RECORD).tobytes()
    header = _HEADER.pack(MAGIC, VERSION, RECORD.itemsize, len(records), xxhash.xxh3_64_intdigest(payload))
    with atomic_write(path) as fh:
        fh.write(header)
        fh.write(payload)


class RunWriter:
    """Stream already-sorted records into a run file; header and checksum are patched at close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._fh = open(self._tmp, "wb")
        self._fh.write(b"\0" * _HEADER.size)
        self._hash = xxhash.xxh3_64()
        self.count = 0

    def write(self, records: np.ndarray) -> None:
        raw = np.ascontiguousarray(records, dtype=RECORD).tobytes()
        self._fh.write(raw)
        self._hash.update(raw)
        self.count += len(records)

    def close(self) -> None:
        self._fh.seek(0)
        self._fh.write(_HEADER.pack(MAGIC, VERSION, RECORD.itemsize, self.count, self._hash.intdigest()))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.path)


def read_header(path: Path) -> tuple[int, int]:
    """(count, checksum) after checking magic, version and the file size."""
    size = path.stat().st_size if path.exists() else -1
    if size < _HEADER.size:
        raise SignatureFileError(path, "missing or shorter than its header")
    with open(path, "rb") as fh:
        magic, version, rsize, count, checksum = _HEADER.unpack(fh.read(_HEADER.size))
    if magic != MAGIC or version != VERSION or rsize != RECORD.itemsize:
        raise SignatureFileError(path, "not a dataforge dedup run file (bad magic/version)")
    if size != _HEADER.size + count * RECORD.itemsize:
        raise SignatureFileError(path, f"truncated or extended: {size} bytes for {count} records")
    return count, checksum


def verify_run(path: Path) -> int:
    """Check size and checksum; return the record count."""
    count, checksum = read_header(path)
    h = xxhash.xxh3_64()
    with open(path, "rb") as fh:
        fh.seek(_HEADER.size)
        while block := fh.read(_VERIFY_CHUNK):
            h.update(block)
    if h.intdigest() != checksum:
        raise SignatureFileError(path, "checksum mismatch (corrupted)")
    return count


def iter_chunks(path: Path, chunk: int) -> Iterator[np.ndarray]:
    """Records of a run, ``chunk`` at a time, checking that keys never decrease."""
    count, _ = read_header(path)
    last = None
    with open(path, "rb") as fh:
        fh.seek(_HEADER.size)
        left = count
        while left:
            n = min(chunk, left)
            rec = np.frombuffer(fh.read(n * RECORD.itemsize), dtype=RECORD)
            keys = rec["key"]
            if (last is not None and keys[0] < last) or np.any(keys[1:] < keys[:-1]):
                raise SignatureFileError(path, "records out of order")
            last = keys[-1]
            left -= n
            yield rec


def merge_runs(runs: list[tuple[Path, int]], *, buffer: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Merge sorted runs into ``(keys, global_docs)`` chunks in (key, doc) order.

    ``runs`` pairs each file with the offset added to its local doc numbers (runs are
    given in increasing offset order). ``buffer`` records are held across all runs
    (each run reads ``buffer / runs``, at least 1024 at a time), so memory is
    ``max(buffer, 1024 x runs)`` records of 12 B (~40 B with the round's sort), not
    ``buffer`` per run. Each round emits every buffered record whose key is <= the
    smallest last key among buffers of runs not yet exhausted, so equal keys may span
    chunks.
    """
    chunk = max(buffer // max(len(runs), 1), min(buffer, _MIN_CHUNK))
    its = [iter_chunks(p, chunk) for p, _ in runs]
    offsets = [off for _, off in runs]
    bufs: list[np.ndarray | None] = [next(it, None) for it in its]
    while True:
        live = [(i, b) for i, b in enumerate(bufs) if b is not None and len(b)]
        if not live:
            return
        bound = min(int(b["key"][-1]) for _, b in live)
        keys, docs = [], []
        for i, b in live:
            cut = int(np.searchsorted(b["key"], np.uint64(bound), side="right"))
            keys.append(b["key"][:cut])
            docs.append(b["doc"][:cut].astype(np.int64) + offsets[i])
            bufs[i] = b[cut:] if cut < len(b) else next(its[i], None)
        k = np.concatenate(keys)
        d = np.concatenate(docs)
        order = np.lexsort((d, k))
        yield k[order], d[order]
