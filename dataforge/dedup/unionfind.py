"""Union-find over dense integer ids in one numpy array, fed edge chunks at a time.

Memory: the parent array, 4 B per document (int32 below 2^31 documents, else 8 B),
plus temporaries the size of one edge chunk or one ``block`` of ids.
"""

from __future__ import annotations

import numpy as np


class UnionFind:
    """Components of ``n`` ids; every root is the smallest id of its component."""

    def __init__(self, n: int) -> None:
        dtype = np.int32 if n < 2**31 else np.int64
        self.parent = np.arange(n, dtype=dtype)

    def find(self, x: np.ndarray) -> np.ndarray:
        """Roots of ``x`` (vectorised pointer chasing)."""
        p = self.parent
        r = p[x]
        while True:
            rr = p[r]
            if np.array_equal(rr, r):
                return r
            r = rr

    def union(self, u: np.ndarray, v: np.ndarray) -> None:
        """Join the components of each pair ``(u[i], v[i])``.

        Each round links every larger root to the smallest root it meets this round
        (``np.minimum.at`` resolves roots hit by several edges); pairs still apart are
        retried, so the loop ends when every pair shares a root.
        """
        while len(u):
            ru, rv = self.find(u), self.find(v)
            apart = ru != rv
            if not apart.any():
                return
            ru, rv, u, v = ru[apart], rv[apart], u[apart], v[apart]
            np.minimum.at(self.parent, np.maximum(ru, rv), np.minimum(ru, rv).astype(self.parent.dtype))

    def roots(self, block: int = 1 << 16) -> np.ndarray:
        """Fully compressed in place: ``roots()[i]`` is the component root of ``i``.

        Every parent is <= its child (unions link the larger root under the smaller), so
        blocks compressed in increasing order only point back at finished blocks.
        """
        p = self.parent
        for start in range(0, len(p), block):
            seg = p[start : start + block]
            while True:
                nxt = p[seg]
                if np.array_equal(nxt, seg):
                    break
                seg[...] = nxt
        return p


def clustered(roots: np.ndarray, *, block: int = 1 << 16) -> np.ndarray:
    """Ids in components of two or more, ordered by (root, id), from compressed ``roots``.

    Memory: ~16 B per clustered id (ids, their roots, the sort order), nothing per other id.
    """
    members, heads = [], []
    for start in range(0, len(roots), block):
        r = roots[start : start + block]
        moved = np.flatnonzero(r != np.arange(start, start + len(r), dtype=roots.dtype))
        members.append((moved + start).astype(roots.dtype))
        heads.append(np.unique(r[moved]))
    ids = np.concatenate(members + [np.unique(np.concatenate(heads))]) if members else roots[:0]
    return ids[np.lexsort((ids, roots[ids]))]
