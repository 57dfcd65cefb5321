"""``exact_dedup``: drop documents whose normalised text equals an earlier-priority one."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import xxhash

from ..document import Document
from ..stage import Recorder
from .base import DedupBarrier, DedupParams
from .normalize import Normalize, normalized_text
from .store import Batch, quality_of


class ExactParams(DedupParams):
    # defaults: lowercase, punctuation -> space, digits kept (an exact match should not
    # merge texts that differ only in numbers); whitespace always collapses
    normalize: Normalize = Normalize(digits=False)


class ExactDedup(DedupBarrier[ExactParams]):
    """Clusters = equal xxh3-64 of the normalised text (a false match needs a 64-bit
    collision: about n^2 / 2^65 expected pairs, 3e-4 for 100M documents)."""

    Params: ClassVar[type[ExactParams]] = ExactParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "duplicate": "the same (normalised) text as a kept document of this run or of the index",
    }
    clusters_file: ClassVar[str] = "dedup/exact_clusters.parquet"

    @property
    def bands(self) -> int:
        return 1

    def fmt(self, seed: int) -> dict[str, Any]:
        return {"kind": "exact", "bands": 1, "normalize": self.p.normalize.model_dump()}

    def sign(self, docs: list[Document], rec: Recorder, seed: int) -> Batch:
        keys = np.empty((len(docs), 1), dtype=np.uint64)
        valid = np.ones(len(docs), dtype=bool)
        for i, d in enumerate(docs):
            text = normalized_text(d.text, self.p.normalize)
            if not text:
                valid[i] = False
                rec.count(d, "empty_docs")
            keys[i, 0] = xxhash.xxh3_64_intdigest(text)
        return Batch(ids=[d.id for d in docs], sources=[d.source for d in docs],
                     lengths=[len(d.text) for d in docs], qualities=[quality_of(d.meta) for d in docs],
                     keys=keys, valid=valid)
