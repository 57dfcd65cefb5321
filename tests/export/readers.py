"""Readers written from each format's published description (not from dataforge.export), and
what the Arrow shards say each export must contain (plain loops, not the exporter's numpy).

* Megatron-LM ``megatron/core/datasets/indexed_dataset.py`` (``_IndexReader``): the .idx header
  (magic, <Q version, <B dtype code, <Q sequences, <Q documents), int32 lengths, int64 byte
  pointers, int64 document indices; .bin holds the tokens.
* llm.c ``dev/data/data_common.py`` (``write_datafile``) and ``llmc/dataloader.h``: 256 int32
  header (magic, version, token count), then the tokens; the file size must match the count.
* nanoGPT ``data/openwebtext/prepare.py``: a bare uint16 array.
* Hugging Face ``datasets`` ``save_to_disk``: dataset_dict.json, per split state.json listing
  Arrow IPC stream files, dataset_info.json with the features.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa

from dataforge.tokenize.shards import manifest_shards, open_shard, read_manifest

MEGATRON_DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32,
                   8: np.uint16}


def read_megatron(prefix: Path) -> dict:
    """The sequences of ``<prefix>.bin``/``.idx`` and the index's fields."""
    raw = Path(f"{prefix}.idx").read_bytes()
    assert raw[:9] == b"MMIDIDX\x00\x00"
    (version,) = struct.unpack("<Q", raw[9:17])
    (code,) = struct.unpack("<B", raw[17:18])
    seqs, docs = struct.unpack("<QQ", raw[18:34])
    off = 34
    lengths = np.frombuffer(raw, dtype="<i4", count=seqs, offset=off)
    off += 4 * seqs
    pointers = np.frombuffer(raw, dtype="<i8", count=seqs, offset=off)
    off += 8 * seqs
    doc_idx = np.frombuffer(raw, dtype="<i8", count=docs, offset=off)
    off += 8 * docs
    assert off == len(raw), "trailing bytes after the document indices (no multimodal modes written)"
    dtype = np.dtype(MEGATRON_DTYPES[code])
    data = Path(f"{prefix}.bin").read_bytes()
    sequences = [np.frombuffer(data, dtype=dtype, count=int(n), offset=int(p)) for n, p in zip(lengths, pointers)]
    assert sum(s.nbytes for s in sequences) == len(data), ".bin holds bytes no sequence points at"
    return {"version": version, "dtype": dtype, "lengths": lengths, "pointers": pointers,
            "document_indices": doc_idx, "sequences": sequences}


def read_llmc(path: Path) -> tuple[int, int, np.ndarray]:
    """(magic, version, tokens) of an llm.c data file; its size must match the header's count."""
    raw = path.read_bytes()
    header = np.frombuffer(raw, dtype="<i4", count=256)
    magic, version, count = int(header[0]), int(header[1]), int(header[2])
    assert not header[3:].any()
    dtype = {(20240520, 1): np.uint16, (20240801, 7): np.uint32}[(magic, version)]
    assert len(raw) == 1024 + count * np.dtype(dtype).itemsize, "file size is not the header's count"
    return magic, version, np.frombuffer(raw, dtype=dtype, offset=1024)


def read_hf(folder: Path) -> dict[str, pa.Table]:
    """Each split of a saved DatasetDict as one Arrow table, in state.json's file order."""
    splits = json.loads((folder / "dataset_dict.json").read_text())["splits"]
    out = {}
    for split in splits:
        state = json.loads((folder / split / "state.json").read_text())
        info = json.loads((folder / split / "dataset_info.json").read_text())
        tables = [pa.ipc.open_stream(pa.memory_map(str(folder / split / f["filename"]))).read_all()
                  for f in state["_data_files"]]
        table = pa.concat_tables(tables)
        assert list(info["features"]) == table.column_names
        out[split] = table
    return out


# ---- what the Arrow shards say -------------------------------------------------------------
def shard_rows(source: Path, split: str) -> list[dict]:
    """Every row of a split, manifest order: real tokens, doc_starts, and the loss mask (SFT)."""
    rows = []
    for path, _ in manifest_shards(source, split):
        view = open_shard(path)
        mask = view.loss_mask
        for r, (ids, n, starts) in enumerate(zip(view.tokens, view.lengths, view.doc_starts)):
            rows.append({"ids": ids.copy(), "length": int(n), "starts": list(starts),
                         "mask": None if mask is None else mask[r].copy()})
    return rows


def stream(source: Path, split: str) -> np.ndarray:
    return np.concatenate([r["ids"][:r["length"]] for r in shard_rows(source, split)])


def expected_documents(source: Path, split: str, *, joined: bool, key: str = "ids") -> list[np.ndarray]:
    """Documents as the shards delimit them: a row's first piece continues the previous row's
    last document only when ``joined`` and the row has no document starting at 0."""
    docs: list[list[int]] = []
    for row in shard_rows(source, split):
        values = row[key][:row["length"]].tolist()
        cuts = list(row["starts"])
        if not joined and 0 not in cuts:
            cuts = [0] + cuts
        first = cuts[0] if cuts else row["length"]
        if first > 0:  # a continuation piece (the whole row when no document starts in it)
            if docs:
                docs[-1].extend(values[:first])
            else:
                docs.append(values[:first])
        for i, start in enumerate(cuts):
            end = cuts[i + 1] if i + 1 < len(cuts) else row["length"]
            docs.append(values[start:end])
    return [np.asarray(d) for d in docs]


def shuffle_flag(source: Path) -> object:
    return read_manifest(source).get("shuffle")
