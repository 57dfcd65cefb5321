"""Decompressed pieces of plain, gzip and zstd files, member by member, in bounded memory.

A file is read as a stream of :class:`Piece` (decompressed bytes tagged with the byte
offset, in the file as stored, of the gzip member or zstd frame they come from; for a
plain file, the offset of their first byte) and :class:`Gap` (damage: bytes lost).

* **Bounded output.** Every step yields at most a few hundred KB whatever the input:
  gzip through ``zlib`` with ``max_length``; zstd one block at a time (the format caps
  a block at 128 KiB decoded, RFC 8878 sec. 3.1.1.2.4), the frame walked by its block
  headers. A decompression bomb is just a long stream of small pieces.
* **One bad member costs one member.** A damaged member/frame yields a :class:`Gap`
  and reading resumes at the next *valid* member start (see :func:`find_member`).
* **Parts.** ``pieces(path, start, limit)`` with ``start > 0`` begins at the first
  valid member starting at or after ``start``. A candidate is valid when it decodes
  whole (gzip CRC32/ISIZE, zstd frame structure and checksum) and what follows it is
  the end of the file or another member, so a ``1f 8b`` inside compressed data is
  never taken for a boundary. ``limit`` bounds every search for a restart point:
  members starting at or after it belong to the next part.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

#: bytes of input read per step
READ = 1 << 16
#: bytes of output per step (gzip); a zstd step is at most ZSTD_BATCH blocks of <= 128 KiB
BLOCK = 1 << 18
ZSTD_BATCH = 4
_SCAN = 1 << 20

GZIP_MAGIC = b"\x1f\x8b\x08"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# skippable frames: 4-byte magic 0x184D2A50..0x184D2A5F (little-endian), then a 4-byte size
_SKIPPABLE_TAIL = b"\x2a\x4d\x18"


@dataclass(frozen=True, slots=True)
class Piece:
    key: int  # stored-file offset of the member/frame (plain file: of data[0])
    data: bytes


@dataclass(frozen=True, slots=True)
class Gap:
    """The stream is damaged here: bytes between the last piece and the next are lost."""

    reason: str  # truncated_file | corrupt_data
    detail: str


class Damage(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def kind_of(path: str) -> str:
    """``gzip``, ``zstd`` or ``plain``, by suffix."""
    if path.endswith(".gz"):
        return "gzip"
    if path.endswith((".zst", ".zstd")):
        return "zstd"
    return "plain"


def pieces(path: str, start: int = 0, limit: int | None = None) -> Generator[Piece | Gap, None, None]:
    """Decompressed pieces of ``path`` from the first member at or after ``start``."""
    kind = kind_of(path)
    with open(path, "rb") as fh:
        if kind == "plain":
            fh.seek(start)
            offset = start
            while data := fh.read(BLOCK * 4):
                yield Piece(offset, data)
                offset += len(data)
            return
        member = gzip_member if kind == "gzip" else zstd_frame
        pos: int | None = start if start == 0 else find_member(fh, kind, start, limit)
        while pos is not None:
            box = Result()
            try:
                for data in drain(member(fh, pos), box):
                    yield Piece(pos, data)
            except Damage as exc:
                yield Gap(exc.reason, exc.detail)
                pos = find_member(fh, kind, pos + 1, limit)
                continue
            end = box.value
            follows = what_follows(fh, kind, end)
            if follows == "member":
                pos = end
            elif follows == "end":
                return
            else:
                yield Gap("corrupt_data", f"byte {end}: not a {kind} member (trailing garbage)")
                pos = find_member(fh, kind, end + 1, limit)


class Result:
    """Where :func:`drain` puts the return value of the generator it drains."""

    value: int = 0


def drain(gen: Generator[bytes, None, int], box: Result) -> Iterator[bytes]:
    """Yield what ``gen`` yields and keep its return value in ``box``."""
    box.value = yield from gen


def gzip_member(fh: BinaryIO, pos: int, block: int = BLOCK) -> Generator[bytes, None, int]:
    """Decompressed blocks of the gzip member at ``pos``; returns the offset just past it.

    Raises :class:`Damage` when the member is corrupt (bad header, data, CRC32 or
    ISIZE) or the file ends inside it."""
    fh.seek(pos)
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip wrapper: header and trailer checked
    fed = 0
    while not d.eof:
        raw = d.unconsumed_tail
        if not raw:
            raw = fh.read(READ)
            if not raw:
                raise Damage("truncated_file", f"gzip member at byte {pos}: file ends inside it")
            fed += len(raw)
        try:
            out = d.decompress(raw, block)
        except zlib.error as exc:
            raise Damage("corrupt_data", f"gzip member at byte {pos}: {exc}") from None
        if out:
            yield out
    return pos + fed - len(d.unconsumed_tail) - len(d.unused_data)


def zstd_frame(fh: BinaryIO, pos: int) -> Generator[bytes, None, int]:
    """Decompressed blocks of the zstd frame at ``pos`` (nothing for a skippable frame);
    returns the offset just past it. Raises :class:`Damage` like :func:`gzip_member`."""
    fh.seek(pos)
    head = fh.read(18)
    if len(head) >= 8 and head[0] & 0xF0 == 0x50 and head[1:4] == _SKIPPABLE_TAIL:
        end = pos + 8 + int.from_bytes(head[4:8], "little")
        fh.seek(0, io.SEEK_END)
        if end > fh.tell():
            raise Damage("truncated_file", f"zstd skippable frame at byte {pos}: file ends inside it")
        return end
    size = _zstd_header_size(head, pos)
    if len(head) < size:
        raise Damage("truncated_file", f"zstd frame at byte {pos}: file ends inside it")
    checksum = bool(head[4] & 0x04)
    d = zstandard.ZstdDecompressor().decompressobj()
    at = pos + size
    batch = [head[:size]]
    last = False
    while not last:
        fh.seek(at)
        for _ in range(ZSTD_BATCH):
            bh = fh.read(3)
            if len(bh) < 3:
                raise Damage("truncated_file", f"zstd frame at byte {pos}: file ends inside it")
            h = int.from_bytes(bh, "little")
            last, btype, bsize = bool(h & 1), (h >> 1) & 3, h >> 3
            if btype == 3:
                raise Damage("corrupt_data", f"zstd frame at byte {pos}: reserved block type at byte {at}")
            n = 1 if btype == 1 else bsize
            body = fh.read(n + (4 if last and checksum else 0))
            if len(body) < n + (4 if last and checksum else 0):
                raise Damage("truncated_file", f"zstd frame at byte {pos}: file ends inside it")
            batch += (bh, body)
            at += 3 + len(body)
            if last:
                break
        try:
            out = d.decompress(b"".join(batch))
        except zstandard.ZstdError as exc:
            raise Damage("corrupt_data", f"zstd frame at byte {pos}: {exc}") from None
        batch = []
        if out:
            yield out
    if not d.eof:
        raise Damage("corrupt_data", f"zstd frame at byte {pos}: frame does not end at its last block")
    return at


def _zstd_header_size(head: bytes, pos: int) -> int:
    """Bytes in the frame header at ``pos`` (magic included; RFC 8878 sec. 3.1.1.1)."""
    if not head.startswith(ZSTD_MAGIC) or len(head) < 6:
        raise Damage("corrupt_data", f"byte {pos}: not a zstd frame")
    fhd = head[4]
    if fhd & 0x08:
        raise Damage("corrupt_data", f"zstd frame at byte {pos}: reserved header bit set")
    single = bool(fhd & 0x20)
    fcs = (1 if single else 0, 2, 4, 8)[fhd >> 6]
    return 5 + (0 if single else 1) + (0, 1, 2, 4)[fhd & 3] + fcs


def what_follows(fh: BinaryIO, kind: str, end: int) -> str:
    """``end`` (of file, or zero padding to it), ``member``, or ``garbage``."""
    fh.seek(end)
    head = fh.read(4)
    if not head:
        return "end"
    if _is_magic(kind, head):
        return "member"
    if head.strip(b"\0"):
        return "garbage"
    while chunk := fh.read(_SCAN):  # tape-style zero padding after the last member
        if chunk.strip(b"\0"):
            return "garbage"
    return "end"


def _is_magic(kind: str, head: bytes) -> bool:
    if kind == "gzip":
        return head[:3] == GZIP_MAGIC
    return head[:4] == ZSTD_MAGIC or (len(head) == 4 and head[0] & 0xF0 == 0x50 and head[1:4] == _SKIPPABLE_TAIL)


def valid_member_at(fh: BinaryIO, kind: str, pos: int) -> bool:
    """Does a whole, undamaged member start at ``pos``, followed by the end or another member?"""
    member = gzip_member if kind == "gzip" else zstd_frame
    box = Result()
    try:
        for _ in drain(member(fh, pos), box):
            pass
    except Damage:
        return False
    return what_follows(fh, kind, box.value) != "garbage"


def find_member(fh: BinaryIO, kind: str, pos: int, limit: int | None) -> int | None:
    """The first valid member start in ``[pos, limit)`` (``limit`` None: to the end)."""
    magic = GZIP_MAGIC if kind == "gzip" else ZSTD_MAGIC
    at = pos
    while limit is None or at < limit:
        fh.seek(at)
        chunk = fh.read(_SCAN + len(magic) - 1)
        if len(chunk) < len(magic):
            return None
        i = chunk.find(magic)
        while i >= 0 and i < _SCAN:
            cand = at + i
            if limit is not None and cand >= limit:
                return None
            flags_ok = kind == "zstd" or i + 3 >= len(chunk) or chunk[i + 3] & 0xE0 == 0  # reserved FLG bits
            if flags_ok and valid_member_at(fh, kind, cand):
                return cand
            i = chunk.find(magic, i + 1)
        at += _SCAN
    return None
