"""MinHash signatures, vectorised with numpy, and LSH band parameters.

Two hash modes:

* ``fast`` (default): words hashed with xxh3-64, combined into 64-bit shingle hashes in
  numpy, then K permutations ``(a*h + b) mod (2^61 - 1)`` computed *exactly* with 32-bit
  limbs (datatrove multiplies in wrapping uint64 before the mod, so its values are not
  the textbook family; ours are).
* ``datasketch``: shingles hashed with SHA-1 (first 4 bytes, little endian), the 32-bit
  MurmurHash3 finalizer, then ``a*h + b mod 2^32`` with datasketch's parameters drawn
  from ``np.random.RandomState(seed)``: the values equal ``datasketch.MinHash(num_perm,
  seed).hashvalues`` (datasketch >= 2.0 default scheme "affine32").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import xxhash

MERSENNE = np.uint64((1 << 61) - 1)
_U64 = np.uint64
_M32 = _U64(0xFFFFFFFF)
_M31 = _U64(0x7FFFFFFF)
_EMPTY = np.iinfo(np.uint64).max
# odd 64-bit constants weighting word j of a shingle (first digits of pi/e/sqrt2, made odd)
_POS = np.array([0x243F6A8885A308D3, 0x13198A2E03707345, 0xA4093822299F31D1, 0x082EFA98EC4E6C89,
                 0x452821E638D01377, 0xBE5466CF34E90C6D, 0xC0AC29B7C97C50DD, 0x3F84D5B5B5470917],
                dtype=np.uint64)
# shingles permuted per numpy call: the nine (K, rows) uint64 arrays of a block of 256
# with K = 112 take 2 MiB, one core's L2 here (measured best of 64..1024, see benchmarks)
_BLOCK = 256

HashMode = Literal["fast", "datasketch"]


@dataclass(frozen=True)
class Permutations:
    """K permutation parameters for one hash mode and seed."""

    mode: HashMode
    a: np.ndarray
    b: np.ndarray

    @property
    def num_perm(self) -> int:
        return len(self.a)


def make_permutations(num_perm: int, seed: int, mode: HashMode) -> Permutations:
    if mode == "datasketch":
        # datasketch affine32: a odd in [1, 2^32), b in [0, 2^32), both from RandomState(seed)
        gen = np.random.RandomState(seed)
        a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
        return Permutations(mode, a, b)
    rng = np.random.default_rng(seed)  # PCG64: the same stream on every platform
    a = rng.integers(1, int(MERSENNE), num_perm, dtype=np.uint64, endpoint=False)
    b = rng.integers(0, int(MERSENNE), num_perm, dtype=np.uint64, endpoint=False)
    return Permutations(mode, a, b)


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3 64-bit finalizer (an avalanching bijection), element-wise, wrapping."""
    x = x ^ (x >> _U64(33))
    x = x * _U64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> _U64(33))
    x = x * _U64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> _U64(33))


def fmix32(x: np.ndarray) -> np.ndarray:
    """MurmurHash3 32-bit finalizer on uint32 (datasketch's pre-mix)."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x85EBCA6B)
    x = x ^ (x >> np.uint32(13))
    x = x * np.uint32(0xC2B2AE35)
    return x ^ (x >> np.uint32(16))


def fast_shingle_hashes(ws: list[bytes], n: int) -> np.ndarray:
    """64-bit hashes of the word n-grams: fmix64(sum_j C_j * xxh3_64(word_{i+j})).

    A text of 1..n-1 words gives one hash over all its words (the short-doc rule).
    """
    if not ws:
        return np.empty(0, dtype=np.uint64)
    wh = np.fromiter(map(xxhash.xxh3_64_intdigest, ws), dtype=np.uint64, count=len(ws))
    k = min(n, len(ws))
    m = len(ws) - k + 1
    acc = wh[:m] * _POS[0]
    for j in range(1, k):
        acc += wh[j : j + m] * _POS[j % len(_POS)]
    return fmix64(acc + _U64(k))


def datasketch_shingle_hashes(sh: list[bytes]) -> np.ndarray:
    """datasketch's default ``sha1_hash32``: the first 4 bytes of SHA-1, little endian."""
    return np.fromiter((int.from_bytes(hashlib.sha1(s).digest()[:4], "little") for s in sh),
                       dtype=np.uint32, count=len(sh))


