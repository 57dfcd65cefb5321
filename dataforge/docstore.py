"""Documents between phases (and the ``write`` stage's Parquet): zstd Parquet, written and read in batches."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .document import Document

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.large_string()), ("source", pa.string()),
                    ("meta", pa.large_string())])
BATCH_DOCS = 1000
BATCH_CHARS = 32 << 20  # flush a row group at ~32 MB of text whatever the doc count


class DocWriter:
    """Append documents to a Parquet file; memory is one batch."""

    def __init__(self, path: Path) -> None:
        self._writer = pq.ParquetWriter(str(path), SCHEMA, compression="zstd")
        self._cols: dict[str, list[str]] = {k: [] for k in SCHEMA.names}
        self._chars = 0
        self.count = 0

    def add(self, doc: Document) -> None:
        cols = self._cols
        cols["id"].append(doc.id)
        cols["text"].append(doc.text)
        cols["source"].append(doc.source)
        cols["meta"].append(json.dumps(doc.meta, ensure_ascii=False, sort_keys=True, default=str))
        self.count += 1
        self._chars += len(doc.text)
        if len(cols["id"]) >= BATCH_DOCS or self._chars >= BATCH_CHARS:
            self._flush()

    def _flush(self) -> None:
        self._writer.write_table(pa.table(self._cols, schema=SCHEMA))
        for v in self._cols.values():
            v.clear()
        self._chars = 0

    def close(self) -> None:
        if self._cols["id"] or self.count == 0:
            self._flush()
        self._writer.close()


def write_docs(path: Path, docs: Iterable[Document]) -> int:
    """Stream ``docs`` into ``path``; returns the count."""
    w = DocWriter(path)
    try:
        for doc in docs:
            w.add(doc)
    finally:
        w.close()
    return w.count


def read_docs(path: Path) -> Iterator[Document]:
    pf = pq.ParquetFile(str(path))
    for batch in pf.iter_batches(batch_size=BATCH_DOCS):
        d = batch.to_pydict()
        for i, t, s, m in zip(d["id"], d["text"], d["source"], d["meta"]):
            yield Document(id=i, text=t, source=s, meta=json.loads(m))
