"""nanoGPT and llm.c token files: one flat token stream per split.

``nanogpt`` is llm.c's data file, as karpathy/llm.c ``dev/data/data_common.py``
(``write_datafile``) describes it (our own code): a header of 256 little-endian int32 -
``[0]`` magic, ``[1]`` version, ``[2]`` the number of tokens that follow, the rest 0 -
then the tokens. Two variants exist there (``HEADERS_INFO``):

* ``gpt-2``: magic 20240520, version 1, uint16 tokens - the one llm.c's C loader
  (``llmc/dataloader.h``) reads; written when the whole vocabulary fits (<= 65536 ids);
* ``llama-3``: magic 20240801, version 7, uint32 tokens - written for a larger vocabulary.

The count is an int32 (``write_datafile`` asserts ``len(toks) < 2**31``), so a split of
2**31 tokens or more needs ``file_tokens``: files ``train_000000.bin``, ``train_000001.bin``...
(llm.c's ``fineweb.py`` names its shards that way and its loader takes a glob).

``nanogpt-raw`` is nanoGPT's own ``train.bin``/``val.bin`` (karpathy/nanoGPT
``data/openwebtext/prepare.py``: the ids as a bare uint16 array, which ``train.py`` maps
with ``np.memmap(..., dtype=np.uint16)``), plus ``meta.pkl`` holding ``vocab_size``, which
nanoGPT's ``train.py`` reads to size the model (as ``data/shakespeare_char`` writes it).
uint16 only: a larger vocabulary is refused.

Both name the validation split ``val`` as llm.c and nanoGPT do (``val.bin``; our
``validation`` split). The stream is every row's real tokens in manifest order: documents
end in their EOS (llm.c and nanoGPT delimit documents with the EOT token and keep no
other boundary); padding, ``doc_starts`` and an SFT loss mask are dropped.
"""

from __future__ import annotations

import math
import pickle
from typing import IO

import numpy as np

from .base import Exporter, Progress, SplitResult
from .documents import real_tokens
from .source import ExportError, iter_chunks
from .staging import Staging, sync_close, write_array

HEADER_INTS = 256
#: (magic, version, token dtype) per llm.c descriptor, data_common.py HEADERS_INFO
GPT2 = (20240520, 1, np.dtype(np.uint16))
LLAMA3 = (20240801, 7, np.dtype(np.uint32))
#: llm.c's header counts tokens in an int32
MAX_FILE_TOKENS = 2**31 - 1
#: what llm.c and nanoGPT call each of our splits
FILE_SPLIT = {"train": "train", "validation": "val"}


def llmc_header(*, magic: int, version: int, tokens: int) -> bytes:
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[:3] = (magic, version, tokens)
    return header.tobytes()


class _Files:
    """Token files of one split, each holding at most ``per_file`` tokens; the header (if any)
    is written up front with the file's count, known from the manifest."""

    def __init__(self, staging: Staging, names: list[str], *, counts: list[int], dtype: np.dtype,
                 header: tuple[int, int] | None) -> None:
        self.staging, self.names, self.counts, self.dtype, self.header = staging, names, counts, dtype, header
        self.index = -1
        self.room = 0
        self.fh: IO[bytes] | None = None
        self.written = 0

    def _next(self) -> IO[bytes]:
        """Close the current file and open the next one (returned)."""
        self._close()
        self.index += 1
        if self.index >= len(self.names):
            raise RuntimeError("more tokens than the manifest counts")
        fh = self.fh = open(self.staging.path(self.names[self.index]), "wb")
        self.room = self.counts[self.index]
        if self.header is not None:
            fh.write(llmc_header(magic=self.header[0], version=self.header[1], tokens=self.room))
        return fh

    def _close(self) -> None:
        if self.fh is not None:
            if self.room:
                raise RuntimeError(f"{self.names[self.index]}: {self.room} tokens short of its header's count")
            sync_close(self.fh)
            self.fh = None

    def write(self, tokens: np.ndarray) -> None:
        tokens = tokens.astype(self.dtype, copy=False)
        while tokens.size:
            fh = self.fh if self.room else None  # (room > 0 only while a file is open)
            if fh is None:
                fh = self._next()
            part, tokens = tokens[:self.room], tokens[self.room:]
            write_array(fh, part)
            self.room -= int(part.size)
            self.written += int(part.size)

    def close(self) -> None:
        while self.index < len(self.names) - 1:  # (only an empty split has a file still to open)
            self._next()
        self._close()


