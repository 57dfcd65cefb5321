"""The Python API: run a pipeline from a notebook or another tool, and read what it made.

    import dataforge

    result = dataforge.run("pipelines/pretrain_mix.yaml")           # a file ...
    result = dataforge.run({"output": "out/x", "inputs": {...}, "stages": [...]})  # ... or a dict
    out = dataforge.open_output("out/pretrain_mix")
    out.stats.totals("read")                 # counters, as in stats.json
    for doc in out.documents("c4"): ...      # what the write stage kept
    for view in out.shards("train"): view.tokens   # (rows, seq_len) numpy views, memory-mapped
    ds = out.torch_dataset("train")          # a torch Dataset of rows (needs the train extra)

The same guarantees as ``dataforge run``: the configuration is validated whole before
any work (``ConfigError`` lists every problem), the output is claimed and locked, and a
rerun resumes. Errors are the library's (``dataforge.errors``); nothing here prints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .config import PipelineConfig, load_pipeline, validate
from .docstore import read_docs
from .document import Document
from .errors import DataforgeError
from .readers.lines import iter_lines
from .stage import safe_name
from .stats import Stats
from .tokenize.shards import ShardView, manifest_shards, open_shard, read_manifest


def load(pipeline: str | os.PathLike[str] | dict[str, Any], *, output: str | None = None) -> PipelineConfig:
    """A validated pipeline from a file path or an in-memory mapping (paths in it are
    relative to the current folder, as in a file run from there); ``output`` overrides
    its ``output:`` and is checked like it."""
    if isinstance(pipeline, dict):
        raw = dict(pipeline)
        if output is not None:
            raw["output"] = output
        return validate(raw, path="<in-memory pipeline>")
    return load_pipeline(pipeline, output=output)


def run(pipeline: str | os.PathLike[str] | dict[str, Any] | PipelineConfig, *, output: str | None = None,
        workers: int | None = None, on_event: Callable[[Any], None] | None = None) -> Any:
    """Run a pipeline to completion; returns the run's result (``output``, ``stats``,
    ``manifest``, ``nothing_to_do``, ``warnings``...). ``on_event`` receives the typed
    progress events of ``dataforge.runner.events`` (PhaseStart, TaskDone, ...)."""
    from .runner.engine import run_pipeline  # deferred: the runner's imports are the heavy ones

    if isinstance(pipeline, PipelineConfig):
        cfg = load(pipeline.raw, output=output) if output is not None else pipeline
    else:
        cfg = load(pipeline, output=output)
    return run_pipeline(cfg, workers=workers, on_event=on_event or (lambda event: None))


class Output:
    """A finished output folder: its manifest, stats, documents and shards."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise DataforgeError(f"{self.path}: no such output folder")

    @property
    def manifest(self) -> dict[str, Any]:
        return read_manifest(self.path)

    @property
    def stats(self) -> Stats:
        f = self.path / "stats.json"
        if not f.exists():
            raise DataforgeError(f"{f}: missing; is {self.path} the output of a finished run?")
        try:
            return Stats.load(f)
        except (ValueError, TypeError) as exc:
            raise DataforgeError(f"{f}: not a dataforge stats file ({exc})") from exc

    def _documents_dir(self) -> Path:
        pipeline = (self.manifest.get("pipeline") if (self.path / "manifest.json").exists() else None) or {}
        folder = "documents"
        for entry in pipeline.get("stages") or []:
            if isinstance(entry, dict) and isinstance(entry.get("write"), dict):
                folder = str(entry["write"].get("path") or "documents")
        return self.path / safe_name(folder)

    def documents(self, source: str | None = None) -> Iterator[Document]:
        """The documents the (last) write stage kept, streamed, in file order."""
        root = self._documents_dir()
        if not root.is_dir():
            raise DataforgeError(f"{root}: no documents here; add a `write` stage to the pipeline to keep them")
        dirs = [root / safe_name(source)] if source is not None else sorted(p for p in root.iterdir() if p.is_dir())
        for d in dirs:
            for f in sorted(d.iterdir()):
                if f.name.endswith(".parquet"):
                    yield from read_docs(f)
                elif f.name.endswith((".jsonl", ".jsonl.zst")):
                    yield from _jsonl_docs(f)

    def shards(self, split: str | None = "train") -> Iterator[ShardView]:
        """The manifest's shards of ``split`` (None: all), each opened and validated."""
        for path, _ in manifest_shards(self.path, split):
            yield open_shard(path)

    def tokens(self, split: str | None = "train") -> Iterator[np.ndarray]:
        """Each shard's ``(rows, seq_len)`` token array (zero-copy views)."""
        for view in self.shards(split):
            yield view.tokens

    def torch_dataset(self, split: str = "train") -> Any:
        """A map-style ``torch.utils.data.Dataset`` of packed rows (``input_ids`` as int64,
        ``length``, and ``loss_mask`` for SFT shards). Needs PyTorch (the train extra)."""
        try:
            import torch  # deferred: the train extra is optional
        except ImportError as exc:
            raise DataforgeError("torch_dataset needs PyTorch: pip install 'dataforge[train]'") from exc
        return _RowDataset(list(self.shards(split)), torch)


def open_output(path: str | os.PathLike[str]) -> Output:
    return Output(path)


class _RowDataset:
    """Rows of memory-mapped shards, indexed globally (a torch Dataset by duck typing)."""

    def __init__(self, views: list[ShardView], torch: Any) -> None:
        self.views, self.torch = views, torch
        self.offsets = np.cumsum([0] + [len(v.lengths) for v in views])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        view, r = self.views[k], i - int(self.offsets[k])
        item = {"input_ids": self.torch.from_numpy(view.tokens[r].astype(np.int64)),
                "length": int(view.lengths[r])}
        mask = view.loss_mask
        if mask is not None:
            item["loss_mask"] = self.torch.from_numpy(mask[r].astype(np.bool_))
        return item


def _jsonl_docs(path: Path) -> Iterator[Document]:
    for raw in iter_lines(str(path)):
        rec = json.loads(raw)
        yield Document(id=rec["id"], text=rec["text"], source=rec["source"], meta=rec.get("meta") or {})


__all__ = ["load", "run", "open_output", "Output"]
