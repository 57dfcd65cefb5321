"""A Hugging Face ``datasets`` DatasetDict on disk, as ``DatasetDict.save_to_disk`` lays it out.

The layout (huggingface/datasets ``arrow_dataset.py`` ``save_to_disk``/``load_from_disk``
and ``dataset_dict.py``; checked against datasets 5.2, our own code)::

    <folder>/dataset_dict.json            {"splits": ["train", "validation"]}
    <folder>/<split>/data-00000-of-000NN.arrow   Arrow IPC *stream* files (not the file format)
    <folder>/<split>/dataset_info.json    DatasetInfo: "features" (the column types) and text fields
    <folder>/<split>/state.json           "_data_files" (the arrow files, in order), "_fingerprint",
                                          "_split" and the format fields (None: plain Python rows)

``<folder>`` is the export folder itself, or ``<folder>/<prefix>`` with a prefix. One arrow
file per dataforge shard; the features are written as ``Sequence``/``Value`` (the form
datasets 2.x-3.x write; 4.x and later read it as ``List``), and repeated in each file's
schema metadata under ``huggingface`` as datasets does, so ``Dataset.from_file`` also sees them.

Columns, one row per packed row (nothing is dropped):

* ``input_ids``: ``Sequence(Value(uint16|uint32), length=seq_len)``, the shard's own column;
* ``attention_mask``: uint8, 1 on the row's real tokens (0 on padding);
* ``labels`` (SFT, and pad-packed pretraining): int32, the token id where it is a training
  target, -100 elsewhere (the ignore index of transformers' losses; the model shifts labels
  itself, as our ``loss_mask`` is aligned to target positions);
* ``loss_mask`` (SFT): the shard's uint8 mask;
* ``length``: uint32 real tokens; ``doc_starts``: ``Sequence(uint32)``, where documents begin
  in the row (a trainer can mask attention across them).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .base import Exporter, Progress, SplitResult
from .source import Chunk, iter_chunks
from .staging import Staging

#: transformers' CrossEntropyLoss ignore_index
IGNORE_INDEX = -100


def _value(dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "_type": "Value"}


def _sequence(dtype: str, length: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"feature": _value(dtype), "_type": "Sequence"}
    if length is not None:
        out["length"] = length
    return out


class HfExporter(Exporter):
    name = "hf"

    @property
    def folder(self) -> str:
        """The dataset's folder relative to the export folder ("" = the export folder)."""
        return self.params.prefix or ""

    def _rel(self, name: str) -> str:
        return f"{self.folder}/{name}" if self.folder else name

    @property
    def has_labels(self) -> bool:
        return self.source.kind == "sft" or self.source.packing == "pad"

    def features(self) -> dict[str, Any]:
        n, dtype = self.source.seq_len, self.source.dtype.name
        feats: dict[str, Any] = {"input_ids": _sequence(dtype, n), "attention_mask": _sequence("uint8", n)}
        if self.has_labels:
            feats["labels"] = _sequence("int32", n)
        if self.source.kind == "sft":
            feats["loss_mask"] = _sequence("uint8", n)
        feats["length"] = _value("uint32")
        feats["doc_starts"] = _sequence("uint32")
        return feats

    def finals(self) -> list[str]:
        return [self._rel(split) for split in self.source.shards] + [self._rel("dataset_dict.json")]

    def keeps(self) -> dict[str, str]:
        return {"keeps": "every row as packed: " + ", ".join(self.features()), "drops": "nothing"}

    def _batch(self, chunk: Chunk, schema: pa.Schema) -> pa.RecordBatch:
        n = self.source.seq_len
        table = chunk.table
        attention = (np.arange(n)[None, :] < chunk.lengths[:, None]).astype(np.uint8)
        cols: dict[str, pa.Array] = {"input_ids": _one(table, "input_ids"),
                                     "attention_mask": pa.FixedSizeListArray.from_arrays(attention.reshape(-1), n)}
        if self.has_labels:
            target = attention if chunk.mask is None else chunk.mask
            labels = np.where(target == 1, chunk.tokens.astype(np.int32), np.int32(IGNORE_INDEX)).astype(np.int32)
            cols["labels"] = pa.FixedSizeListArray.from_arrays(labels.reshape(-1), n)
        if self.source.kind == "sft":
            cols["loss_mask"] = _one(table, "loss_mask")
        cols["length"] = _one(table, "length")
        cols["doc_starts"] = _one(table, "doc_starts")
        return pa.RecordBatch.from_arrays(list(cols.values()), schema=schema)

    def _schema(self) -> pa.Schema:
        n, dtype = self.source.seq_len, pa.from_numpy_dtype(self.source.dtype)
        fields = [("input_ids", pa.list_(dtype, n)), ("attention_mask", pa.list_(pa.uint8(), n))]
        if self.has_labels:
            fields.append(("labels", pa.list_(pa.int32(), n)))
        if self.source.kind == "sft":
            fields.append(("loss_mask", pa.list_(pa.uint8(), n)))
        fields += [("length", pa.uint32()), ("doc_starts", pa.list_(pa.uint32()))]
        meta = {"huggingface": json.dumps({"info": {"features": self.features()}})}
        return pa.schema(fields, metadata=meta)

    def write_split(self, split: str, staging: Staging, progress: Progress | None) -> SplitResult:
        folder = staging.path(self._rel(split), folder=True)
        schema = self._schema()
        paths = self.source.shards[split]
        names = [f"data-{i:05d}-of-{len(paths):05d}.arrow" for i in range(len(paths))]
        rows = tokens = 0
        for done, (path, name) in enumerate(zip(paths, names), 1):
            with pa.OSFile(str(folder / name), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
                for chunk in iter_chunks(path):
                    writer.write_batch(self._batch(chunk, schema))
                    rows += chunk.rows
                    tokens += int(chunk.lengths.astype(np.int64).sum())
            _fsync(folder / name)
            if progress is not None:
                progress(split, done, len(paths))
        fingerprint = hashlib.sha256(f"{self.source.manifest_sha256}:{split}:hf-export-1".encode()).hexdigest()[:16]
        state: dict[str, Any] = {"_data_files": [{"filename": name} for name in names], "_fingerprint": fingerprint,
                 "_format_columns": None, "_format_kwargs": {}, "_format_type": None,
                 "_output_all_columns": False, "_split": split}
        info = {"citation": "", "description": self._description(), "features": self.features(),
                "homepage": "", "license": ""}
        _write_json(folder / "state.json", state)
        _write_json(folder / "dataset_info.json", info)
        return SplitResult(split=split, files=[self._rel(split)], tokens=tokens, rows=rows)

    def finish(self, staging: Staging, results: list[SplitResult]) -> None:
        _write_json(staging.path(self._rel("dataset_dict.json")), {"splits": [r.split for r in results]})

    def _description(self) -> str:
        m = self.source.manifest
        tok = m.get("tokenizer")
        tok_sha = tok.get("sha256", "unknown") if isinstance(tok, dict) else "unknown"
        return (f"dataforge export of {m.get('name', self.source.root.name)}: {m['kind']} shards, seq_len {m['seq_len']}, "
                f"{m['packing']} packing, vocab_size {m['vocab_size']}, eos_id {m['eos_id']}, pad_id {m['pad_id']}, "
                f"tokenizer sha256 {tok_sha}")


def _one(table: pa.Table, name: str) -> pa.Array:
    col = table.column(name)
    return col.chunk(0) if col.num_chunks == 1 else pa.concat_arrays(col.chunks)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data, indent=2) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