def _stream(exporter: Exporter, split: str, files: _Files, progress: Progress | None) -> int:
    rows = 0
    paths = exporter.source.shards[split]
    for done, path in enumerate(paths, 1):
        for chunk in iter_chunks(path):
            files.write(real_tokens(chunk))
            rows += chunk.rows
        if progress is not None:
            progress(split, done, len(paths))
    files.close()
    return rows


class LlmcExporter(Exporter):
    """llm.c's header + tokens (``--format nanogpt``)."""

    name = "nanogpt"

    @property
    def variant(self) -> tuple[int, int, np.dtype]:
        return GPT2 if self.source.vocab_size <= 1 << 16 else LLAMA3

    def exported_dtype(self) -> str:
        return self.variant[2].name

    def check(self) -> None:
        limit = self.params.file_tokens
        for split, n in self.source.tokens.items():
            if limit is None and n > MAX_FILE_TOKENS:
                raise ExportError(f"{self.source.root}: the {split} split has {n:,} tokens; an llm.c file holds "
                                  f"at most {MAX_FILE_TOKENS:,} (its header counts in an int32): "
                                  "give --file-tokens (llm.c's fineweb.py uses 100000000)")

    def _names(self, split: str) -> list[str]:
        base = f"{self.params.stem}{FILE_SPLIT.get(split, split)}"
        if self.params.file_tokens is None:
            return [f"{base}.bin"]
        n_files = max(1, math.ceil(self.source.tokens[split] / self.params.file_tokens))
        return [f"{base}_{i:06d}.bin" for i in range(n_files)]

    def _counts(self, split: str) -> list[int]:
        total, per = self.source.tokens[split], self.params.file_tokens or self.source.tokens[split]
        names = self._names(split)
        return [min(per, total - i * per) for i in range(len(names))]

    def finals(self) -> list[str]:
        return [name for split in self.source.shards for name in self._names(split)]

    def keeps(self) -> dict[str, str]:
        magic, version, dtype = self.variant
        return {"keeps": f"every real token, {dtype.name}, llm.c header magic {magic} version {version}; "
                         "documents delimited by their EOS only",
                "drops": "padding, doc_starts" + (", the loss mask (every token is a target)"
                                                  if self.source.kind == "sft" else "")}

    def write_split(self, split: str, staging: Staging, progress: Progress | None) -> SplitResult:
        magic, version, dtype = self.variant
        names = self._names(split)
        files = _Files(staging, names, counts=self._counts(split), dtype=dtype, header=(magic, version))
        rows = _stream(self, split, files, progress)
        return SplitResult(split=split, files=names, tokens=files.written, rows=rows)


class NanoGptRawExporter(Exporter):
    """nanoGPT's bare uint16 ``train.bin``/``val.bin`` and ``meta.pkl`` (``--format nanogpt-raw``)."""

    name = "nanogpt-raw"

    def exported_dtype(self) -> str:
        return "uint16"

    def check(self) -> None:
        if self.source.vocab_size > 1 << 16:
            raise ExportError(f"{self.source.root}: vocab_size {self.source.vocab_size} > 65536; nanoGPT's "
                              "train.bin is uint16 (ids up to 65535): use --format nanogpt (llm.c's uint32 "
                              "variant) or --format hf")

    def _name(self, split: str) -> str:
        return f"{self.params.stem}{FILE_SPLIT.get(split, split)}.bin"

    def finals(self) -> list[str]:
        return [self._name(split) for split in self.source.shards] + [f"{self.params.stem}meta.pkl"]

    def keeps(self) -> dict[str, str]:
        return {"keeps": "every real token, uint16, no header; meta.pkl with vocab_size",
                "drops": "padding, doc_starts" + (", the loss mask (every token is a target)"
                                                  if self.source.kind == "sft" else "")}

    def write_split(self, split: str, staging: Staging, progress: Progress | None) -> SplitResult:
        name = self._name(split)
        files = _Files(staging, [name], counts=[self.source.tokens[split]], dtype=np.dtype(np.uint16), header=None)
        rows = _stream(self, split, files, progress)
        return SplitResult(split=split, files=[name], tokens=files.written, rows=rows)

    def finish(self, staging: Staging, results: list[SplitResult]) -> None:
        meta = {"vocab_size": self.source.vocab_size, "eos_id": int(self.source.manifest["eos_id"]),
                "made_by": "dataforge export"}
        fh = open(staging.path(f"{self.params.stem}meta.pkl"), "wb")
        pickle.dump(meta, fh, protocol=4)
        sync_close(fh)
