"""Cross-run index for paragraph/sentence dedup: the units every earlier run kept.

One folder per successful run, ``gen-NNNNN/``: a sorted run file of the keys that run
kept (``method: sorted``, merged ahead of the tasks, so they always count as earlier),
plus, with ``method: bloom``, that run's own Bloom filter of those keys; a reduce ORs
the filters of the generations it may read (they share one size, fixed by the first
generation: a filter cannot grow). Which generations a run reads, the lock, pending vs
confirmed and ownership are ``generations.py``'s, as for ``dedup/index.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .generations import Generations
from .runs import merge_runs
from .spans import Bloom, SpanStore, filtered_run

BLOOM_FILE = "bloom.npy"


class SpanIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.gens = Generations(path)

    def runs(self, fmt: dict[str, Any], *, output: str, own: bool) -> list[Path]:
        """Sorted mode: every usable generation's run files, oldest first."""
        return [r for g in self.gens.usable(fmt, output=output, own=own)
                for r in sorted((self.path / g["name"]).glob("*.run"))]

    def bloom(self, fmt: dict[str, Any], *, output: str, own: bool) -> Bloom | None:
        """Bloom mode: the OR of the usable generations' filters, or None when there are none."""
        gens = self.gens.usable(fmt, output=output, own=own)
        if not gens:
            return None
        bits, hashes = int(gens[0]["bits"]), int(gens[0]["hashes"])
        out = Bloom(bits, hashes)
        for g in gens:
            if (int(g["bits"]), int(g["hashes"])) != (bits, hashes):
                raise ValueError(f"{self.path}: generation {g['name']} has a filter of another size")
            out.data |= np.load(self.path / g["name"] / BLOOM_FILE, allow_pickle=False)
        return out

    def size(self, fmt: dict[str, Any]) -> tuple[int, int] | None:
        """Bloom mode: the filter size every generation shares (the first one's), if any."""
        gens = [g for g in self.gens.load()["generations"] if g["format"] == fmt and "bits" in g]
        return (int(gens[0]["bits"]), int(gens[0]["hashes"])) if gens else None

    def add(self, stores: list[SpanStore], dropped: list[np.ndarray], *, fmt: dict[str, Any], run_key: str,
            output: str, bloom: tuple[int, int] | None = None) -> str:
        """This run's kept units as its pending generation (once per ``run_key``)."""

        def write(tmp: Path) -> dict[str, Any]:
            units = sum(filtered_run(s, d, tmp / f"{i:06d}.run") for i, (s, d) in enumerate(zip(stores, dropped)))
            facts: dict[str, Any] = {"units": units}
            if bloom is not None:
                f = Bloom(*bloom)
                for keys, _ in merge_runs([(r, 0) for r in sorted(tmp.glob("*.run"))], buffer=1 << 16):
                    f.add(keys)
                f.save(tmp / BLOOM_FILE)
                facts.update(bits=bloom[0], hashes=bloom[1])
            return facts

        return self.gens.add(run=run_key, output=output, fmt=fmt, write=write)
