"""Cross-run index for paragraph/sentence dedup: the units every earlier run kept.

``PATH/index.json`` records the format, the method and the generations. ``method:
sorted``: one folder per successful run, ``gen-NNNNN/``, of sorted run files of the keys
that run kept (merged ahead of the tasks, so they always count as earlier). ``method:
bloom``: one ``bloom.npy`` holding every key seen (its size is fixed when the index is
created). Written under temp names and renamed; ``index.json`` is replaced last, so a
crash leaves the index as it was. Like ``dedup/index.py`` for whole documents.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..io import atomic_write_text, fsync_dir
from .spans import Bloom, SpanStore, filtered_run

INDEX_FILE = "index.json"
BLOOM_FILE = "bloom.npy"


class SpanIndex:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        f = self.path / INDEX_FILE
        return json.loads(f.read_text()) if f.exists() else {"version": 1, "format": None, "generations": []}

    def _check(self, state: dict[str, Any], fmt: dict[str, Any]) -> None:
        if state["generations"] and state["format"] != fmt:
            raise ConfigError(
                f"{self.path / INDEX_FILE}: index was built with {state['format']}, this stage uses {fmt}; "
                "use the same options as the runs that built it, or a new index path")

    def runs(self, fmt: dict[str, Any]) -> list[Path]:
        """Sorted mode: every generation's run files, oldest first."""
        state = self._load()
        self._check(state, fmt)
        return [r for g in state["generations"] for r in sorted((self.path / g["name"]).glob("*.run"))]

    def bloom(self, fmt: dict[str, Any]) -> Bloom | None:
        """Bloom mode: the saved filter, or None for a new index."""
        state = self._load()
        self._check(state, fmt)
        if not state["generations"]:
            return None
        b = state["bloom"]
        return Bloom(int(b["bits"]), int(b["hashes"]), np.load(self.path / BLOOM_FILE, allow_pickle=False))

    def committed(self, run_key: str) -> bool:
        return any(g["run"] == run_key for g in self._load()["generations"])

    def _append(self, state: dict[str, Any], fmt: dict[str, Any], entry: dict[str, Any]) -> None:
        state["format"] = fmt
        state["generations"].append(entry)
        atomic_write_text(self.path / INDEX_FILE, json.dumps(state, indent=1, sort_keys=True))

    def add_sorted(self, stores: list[SpanStore], dropped: list[np.ndarray], *, fmt: dict[str, Any],
                   run_key: str) -> Path | None:
        """Append the kept units of ``stores`` as a new generation (once per ``run_key``)."""
        state = self._load()
        self._check(state, fmt)
        if self.committed(run_key):
            return None
        name = f"gen-{len(state['generations']):05d}"
        tmp = self.path / f".tmp-{name}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        units = sum(filtered_run(s, d, tmp / f"{i:06d}.run") for i, (s, d) in enumerate(zip(stores, dropped)))
        final = self.path / name
        shutil.rmtree(final, ignore_errors=True)  # an orphan of a crash between rename and index.json
        tmp.rename(final)
        fsync_dir(self.path)
        self._append(state, fmt, {"name": name, "run": run_key, "units": units})
        return final

    def save_bloom(self, bloom_file: Path, *, bits: int, hashes: int, units: int, fmt: dict[str, Any],
                   run_key: str) -> None:
        """Replace the filter with this run's (which started from the saved one)."""
        state = self._load()
        self._check(state, fmt)
        if self.committed(run_key):
            return
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".{BLOOM_FILE}.tmp"
        shutil.copyfile(bloom_file, tmp)
        tmp.replace(self.path / BLOOM_FILE)
        fsync_dir(self.path)
        state["bloom"] = {"bits": bits, "hashes": hashes}
        self._append(state, fmt, {"name": BLOOM_FILE, "run": run_key, "units": units})
