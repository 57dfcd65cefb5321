"""The lines a part of a file owns, streamed in bounded memory.

Ownership (the same for every way a file is cut, so line numbers and ids never depend
on it): a line belongs to the part holding the newline *before* it (the file's first
line belongs to part 0). For a plain file the newline's key is its byte offset and a
part ``[start, end)`` holds keys ``[start-1, end-1)``: Hadoop's LineRecordReader rule
(a part owns the lines whose first byte lies in ``[start, end)``; it skips to just
past the first newline at or after ``start-1`` and reads the line crossing ``end``).
For .gz/.zst the key is the offset of the member/frame the newline was decoded from,
and a part holds the members starting in ``[start, end)`` (bgzip blocks cut lines
anywhere: the line that crosses into the next part's first member is read to its end
by this part, and skipped by the next).

A line longer than ``max_bytes`` is never assembled: its bytes past the limit are
dropped as they stream by and it comes out as :class:`TooLarge`. Damage in a
compressed file (:class:`Broken`) costs the line it cut and the fragment after it;
reading goes on at the next valid member.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import cast

from .base import WHOLE, Span
from .compressed import Gap, Piece, kind_of, pieces


@dataclass(frozen=True, slots=True)
class TooLarge:
    """A line of ``size`` bytes (newline excluded), over the limit: not kept."""

    size: int


@dataclass(frozen=True, slots=True)
class Broken:
    """Damage in the file. ``partial``: it cut a line, which takes a line number."""

    reason: str
    detail: str
    partial: bool


Line = bytes | TooLarge | Broken


def broken_at(line_no: int, item: Broken) -> tuple[int, int]:
    """(the line number damage is reported at, the last line number used after it):
    a cut line takes a number, damage between lines does not."""
    return line_no + 1, line_no + 1 if item.partial else line_no


def owned_lines(path: str, span: Span | None = None, *, max_bytes: int | None = None) -> Iterator[Line]:
    """The lines (without their newline) that ``span`` of ``path`` owns, in order."""
    return cast(Iterator[Line], _walk(path, span or WHOLE, max_bytes, count_only=False))


def count_lines(path: str, span: Span | None = None) -> int:
    """How many line numbers :func:`owned_lines` uses for ``span``: lines, too-large
    lines and lines cut by damage. Counts newlines in C; assembles nothing."""
    return sum(cast(Iterator[int], _walk(path, span or WHOLE, None, count_only=True)))


def _stream(path: str, span: Span) -> tuple[Generator[Piece | Gap, None, None], bool, int | None, bool]:
    """(pieces, skip the first partial line?, end key, keys per byte?) for ``span``."""
    if kind_of(path) == "plain":
        end_key = None if span.end is None else span.end - 1
        return pieces(path, max(span.start - 1, 0)), span.start > 0, end_key, True
    return pieces(path, span.start, span.end), span.start > 0, span.end, False


def _walk(path: str, span: Span, max_bytes: int | None, *, count_only: bool) -> Iterator[Line | int]:
    """Lines (or, with ``count_only``, counts of line numbers used) of ``span``."""
    stream, skipping, end_key, per_byte = _stream(path, span)
    held: list[bytes] = []  # the current line so far (empty once it is over the limit)
    size = 0  # bytes of the current line so far

    def finish() -> Line | int:
        nonlocal held, size
        if count_only:
            out: Line | int = 1
        elif max_bytes is not None and size > max_bytes:
            out = TooLarge(size)
        else:
            out = held[0] if len(held) == 1 else b"".join(held)
        held, size = [], 0
        return out

    def add(seg: bytes) -> None:
        nonlocal held, size
        size += len(seg)
        if count_only or (max_bytes is not None and size > max_bytes):
            held = []
        elif seg:
            held.append(seg)

    try:
        for item in stream:
            if isinstance(item, Gap):
                if not skipping:  # damage while skipping cuts a line an earlier part owns
                    yield Broken(item.reason, item.detail, partial=size > 0) if not count_only else int(size > 0)
                held, size, skipping = [], 0, True
                continue
            data, n = item.data, len(item.data)
            if end_key is None:
                cut = n
            elif per_byte:
                cut = min(max(end_key - item.key, 0), n)
            else:
                cut = n if item.key < end_key else 0
            pos = 0
            if skipping:  # the bytes up to the first newline finish a line an earlier part owns
                i = data.find(b"\n", 0, cut)
                if i < 0:
                    if cut < n:
                        return
                    continue
                skipping, pos = False, i + 1
            if pos < cut:  # keys in this part: every newline here starts a line of ours
                region = data[pos:cut] if pos or cut < n else data
                if count_only:
                    k = region.count(b"\n")
                    if k:
                        yield k
                        size = len(region) - region.rfind(b"\n") - 1
                    else:
                        size += len(region)
                else:
                    *complete, tail = region.split(b"\n")
                    for i, line in enumerate(complete):
                        if i == 0 and size:
                            add(line)
                            yield finish()
                        elif max_bytes is not None and len(line) > max_bytes:
                            yield TooLarge(len(line))
                        else:
                            yield line
                    add(tail)
            if cut < n:  # past the part: finish the line in progress, and stop
                j = data.find(b"\n", cut)
                if j < 0:
                    add(data[cut:])
                    continue
                add(data[cut:j])
                yield finish()
                return
        if size:
            yield finish()
    finally:
        stream.close()


class TruncatedInput(Exception):
    """The compressed stream ends early or is corrupt; lines before it were yielded."""


def iter_blocks(path: str) -> Iterator[bytes]:
    """Decompressed blocks of the whole of ``path``; raises :class:`TruncatedInput` at damage."""
    for item in pieces(path):
        if isinstance(item, Gap):
            raise TruncatedInput(f"{item.reason}: {item.detail}")
        yield item.data


def iter_lines(path: str) -> Iterator[bytes]:
    """Lines of ``path`` with their ``\\n`` (the last may lack it), streaming, with no
    length limit; raises :class:`TruncatedInput` at damage (the partial line at the
    break is not yielded). For callers outside the readers (report, classifier)."""
    tail: list[bytes] = []  # pieces of a line that spans blocks (no quadratic re-joining)
    for data in iter_blocks(path):
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
