"""The ``write`` stage: documents that reach it, with their meta, under ``documents/``."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Literal

import zstandard

from .document import Document
from .docstore import DocWriter
from .stage import Params, Stage, safe_name


class WriteParams(Params):
    format: Literal["jsonl", "parquet"] = "jsonl"  # jsonl: one {"id","text","source","meta"} per line
    compression: Literal["zstd", "none"] = "zstd"  # jsonl only (parquet is always zstd)
    path: str = "documents"  # folder under the output directory


class _JsonlWriter:
    def __init__(self, path: Any, zstd: bool) -> None:
        self._raw = open(path, "wb")
        stream = zstandard.ZstdCompressor(level=3).stream_writer(self._raw) if zstd else self._raw
        self._fh = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogatepass")

    def add(self, doc: Document) -> None:
        rec = {"id": doc.id, "text": doc.text, "source": doc.source, "meta": doc.meta}
        self._fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")

    def close(self) -> None:
        self._fh.close()


class Write(Stage[WriteParams]):
    """Passes documents through, writing each to ``<output>/<path>/<source>/<task>.<ext>``.

    Files appear in the output when the task commits (never partial). Put it anywhere
    in the stage list to keep what survived up to that point.
    """

    Params: ClassVar[type[Params]] = WriteParams

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        p = self.params
        folder = self.ctx.publish_dir / safe_name(p.path)
        name = safe_name(self.ctx.task_id)
        ext = "parquet" if p.format == "parquet" else ("jsonl.zst" if p.compression == "zstd" else "jsonl")
        writer: Any = None
        finished = False
        try:
            for doc in docs:
                if writer is None:  # a task reads one source: one file per task
                    dest = folder / safe_name(doc.source) / f"{name}.{ext}"
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    writer = DocWriter(dest) if p.format == "parquet" else _JsonlWriter(dest, p.compression == "zstd")
                writer.add(doc)
                yield doc
            finished = True
        finally:
            if writer is not None:
                if finished:
                    writer.close()
                else:  # the task failed or was abandoned: its scratch folder is discarded anyway
                    with contextlib.suppress(Exception):
                        writer.close()