class _MersenneBlock:
    """(a*h + b) mod (2^61-1) for ``rows`` shingles x K permutations, exact, in numpy.

    Layout (K, rows): every operation runs over whole contiguous arrays. numpy's
    broadcasting loops (an (n, 1) by (K,) product) run 2-3x slower than contiguous ones,
    so the per-permutation constants are tiled once per batch and each block's shingle
    limbs are copied into tiled rows (a broadcast copy costs ~1/5 of a broadcast product).

    Limbs: h = h1*2^31 + h0 (h < 2^61 after reduction, h0 < 2^31, h1 < 2^30) and
    a = a1*2^32 + a0 (a0 < 2^32, a1 < 2^29). With 2^61 = 1 and so 2^63 = 4 (mod p):
    a*h = 4*a1*h1 + (2*a1*h0 + a0*h1)*2^31 + a0*h0 (mod p), where the middle term
    m < 2^63 folds as m*2^31 = (m >> 30) + (m mod 2^30)*2^31 (mod p). The sum with b
    stays below 2^64 (no wrap), so one Mersenne fold leaves x <= p + 6; the rare block
    holding an x >= p is corrected exactly (checked with one max over the block).
    """

    def __init__(self, perms: Permutations, rows: int) -> None:
        k = perms.num_perm
        a0, a1 = perms.a & _M32, perms.a >> _U64(32)
        self.a0, self.a1x2, self.a1x4, self.b = (
            np.ascontiguousarray(np.broadcast_to(v[:, None], (k, rows))) for v in (a0, a1 << _U64(1),
                                                                                  a1 << _U64(2), perms.b))
        self.h0, self.h1, self.x, self.m, self.t = (np.empty((k, rows), dtype=np.uint64) for _ in range(5))

    @staticmethod
    def split(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """h mod p as limbs (h0 < 2^31, h1 < 2^30), for all shingles of a batch at once."""
        h = (h & MERSENNE) + (h >> _U64(61))
        h = np.where(h >= MERSENNE, h - MERSENNE, h)
        return h & _M31, h >> _U64(31)

    def __call__(self, h0: np.ndarray, h1: np.ndarray) -> np.ndarray:
        """Permuted values of the block's shingles, (K, n) view of scratch (valid until the next call)."""
        n = len(h0)
        H0, H1, x, m, t = self.h0[:, :n], self.h1[:, :n], self.x[:, :n], self.m[:, :n], self.t[:, :n]
        a0, b = self.a0[:, :n], self.b[:, :n]
        np.copyto(H0, h0)
        np.copyto(H1, h1)
        np.multiply(self.a1x4[:, :n], H1, out=x)  # < 2^61
        np.multiply(self.a1x2[:, :n], H0, out=m)  # < 2^61
        np.multiply(a0, H1, out=t)  # < 2^62
        m += t  # < 2^63
        np.right_shift(m, _U64(30), out=t)
        x += t
        m <<= _U64(34)  # (m mod 2^30) << 31, in two shifts
        m >>= _U64(3)
        x += m
        np.multiply(a0, H0, out=t)  # < 2^63
        x += t
        x += b  # < 2^64: 4*2^61 (x) + 2^63 (a0*h0) + 2^61 (b) at most
        np.right_shift(x, _U64(61), out=t)
        x &= MERSENNE
        x += t  # <= p + 6
        if x.max() >= MERSENNE:
            np.subtract(x, MERSENNE, out=x, where=x >= MERSENNE)
        return x


class _Affine32Block:
    """datasketch's ``(a * fmix32(h) + b) mod 2^32`` in the same (K, rows) layout (uint32 wraps)."""

    def __init__(self, perms: Permutations, rows: int) -> None:
        k = perms.num_perm
        self.a, self.b = (np.ascontiguousarray(np.broadcast_to(v[:, None], (k, rows))) for v in (perms.a, perms.b))
        self.h, self.x = (np.empty((k, rows), dtype=np.uint32) for _ in range(2))

    @staticmethod
    def split(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return fmix32(h), h

    def __call__(self, h: np.ndarray, _unused: np.ndarray) -> np.ndarray:
        n = len(h)
        H, x = self.h[:, :n], self.x[:, :n]
        np.copyto(H, h)
        np.multiply(self.a[:, :n], H, out=x)
        x += self.b[:, :n]
        return x


def signatures(hashes: list[np.ndarray], perms: Permutations) -> np.ndarray:
    """Min over each document's shingle hashes of every permutation: (docs, K) uint64.

    Documents with no shingles get the all-max "empty" signature. Shingles of a batch
    of documents are concatenated and permuted in blocks of ``_BLOCK``; a block that
    spans documents is reduced per document with one ``np.minimum.reduceat``.
    """
    n_docs, k = len(hashes), perms.num_perm
    out = np.full((n_docs, k), _EMPTY, dtype=np.uint64)
    sizes = np.fromiter((len(h) for h in hashes), dtype=np.int64, count=n_docs)
    nonempty = np.flatnonzero(sizes)
    if not len(nonempty):
        return out
    allh = np.concatenate([hashes[i] for i in nonempty])
    offsets = np.concatenate([[0], np.cumsum(sizes[nonempty])])
    block = min(_BLOCK, len(allh))
    permute = _MersenneBlock(perms, block) if perms.mode == "fast" else _Affine32Block(perms, block)
    h0, h1 = permute.split(allh)
    res = out if len(nonempty) == n_docs else np.full((len(nonempty), k), _EMPTY, dtype=np.uint64)
    for start in range(0, len(allh), block):
        stop = min(start + block, len(allh))
        vals = permute(h0[start:stop], h1[start:stop])  # (K, n)
        d0 = int(np.searchsorted(offsets, start, side="right")) - 1
        d1 = int(np.searchsorted(offsets, stop, side="left"))
        if d1 - d0 == 1:  # the common case in long documents: one segment
            np.minimum(res[d0], vals.min(axis=1), out=res[d0])
            continue
        seg = np.maximum(offsets[d0:d1], start) - start
        mins = np.minimum.reduceat(vals, seg, axis=1)  # (K, d1 - d0)
        np.minimum(res[d0:d1], mins.T, out=res[d0:d1])
    if res is not out:
        out[nonempty] = res
    return out


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(docs, bands) uint64 bucket keys: fmix64 of a position-weighted sum of the band's rows.

    Two documents share a key in band j when their ``rows`` values there are equal
    (up to a 2^-64 chance of a key collision).
    """
    n = sigs.shape[0]
    v = sigs[:, : bands * rows].reshape(n, bands, rows)
    acc = np.zeros((n, bands), dtype=np.uint64)
    for r in range(rows):
        acc += fmix64(v[:, :, r] + _U64(r)) * _POS[r % len(_POS)]
    return fmix64(acc + np.arange(bands, dtype=np.uint64))
