"""Cross-run dedup index: the band records, docs table and signatures of everything kept.

Layout: ``PATH/index.json`` (format, generations, run keys) and one folder per
successful run, ``PATH/gen-NNNNN/``, laid out like a task store (see ``store.py``), so
the reduce merges index generations exactly like tasks, ahead of them in priority.
A generation is written under a temp name, renamed, then ``index.json`` is replaced
atomically: a crash leaves the index as it was.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from ..errors import ConfigError
from ..io import atomic_write_text, fsync_dir
from .docs import DocsWriter
from .runs import RunWriter, merge_runs
from .store import META, SIGS, STORE_VERSION, Store

INDEX_FILE = "index.json"


class DedupIndex:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        f = self.path / INDEX_FILE
        return json.loads(f.read_text()) if f.exists() else {"version": 1, "format": None, "generations": []}

    def generations(self, fmt: dict[str, Any]) -> list[Path]:
        """Generation folders, oldest first, after checking they were made with ``fmt``."""
        state = self._load()
        if state["generations"] and state["format"] != fmt:
            raise ConfigError(
                f"{self.path / INDEX_FILE}: index was built with {state['format']}, this stage uses {fmt}; "
                "use the same dedup options as the runs that built it, or a new index path")
        return [self.path / g["name"] for g in state["generations"]]

    def add_generation(self, stores: list[Store], drops: list[np.ndarray], *, fmt: dict[str, Any],
                       run_key: str, buffer: int) -> Path | None:
        """Append the kept documents of ``stores`` as a new generation (once per ``run_key``)."""
        state = self._load()
        self.generations(fmt)
        if any(g["run"] == run_key for g in state["generations"]):
            return None  # this run was already committed
        name = f"gen-{len(state['generations']):05d}"
        tmp = self.path / f".tmp-{name}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
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
                "sigs_xxh3": sig_hash.intdigest() if num_perm else None, "task_id": name, "format": fmt,
                **docs_writer.close()}
        atomic_write_text(tmp / META, json.dumps(meta, indent=1, sort_keys=True))
        final = self.path / name
        shutil.rmtree(final, ignore_errors=True)  # an orphan of a crash between rename and index.json
        tmp.rename(final)
        fsync_dir(self.path)
        state["format"] = fmt
        state["generations"].append({"name": name, "run": run_key, "docs": n_kept})
        atomic_write_text(self.path / INDEX_FILE, json.dumps(state, indent=1, sort_keys=True))
        return final
