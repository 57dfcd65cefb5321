"""Streaming lines from plain, .gz and .zst files, noticing truncation.

``dataforge.io.open_text_lines`` reads through two buffers, so a truncated .gz loses
everything still buffered when the error comes, and python-zstandard's stream reader
ends a truncated .zst silently. Here blocks are decompressed incrementally (gzip
``read1``; a zstd ``decompressobj`` that knows whether its frame ended), every
complete line read before the damage is yielded, and then :class:`TruncatedInput`
is raised (the partial line at the break is not yielded).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import zstandard

#: bytes read per step; a line may be any length (it is assembled from blocks)
BLOCK = 1 << 16


class TruncatedInput(Exception):
    """The compressed stream ends early or is corrupt; lines before it were yielded."""


def iter_blocks(path: str, block: int = BLOCK) -> Iterator[bytes]:
    """Decompressed blocks of ``path`` (by suffix: .gz, .zst/.zstd, else plain)."""
    if path.endswith(".gz"):
        yield from _gzip_blocks(path, block)
    elif path.endswith((".zst", ".zstd")):
        yield from _zstd_blocks(path, block)
    else:
        with open(path, "rb") as fh:
            while data := fh.read(block):
                yield data


def _gzip_blocks(path: str, block: int) -> Iterator[bytes]:
    with gzip.open(path, "rb") as fh:
        while True:
            try:
                data = fh.read1(block)  # one decompression step: nothing decoded is held back
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise TruncatedInput(f"gzip: {exc}") from exc
            if not data:
                return
            yield data


def _zstd_blocks(path: str, block: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        dobj = zstandard.ZstdDecompressor().decompressobj()
        pending_frame = False  # input fed to a frame that has not ended yet
        while raw := fh.read(block):
            while raw:
                try:
                    data = dobj.decompress(raw)
                except zstandard.ZstdError as exc:
                    raise TruncatedInput(f"zstd: {exc}") from exc
                if data:
                    yield data
                pending_frame = not dobj.eof
                raw = dobj.unused_data if dobj.eof else b""
                if dobj.eof:  # concatenated frames: a new decompressor per frame
                    dobj = zstandard.ZstdDecompressor().decompressobj()
        if pending_frame:
            raise TruncatedInput("zstd: file ends inside a frame")


def iter_lines(path: str, block: int = BLOCK) -> Iterator[bytes]:
    """Lines of ``path`` with their ``\\n`` (the last may lack it), streaming."""
    tail: list[bytes] = []  # pieces of a line that spans blocks (no quadratic re-joining)
    for data in iter_blocks(path, block):
        parts = data.split(b"\n")
        if len(parts) == 1:
            tail.append(data)
            continue
        if tail:
            tail.append(parts[0])
            parts[0] = b"".join(tail)
            tail = []
        last = parts.pop()
        for part in parts:
            yield part + b"\n"
        if last:
            tail.append(last)
    if tail:
        yield b"".join(tail)
