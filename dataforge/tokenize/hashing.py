"""Stable per-document randomness for the final phase: the split, the mixture's sampling units.

Everything random in a run is a pure function of ``(seed, parts)`` through xxhash (never
Python's ``hash()``, never a shared RNG stream), so a document's fate does not depend on
which task, worker or executor handled it, nor on how its file was split into tasks.
"""

from __future__ import annotations

from collections.abc import Iterator

import xxhash

U64 = float(1 << 64)
#: resolution of the mixture's token-weighted hash histograms: the fractional epoch of a
#: source lands within one bin (1/65,536 of its tokens) of its target
HIST_BINS = 1 << 16


def unit_hash(seed: int, *parts: object) -> float:
    """A stable uniform number in [0, 1) from the seed and the parts."""
    key = "\0".join(str(p) for p in parts).encode("utf-8", "surrogatepass")
    return xxhash.xxh64_intdigest(key, seed=seed & 0xFFFFFFFFFFFFFFFF) / U64


def hash_bin(seed: int, key: str) -> int:
    """The histogram bin of a sampling unit's hash (``unit_hash(seed, "mix", key)``)."""
    return min(HIST_BINS - 1, int(unit_hash(seed, "mix", key) * HIST_BINS))


def units(doc_id: str, n: int, piece: int) -> Iterator[tuple[str, int, int]]:
    """Sampling units of a document: (hash key, start, end); the whole document when short."""
    if n <= piece:
        yield doc_id, 0, n
        return
    for k, a in enumerate(range(0, n, piece)):
        yield f"{doc_id}#{k}", a, min(n, a + piece)
