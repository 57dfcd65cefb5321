"""A seeded permutation of [0, n) computed per element: the global shuffle without a sort.

The shuffle of packed rows must be the same whichever task packs a row and however many
workers run, and no process may hold all rows. A keyed bijection answers "where does row
r go?" for any r on its own: a balanced Feistel network over 2^(2h) >= n values (four
rounds of a multiply-xorshift round function keyed by the seed), restricted to [0, n)
by cycle walking (re-encrypt until the value falls inside; Black & Rogaway 2002,
"Ciphers with arbitrary finite domains"). The domain is under 4n, so a few rounds of
walking at most; vectorised over numpy arrays.
"""

from __future__ import annotations

import numpy as np
import xxhash

_ROUNDS = 4
_M1 = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64's multipliers (Steele et al. 2014)
_M2 = np.uint64(0x94D049BB133111EB)


class Permutation:
    """``perm(rows) -> positions``: a bijection of [0, n) fixed by (seed, tag)."""

    def __init__(self, n: int, *, seed: int, tag: str) -> None:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self.n = n
        bits = max(2, (max(n, 2) - 1).bit_length())
        self.half = (bits + 1) // 2
        self.mask = np.uint64((1 << self.half) - 1)
        self.keys = [np.uint64(xxhash.xxh64_intdigest(f"{tag}\0{r}".encode(), seed=seed & 0xFFFFFFFFFFFFFFFF))
                     for r in range(_ROUNDS)]

    def _round(self, x: np.ndarray, key: np.uint64) -> np.ndarray:
        z = x ^ key
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return (z ^ (z >> np.uint64(31))) & self.mask

    def _encrypt(self, x: np.ndarray) -> np.ndarray:
        h = np.uint64(self.half)
        left, right = x >> h, x & self.mask
        for key in self.keys:
            left, right = right, left ^ self._round(right, key)
        return (left << h) | right

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        x = np.asarray(rows, dtype=np.uint64)
        if x.size and int(x.max()) >= self.n:
            raise ValueError(f"row {int(x.max())} is outside [0, {self.n})")
        with np.errstate(over="ignore"):
            y = self._encrypt(x)
            out = y >= np.uint64(self.n)
            while out.any():
                y[out] = self._encrypt(y[out])
                out = y >= np.uint64(self.n)
        return y.astype(np.int64)


class Identity:
    """The permutation of an unshuffled output."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows, dtype=np.int64)
