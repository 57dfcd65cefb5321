"""Per-band bucket merge: sorted runs -> duplicate edges, in bounded memory.

One job per band (fanned out through the executor). Records sharing a bucket key
form a group; each non-first member gets an edge to the group's first document
(a star is enough for connectivity). Edges go to a raw file of int64 pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ..io import atomic_write
from .runs import merge_runs

EDGE = np.dtype([("u", "<i8"), ("v", "<i8")])


def group_edges(chunks: Iterable[tuple[np.ndarray, np.ndarray]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(representative, member) edges of equal-key groups from key-sorted chunks.

    A group may continue into the next chunk; its representative is carried over.
    """
    carry_key: int | None = None
    carry_rep = -1
    for keys, docs in chunks:
        if not len(keys):
            continue
        start = np.empty(len(keys), dtype=bool)
        start[0] = True
        np.not_equal(keys[1:], keys[:-1], out=start[1:])
        first = np.maximum.accumulate(np.where(start, np.arange(len(keys)), 0))
        rep = docs[first]
        if carry_key is not None and int(keys[0]) == carry_key:
            nxt = np.flatnonzero(start[1:])
            end = int(nxt[0]) + 1 if len(nxt) else len(keys)
            rep[:end] = carry_rep
            start[0] = False
        member = ~start
        yield rep[member], docs[member]
        carry_key, carry_rep = int(keys[-1]), int(rep[-1])


def band_edges(runs: list[tuple[str, int]], buffer: int, out: str) -> int:
    """Merge one band's runs and write its edges to ``out`` (atomically); return the edge count.

    Top-level and picklable: it runs in a worker process or on Ray.
    """
    n = 0
    with atomic_write(out) as fh:
        chunks = merge_runs([(Path(p), off) for p, off in runs], buffer=buffer)
        for u, v in group_edges(chunks):
            if len(u):
                e = np.empty(len(u), dtype=EDGE)
                e["u"], e["v"] = u, v
                fh.write(e.tobytes())
                n += len(u)
    return n


def read_edges(path: Path, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Edges of one band file, ``chunk`` at a time."""
    with open(path, "rb") as fh:
        while raw := fh.read(chunk * EDGE.itemsize):
            e = np.frombuffer(raw, dtype=EDGE)
            yield e["u"], e["v"]
