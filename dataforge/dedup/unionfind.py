"""Union-find over dense integer ids in one numpy array, fed edge chunks at a time."""

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

    def roots(self) -> np.ndarray:
        """Fully compressed: ``roots()[i]`` is the component root of ``i``."""
        p = self.parent
        while True:
            pp = p[p]
            if np.array_equal(pp, p):
                self.parent = p
                return p
            p = pp
