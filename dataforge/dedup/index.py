"""Cross-run dedup index: the band records, docs table and signatures of everything kept.

Layout: ``PATH/index.json`` and one folder per successful run, ``PATH/gen-NNNNN/``, laid
out like a task store (see ``store.py``), so the reduce merges index generations exactly
like tasks, ahead of them in priority. Which generations a run may read, and how a
generation is added (pending, then confirmed once the run's manifest is written) is
``generations.py``'s: locked, two-phase, owned by the output that made it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from ..io import atomic_write_text
from .docs import DocsWriter
from .generations import Generations
from .runs import RunWriter, merge_runs
from .store import META, SIGS, STORE_VERSION, Store



class DedupIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.gens = Generations(path)

    def generations(self, fmt: dict[str, Any], *, output: str, own: bool) -> list[Path]:
        """Confirmed generation folders a run merges ahead of its tasks, oldest first."""
        return [self.path / g["name"] for g in self.gens.usable(fmt, output=output, own=own)]

    def add_generation(self, stores: list[Store], drops: list[np.ndarray], *, fmt: dict[str, Any],
                       run_key: str, output: str, buffer: int) -> str:
        """Add the kept documents of ``stores`` as this run's pending generation (once per ``run_key``)."""
        return self.gens.add(run=run_key, output=output, fmt=fmt,
                             write=lambda folder: _write_generation(folder, stores, drops, fmt=fmt, buffer=buffer))


def _write_generation(tmp: Path, stores: list[Store], drops: list[np.ndarray], *, fmt: dict[str, Any],
                      buffer: int) -> dict[str, Any]:
    keeps = []
    for s, d in zip(stores, drops):
        k = np.ones(s.docs, dtype=bool)
        k[d] = False
        keeps.append(k)
    keep = np.concatenate(keeps) if keeps else np.zeros(0, bool)
    remap = np.cumsum(keep) - 1  # old global id -> new local id (valid where keep)
    n_kept = int(keep.sum())
    offsets = np.cumsum([0] + [s.docs for s in stores])
    bands = int(fmt.get("bands", 1))
    for b in range(bands):
        w = RunWriter(tmp / f"band_{b:03d}.0000.run")
        runs = [(r, int(off)) for s, off in zip(stores, offsets) for r in s.band_runs(b)]
        for keys, docs in merge_runs(runs, buffer=buffer):
            m = keep[docs]
            rec = np.empty(int(m.sum()), dtype=[("key", "<u8"), ("doc", "<u4")])
            rec["key"], rec["doc"] = keys[m], remap[docs[m]]
            w.write(rec)
        w.close()
    docs_writer = DocsWriter(tmp)
    sig_hash, num_perm = xxhash.xxh3_64(), 0
    with open(tmp / SIGS, "wb") as sig_fh:
        for s, k in zip(stores, keeps):
            for lo in range(0, s.docs, buffer):  # a block of rows at a time: memory follows buffer
                rows = lo + np.flatnonzero(k[lo : lo + buffer])
                recs = s.doc_rows(rows)
                docs_writer.add(s.ids(recs), list(s.source_names(recs)), recs["length"], recs["quality"])
                sigs = s.sig_rows(rows)
                if sigs is not None and len(rows):
                    raw = np.ascontiguousarray(sigs, dtype="<u4").tobytes()
                    sig_fh.write(raw)
                    sig_hash.update(raw)
                    num_perm = sigs.shape[1]
    meta = {"docs": n_kept, "spills": 1, "bands": bands, "num_perm": num_perm, "store_version": STORE_VERSION,
            "sigs_xxh3": sig_hash.intdigest() if num_perm else None, "task_id": tmp.name.removeprefix(".tmp-"),
            "format": fmt, **docs_writer.close()}
    atomic_write_text(tmp / META, json.dumps(meta, indent=1, sort_keys=True))
    return {"docs": n_kept}
