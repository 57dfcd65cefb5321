"""``minhash_dedup``: near-duplicate removal with MinHash-LSH (see ``dedup/__init__.py``)."""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from ..document import Document
from ..stage import AnyParams, Recorder
from .base import DedupBarrier, DedupParams
from .lsh import optimal_bands_rows
from .normalize import Normalize, shingles, words
from .signatures import (HashMode, Permutations, band_keys, datasketch_shingle_hashes, fast_shingle_hashes,
                         make_permutations, signatures)
from .store import Batch, quality_of

# datatrove MinhashConfig: num_buckets=14, hashes_per_bucket=8 (threshold ~0.72)
DEFAULT_BANDS, DEFAULT_ROWS = 14, 8


#: most hashes per signature (8 B each per document): datatrove uses 112, datasketch 128
MAX_PERM = 8192


class MinhashParams(DedupParams):
    # how text is normalised before shingling (case, punctuation, digits, whitespace)
    normalize: Normalize = Normalize()
    # words per shingle (datatrove MinhashConfig.n_grams=5); longer than 1024 words only
    # whole copies match (exact_dedup's job)
    ngram: int = Field(5, ge=1, le=1024)
    # LSH bands x rows; default 14 x 8 (datatrove); set both, or neither (bands x rows <= MAX_PERM)
    bands: int | None = Field(None, ge=1, le=MAX_PERM)
    rows: int | None = Field(None, ge=1, le=MAX_PERM)
    # Jaccard threshold: when set without bands/rows, bands x rows minimise the equally
    # weighted false-positive + false-negative area (datasketch MinHashLSH's rule)
    threshold: float | None = None
    # hashes per signature; default bands*rows, or 128 with a threshold (datasketch default)
    num_perm: int | None = Field(None, ge=1, le=MAX_PERM)
    # "fast" (xxh3 + exact mod 2^61-1 permutations) or "datasketch" (equal to datasketch.MinHash)
    hash: HashMode = "fast"
    # permutation seed; default the run seed (numpy takes seeds >= 0; datasketch's
    # RandomState only those below 2**32)
    seed: int | None = Field(None, ge=0, lt=1 << 63)
    # keep a candidate pair (same bucket in some band) only if the fraction of equal
    # hashes over the whole signature reaches threshold; sharpens the LSH S-curve
    # (datasketch docs recommend checking candidates' Jaccard). Off = plain LSH, like
    # datatrove and datasketch MinHashLSH.
    verify: bool = False
    # documents with fewer words than ngram: "whole" = one shingle of all their words
    # (so they match only the same short text), "keep" = never signed, never dropped
    short_docs: Literal["whole", "keep"] = "whole"

    @model_validator(mode="after")
    def _check(self) -> "MinhashParams":
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither (then threshold or 14 x 8 decides)")
        if self.verify and self.threshold is None:
            raise ValueError("verify needs a threshold, e.g. threshold: 0.8")
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise ValueError("threshold must be between 0 and 1, e.g. 0.8")
        if self.num_perm is not None and self.bands is not None and self.rows is not None \
                and self.num_perm < self.bands * self.rows:
            raise ValueError(f"num_perm must be at least bands*rows = {self.bands * self.rows}")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > MAX_PERM:
            raise ValueError(f"bands x rows = {self.bands * self.rows:,} hashes per document is more than "
                             f"{MAX_PERM:,} ({8 * MAX_PERM // 1024} KB of signature each); lower bands or rows")
        if self.hash == "datasketch" and self.seed is not None and self.seed >= 1 << 32:
            raise ValueError(f"seed {self.seed} with hash: datasketch: datasketch seeds numpy's RandomState, which "
                             "takes seeds below 2**32 (4294967296)")
        return self

    def layout(self) -> tuple[int, int, int]:
        """(bands, rows, num_perm) after defaults."""
        if self.bands is not None:
            rows = self.rows if self.rows is not None else DEFAULT_ROWS  # set together with bands (_check)
            return self.bands, rows, self.num_perm or self.bands * rows
        if self.threshold is not None:
            k = self.num_perm or 128
            b, r = optimal_bands_rows(self.threshold, k)
            return b, r, k
        k = self.num_perm or DEFAULT_BANDS * DEFAULT_ROWS
        if k < DEFAULT_BANDS * DEFAULT_ROWS:
            b, r = optimal_bands_rows(0.72, k)  # keep datatrove's effective threshold
            return b, r, k
        return DEFAULT_BANDS, DEFAULT_ROWS, k


class MinhashDedup(DedupBarrier[MinhashParams]):
    """Drop near-duplicates: documents sharing any LSH band with another are clustered."""

    Params: ClassVar[type[MinhashParams]] = MinhashParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "duplicate": ("a near-duplicate (MinHash LSH, estimated Jaccard of shingles) of a kept document of this run or"
                      " of the index"),
    }

    def __init__(self, params: MinhashParams) -> None:
        super().__init__(params)
        self._perms: tuple[int, Permutations] | None = None

    @cached_property
    def _layout(self) -> tuple[int, int, int]:
        return self.p.layout()

    @property
    def bands(self) -> int:
        return self._layout[0]

    @classmethod
    def check_run_seed(cls, params: AnyParams, seed: int) -> str | None:
        if isinstance(params, MinhashParams) and params.hash == "datasketch" and params.seed is None \
                and seed >= 1 << 32:
            return (f"seed {seed} drives minhash_dedup's datasketch hash, which seeds numpy's RandomState "
                    "(seeds below 2**32 = 4294967296): give minhash_dedup a seed of its own, or a smaller seed")
        return None

    def perms(self, run_seed: int) -> Permutations:
        seed = self.p.seed if self.p.seed is not None else run_seed
        if self._perms is None or self._perms[0] != seed:
            self._perms = (seed, make_permutations(self._layout[2], seed, self.p.hash))
        return self._perms[1]

    def fmt(self, seed: int) -> dict[str, Any]:
        b, r, k = self._layout
        seed = self.p.seed if self.p.seed is not None else seed
        return {"kind": "minhash", "hash": self.p.hash, "bands": b, "rows": r, "num_perm": k, "seed": seed,
                "ngram": self.p.ngram, "short_docs": self.p.short_docs,
                "normalize": self.p.normalize.model_dump()}

    def verify_jaccard(self) -> float | None:
        return self.p.threshold if self.p.verify else None

    def shingle_hashes(self, doc: Document, rec: Recorder) -> np.ndarray:
        """Hashes of the document's shingles; empty when it is not signed (and counted)."""
        ws = words(doc.text, self.p.normalize)
        if not ws:
            rec.count(doc, "empty_docs")
            return np.empty(0, dtype=np.uint64)
        if len(ws) < self.p.ngram:
            rec.count(doc, "short_docs")
            if self.p.short_docs == "keep":
                return np.empty(0, dtype=np.uint64)
        if self.p.hash == "datasketch":
            return datasketch_shingle_hashes(shingles(ws, self.p.ngram))
        return fast_shingle_hashes(ws, self.p.ngram)

    def sign(self, docs: list[Document], rec: Recorder, seed: int) -> Batch:
        hashes = [self.shingle_hashes(d, rec) for d in docs]
        sigs = signatures(hashes, self.perms(seed))
        b, r, _ = self._layout
        valid = np.fromiter((len(h) > 0 for h in hashes), dtype=bool, count=len(docs))
        return Batch(ids=[d.id for d in docs], sources=[d.source for d in docs],
                     lengths=[len(d.text) for d in docs], qualities=[quality_of(d.meta) for d in docs],
                     keys=band_keys(sigs, b, r), valid=valid, sigs=sigs)
