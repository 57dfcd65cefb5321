"""Cutting big line and record files into parts, in the driver: a stat and a few small reads.

Plain files are cut at any byte (each part finds its first record itself). A .gz/.zst
is cut only when it is made of many members/frames (bgzip, concatenated gzip, pzstd,
the zstd seekable format): then too each part finds its first member itself (see
:mod:`.compressed`), so here it is enough to know that the file has more than one. A
single-stream .gz/.zst cannot be cut (a deflate/zstd stream cannot be entered in the
middle) and is read as one task, with a warning that says how to make it splittable.
"""

from __future__ import annotations

import logging

from ..io import is_url
from .base import WHOLE, Span, byte_spans, unsplittable
from .compressed import Damage, Result, drain, what_follows, gzip_member, kind_of, zstd_frame

log = logging.getLogger(__name__)

#: the first member is looked at up to this many stored bytes (and 64x as many decoded)
PROBE_BYTES = 4 << 20
# zstd seekable format footer magic (zstd contrib/seekable_format/zstd_seekable_compression_format.md)
_SEEKABLE_MAGIC = (0x8F92EAB1).to_bytes(4, "little")
_BGZF_SUBFIELD = b"BC"  # SAM/BAM spec sec. 4.1: the BGZF block-size extra subfield


def split_by_bytes(path: str, *, size: int, task_bytes: int) -> list[Span]:
    """Byte-range parts of a plain or many-member compressed file, else ``[WHOLE]``."""
    spans = byte_spans(size, task_bytes)
    if len(spans) == 1:
        return spans
    if is_url(path):
        unsplittable(path, size, "an object-store file is fetched whole by its task")
        return [WHOLE]
    kind = kind_of(path)
    if kind == "plain":
        return spans
    try:
        why = single_stream(path, kind)
    except OSError as exc:
        why = f"cannot be read ({exc})"  # the task will report it
    if why is not None:
        unsplittable(path, size, why)
        return [WHOLE]
    return spans


def single_stream(path: str, kind: str) -> str | None:
    """Why ``path`` cannot be cut at members, or None when it has several."""
    with open(path, "rb") as fh:
        head = fh.read(64)
        if kind == "gzip" and _is_bgzf(head):
            return None
        if kind == "zstd":
            fh.seek(-4, 2)
            if fh.read(4) == _SEEKABLE_MAGIC:
                return None
        member = gzip_member if kind == "gzip" else zstd_frame
        box = Result()
        decoded = 0
        try:
            for data in drain(member(fh, 0), box):
                decoded += len(data)
                if fh.tell() > PROBE_BYTES or decoded > 64 * PROBE_BYTES:
                    return _advice(kind, f"its first {'member' if kind == 'gzip' else 'frame'} is over "
                                         f"{PROBE_BYTES >> 20} MiB (a single stream?)")
        except Damage as exc:
            return f"its first member is damaged ({exc.detail})"
        if what_follows(fh, kind, box.value) != "member":
            return _advice(kind, "it is a single " + ("gzip member" if kind == "gzip" else "zstd frame"))
    return None


def _advice(kind: str, why: str) -> str:
    how = "bgzip (htslib) or concatenated gzip members" if kind == "gzip" else \
        "zstd frames of a few MB (pzstd, or zstd's seekable format)"
    return f"{why}; recompress it as {how} to read it as many tasks"


def _is_bgzf(head: bytes) -> bool:
    """A BGZF (bgzip) header: FEXTRA set and a 'BC' subfield first."""
    return len(head) >= 18 and head[:3] == b"\x1f\x8b\x08" and bool(head[3] & 0x04) and head[12:14] == _BGZF_SUBFIELD
