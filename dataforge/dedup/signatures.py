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
_EMPTY = np.iinfo(np.uint64).max
# odd 64-bit constants weighting word j of a shingle (first digits of pi/e/sqrt2, made odd)
_POS = np.array([0x243F6A8885A308D3, 0x13198A2E03707345, 0xA4093822299F31D1, 0x082EFA98EC4E6C89,
                 0x452821E638D01377, 0xBE5466CF34E90C6D, 0xC0AC29B7C97C50DD, 0x3F84D5B5B5470917],
                dtype=np.uint64)
# rows of shingles permuted per numpy call: keeps the (rows, K) temporaries in L2
_BLOCK = 128

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


class _Scratch:
    """Preallocated (rows, K) buffers: numpy temporaries this size would each cost an
    mmap and page faults (they exceed malloc's mmap threshold)."""

    def __init__(self, rows: int, k: int) -> None:
        self.x, self.lo, self.mid, self.t = (np.empty((rows, k), dtype=np.uint64) for _ in range(4))


def _permute_mersenne(h: np.ndarray, a: np.ndarray, b: np.ndarray, sc: _Scratch) -> np.ndarray:
    """(a*h + b) mod (2^61-1) for h (n,) and a, b (K,): exact, using 32-bit limbs.

    With h = h1*2^32 + h0 and a = a1*2^32 + a0 (h, a < 2^61):
    a*h = a1*h1*2^64 + (a1*h0 + a0*h1)*2^32 + a0*h0, and 2^61 = 1 (mod p) folds each part.
    Returns a view of ``sc.x``.
    """
    n = len(h)
    h = (h & MERSENNE) + (h >> _U64(61))  # h mod p (up to one extra p, folded below)
    h = np.where(h >= MERSENNE, h - MERSENNE, h)
    h0 = (h & _M32)[:, None]
    h1 = (h >> _U64(32))[:, None]
    a0 = a & _M32
    a1 = a >> _U64(32)
    a1x8 = a1 << _U64(3)  # 2^64 = 8 (mod p); a1 < 2^29 so a1*8 < 2^32
    x, lo, mid, t = sc.x[:n], sc.lo[:n], sc.mid[:n], sc.t[:n]
    np.multiply(h0, a0, out=lo)  # < 2^64
    np.multiply(h0, a1, out=mid)
    np.multiply(h1, a0, out=t)
    mid += t  # < 2^62
    np.multiply(h1, a1x8, out=x)  # < 2^61
    np.right_shift(mid, _U64(29), out=t)  # mid*2^32 = (mid>>29)*2^61 + (mid mod 2^29)*2^32
    x += t
    np.left_shift(mid, _U64(32), out=t)
    t &= MERSENNE
    x += t
    np.right_shift(lo, _U64(61), out=t)
    x += t
    lo &= MERSENNE
    x += lo
    x += b  # total < 2^63
    for _ in range(2):  # fold twice: x <= p
        np.right_shift(x, _U64(61), out=t)
        x &= MERSENNE
        x += t
    return x


def _permute_affine32(h: np.ndarray, a: np.ndarray, b: np.ndarray, sc: _Scratch) -> np.ndarray:
    return fmix32(h)[:, None] * a + b  # uint32 arithmetic wraps: mod 2^32


def signatures(hashes: list[np.ndarray], perms: Permutations) -> np.ndarray:
    """Min over each document's shingle hashes of every permutation: (docs, K) uint64.

    Documents with no shingles get the all-max "empty" signature. Shingles of a batch
    of documents are concatenated and permuted in blocks of ``_BLOCK`` rows.
    """
    n_docs, k = len(hashes), perms.num_perm
    out = np.full((n_docs, k), _EMPTY, dtype=np.uint64)
    sizes = np.fromiter((len(h) for h in hashes), dtype=np.int64, count=n_docs)
    nonempty = np.flatnonzero(sizes)
    if not len(nonempty):
        return out
    allh = np.concatenate([hashes[i] for i in nonempty])
    offsets = np.concatenate([[0], np.cumsum(sizes[nonempty])])
    permute = _permute_mersenne if perms.mode == "fast" else _permute_affine32
    res = np.empty((len(nonempty), k), dtype=np.uint64)
    res.fill(_EMPTY)
    sc = _Scratch(_BLOCK, k)
    for start in range(0, len(allh), _BLOCK):
        stop = min(start + _BLOCK, len(allh))
        vals = permute(allh[start:stop], perms.a, perms.b, sc)
        d0 = int(np.searchsorted(offsets, start, side="right")) - 1
        d1 = int(np.searchsorted(offsets, stop, side="left"))
        if d1 - d0 == 1:  # the common case in long documents: one segment
            np.minimum(res[d0], vals.min(axis=0), out=res[d0])
            continue
        seg = np.maximum(offsets[d0:d1], start) - start
        mins = np.minimum.reduceat(vals, seg, axis=0)
        np.minimum(res[d0:d1], mins, out=res[d0:d1])
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
