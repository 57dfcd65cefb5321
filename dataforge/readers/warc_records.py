"""WARC records, read robustly: truncated records detected, corrupt stretches skipped.

fastwarc stops at the first corrupt record and silently returns a short payload for a
truncated one. :func:`iter_records` adds what a pipeline needs on top:

* a payload shorter than its ``Content-Length`` is reported as ``truncated_record``;
* a record larger than ``max_bytes`` is reported as ``record_too_large`` and not read;
* a record whose ``Content-Length`` runs past its real end (its payload holds the next
  record's WARC header) is ``warc_length_overrun``: it is dropped and reading goes on
  at the record it swallowed (plain .warc: that header; .warc.gz: the next member);
* on a parse or decompression error it reports ``corrupt_record`` with the byte
  offset, then scans forward for the next record start (a gzip member for
  ``.warc.gz``, a ``WARC/1.`` line for plain files) and goes on from there. One
  corrupt stretch is counted once, however many restarts it takes to pass it.

Offsets are byte positions in the file as stored (compressed offsets for .warc.gz),
so ``dd``/``fastwarc`` can seek straight to a reported record. A part of a file (a
:class:`~.base.Span`) owns the records starting in ``[start, end)``; it begins at the
first *valid* record start at or after ``start`` (a gzip member that decodes whole
to a WARC header; in a plain file, a WARC header block at a line start).
"""

from __future__ import annotations

import io
import logging
import re
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

from fastwarc.stream_io import BrotliReader, ChunkedReader, GzipReader, ZstdReader
from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from .base import WHOLE, Span
from .compressed import Damage, Result, drain, find_member, gzip_member

log = logging.getLogger(__name__)

#: called as skip(path, offset, reason, detail) for every record not yielded
SkipFn = Callable[[str, "int | str | None", str, str], None]

_GZIP_MAGIC = b"\x1f\x8b\x08"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_WARC_MAGIC = b"WARC/1."
#: give up on a file after this many restarts (a file of pure garbage ends sooner)
_MAX_RESTARTS = 10_000
_SCAN_CHUNK = 1 << 20
#: a WARC header block is looked for in this many bytes (real ones are < 2 KB)
_HEADER_MAX = 1 << 16
_HEADER_START = re.compile(rb"WARC/\d{1,2}\.\d{1,2}\r\n")  # WARC/1.0, 1.1, and Heritrix's old 0.17
_ANY_VERSION = b"WARC/"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n", re.IGNORECASE)


def iter_records(
    path: str,
    record_types: WarcRecordType,
    *,
    parse_http: bool,
    max_bytes: int,
    skip: SkipFn,
    span: Span = WHOLE,
) -> Iterator[tuple[WarcRecord, bytes]]:
    """Yield ``(record, payload)`` for complete records of ``record_types`` starting in ``span``.

    ``payload`` is the record body after the HTTP headers (when ``parse_http``),
    still transfer/content-encoded (see :func:`decode_http_body`). ``record`` is valid
    only until the next item is requested.
    """
    end = span.end
    with open(path, "rb") as fh, open(path, "rb") as probe:  # probe: side reads, fastwarc's fh untouched
        magic = _record_magic(fh.read(4))
        start: int | None = 0 if span.start == 0 else find_record_start(probe, magic, span.start, end)
        in_corrupt_stretch = False
        restarts = 0
        while start is not None:
            begin = start
            fh.seek(begin)
            last = begin - 1  # start offset of the last record parsed in this pass
            resume: int | None = None
            try:
                # all types are iterated (and filtered below) so ``last`` tracks every
                # record: a restart then never re-reads a stretch it already passed
                for rec in ArchiveIterator(fh, parse_http=parse_http, auto_decode="none"):
                    last = rec.stream_pos
                    if end is not None and last >= end:
                        return
                    in_corrupt_stretch = False
                    if not rec.record_type & record_types:
                        continue
                    if rec.content_length > max_bytes:
                        skip(path, last, "record_too_large",
                             f"{rec.content_length} bytes > max_record_bytes {max_bytes}")
                        continue
                    payload = rec.reader.read()
                    if len(payload) < rec.content_length:
                        skip(path, last, "truncated_record", f"{len(payload)} of {rec.content_length} bytes")
                        continue
                    resume = overrun(probe, magic, rec, payload)
                    if resume is not None:
                        skip(path, last, "warc_length_overrun",
                             f"Content-Length {rec.headers.get('Content-Length')} runs into the next record "
                             f"(at byte {resume}); record dropped")
                        break
                    yield rec, payload
                if resume is None:
                    return
                start = resume if end is None or resume < end else None
            except Exception as exc:  # fastwarc raises OSError; anything else is corrupt data too
                after = max(last, begin)
                start = _find(fh, magic, after + 1)
                if start is not None and end is not None and start >= end:
                    start = None  # the rest belongs to the next part
                restarts += 1
                if not in_corrupt_stretch:
                    where = f"resuming at byte {start}" if start is not None else "rest of the part unreadable"
                    skip(path, after, "corrupt_record", f"{exc} (after byte {after}; {where})")
                    in_corrupt_stretch = True
                elif start is not None:
                    log.info("%s: still corrupt; trying byte %d", path, start)
                if restarts >= _MAX_RESTARTS and start is not None:
                    skip(path, start, "corrupt_file", f"gave up after {restarts} restarts")
                    return


def _record_magic(head: bytes) -> bytes:
    """What a record start looks like in this file (sniffed, as fastwarc does)."""
    if head.startswith(_GZIP_MAGIC[:2]):
        return _GZIP_MAGIC
    if head.startswith(_ZSTD_MAGIC):
        return _ZSTD_MAGIC
    return _WARC_MAGIC


def _find(fh: BinaryIO, magic: bytes, pos: int, limit: int | None = None) -> int | None:
    """Offset of the next ``magic`` at or after ``pos`` (and before ``limit``), reading in chunks."""
    fh.seek(pos)
    overlap = b""
    base = pos
    while (limit is None or base < limit) and (chunk := fh.read(_SCAN_CHUNK)):
        buf = overlap + chunk
        i = buf.find(magic)
        if i >= 0:
            return base - len(overlap) + i
        overlap = buf[-(len(magic) - 1):]
        base += len(chunk)
    return None


def find_record_start(fh: BinaryIO, magic: bytes, pos: int, limit: int | None) -> int | None:
    """The first valid record start in ``[pos, limit)``, or None."""
    at: int | None = pos
    while at is not None and (limit is None or at < limit):
        if magic == _GZIP_MAGIC:
            cand = find_member(fh, "gzip", at, limit)
            if cand is not None and _HEADER_START.match(_member_head(fh, cand)):
                return cand
        elif magic == _WARC_MAGIC:
            cand = _find(fh, _ANY_VERSION, at, limit)
            if cand is not None and (limit is None or cand < limit) and _plain_record_at(fh, cand):
                return cand
        else:
            return None  # zstd WARCs are read whole
        at = None if cand is None else cand + 1
    return None


def _member_head(fh: BinaryIO, pos: int) -> bytes:
    """The first decoded bytes of the gzip member at ``pos``."""
    try:
        for data in gzip_member(fh, pos, block=256):
            return data
    except Damage:
        pass
    return b""


def _plain_record_at(fh: BinaryIO, pos: int) -> bool:
    """A WARC header block at ``pos``, at a line start, with a WARC-Type and a Content-Length.

    Its Content-Length need not land on the next record: fastwarc reads a record whose
    length is a little off (then fails after it), so a part must start there too."""
    if pos > 0:
        fh.seek(pos - 1)
        if fh.read(1) != b"\n":
            return False
    return _declared_end(fh, pos) is not None


def _declared_end(fh: BinaryIO, pos: int) -> int | None:
    """Where the plain record at ``pos`` ends by its header (block start + Content-Length)."""
    fh.seek(pos)
    head = fh.read(_HEADER_MAX)
    if not _HEADER_START.match(head):
        return None
    stop = head.find(b"\r\n\r\n")
    m = _CONTENT_LENGTH.search(head, 0, stop + 2) if stop > 0 else None
    if m is None or b"\r\nWARC-Type:" not in head[:stop]:
        return None
    return pos + stop + 4 + int(m.group(1))


def _at_boundary(fh: BinaryIO, pos: int) -> bool:
    """Is ``pos`` the end of a record: line ends, then the next record or the end of the file?"""
    fh.seek(pos)
    rest = fh.read(64).lstrip(b"\r\n")
    return rest == b"" or _HEADER_START.match(rest) is not None


def overrun(probe: BinaryIO, magic: bytes, rec: WarcRecord, payload: bytes) -> int | None:
    """Where to resume when ``rec``'s Content-Length ran past its real end, else None.

    Suspected when the payload holds a WARC header block (``WARC/1.x`` with WARC-Type
    and Content-Length); confirmed when the record's declared end is not a record
    boundary (plain .warc) or lies past the end of its own gzip member (.warc.gz), so a
    WARC that archives another WARC is not cut."""
    i = _embedded_header(payload)
    if i is None:
        return None
    pos = rec.stream_pos
    if magic == _GZIP_MAGIC:
        result = Result()
        decoded = 0
        head = b""
        try:
            for data in drain(gzip_member(probe, pos), result):
                head = head or data
                decoded += len(data)
        except Damage:
            return None
        stop = head.find(b"\r\n\r\n")
        declared = int(rec.headers.get("Content-Length") or 0)
        return result.value if stop > 0 and decoded < stop + 4 + declared else None
    if magic != _WARC_MAGIC:
        return None
    end = _declared_end(probe, pos)
    if end is None or _at_boundary(probe, end):
        return None
    return end - len(payload) + i


def _embedded_header(payload: bytes) -> int | None:
    """Index of a WARC record header inside ``payload``, or None."""
    if _WARC_MAGIC not in payload:
        return None
    for m in _HEADER_START.finditer(payload):
        block = payload[m.start():m.start() + _HEADER_MAX]
        stop = block.find(b"\r\n\r\n")
        if stop > 0 and b"\r\nWARC-Type:" in block[:stop] and _CONTENT_LENGTH.search(block, 0, stop + 2):
            return m.start()
    return None


class BodyEncodingError(Exception):
    """The HTTP body cannot be decoded; ``reason`` is the skip reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def decode_http_body(payload: bytes, *, transfer_encoding: str | None, content_encoding: str | None,
                     max_bytes: int) -> bytes:
    """Undo ``Transfer-Encoding: chunked`` and ``Content-Encoding`` (gzip, deflate, br, zstd).

    Every decoding step stops at ``max_bytes`` of output, so a chain like ``gzip, gzip``
    (a bomb) costs at most that much memory: :class:`BodyEncodingError` with reason
    ``record_too_large``. Crawlers often store the body already de-chunked or
    decompressed but keep the header, so a body that fails to decode is used as stored
    when it already looks like text; otherwise :class:`BodyEncodingError` says why.
    """
    body = payload
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        try:
            body = _bounded(ChunkedReader(io.BytesIO(body)), max_bytes, "chunked")
        except BodyEncodingError:
            raise
        except Exception:  # not really chunked: keep the body as stored
            body = payload
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):  # applied in the order listed, so undone in reverse
        if coding in ("identity", "none"):
            continue
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise BodyEncodingError("unsupported_content_encoding", coding)
        try:
            body = decoder(body, max_bytes)
        except BodyEncodingError:
            raise
        except Exception as exc:
            if _is_plain_markup(body):
                return body
            raise BodyEncodingError("bad_content_encoding", f"{coding}: {exc}") from exc
    return body


def _bounded(reader: ChunkedReader | GzipReader | BrotliReader | ZstdReader, max_bytes: int, coding: str) -> bytes:
    """At most ``max_bytes`` from a fastwarc stream reader (which decodes as it is read)."""
    out = reader.read(max_bytes + 1)
    if len(out) > max_bytes:
        raise BodyEncodingError("record_too_large", f"{coding}: decodes to over max_record_bytes {max_bytes}")
    return out


def _inflate(body: bytes, max_bytes: int) -> bytes:
    try:
        return _zlib(body, zlib.MAX_WBITS, max_bytes)
    except zlib.error:  # many servers send raw deflate without the zlib header
        return _zlib(body, -zlib.MAX_WBITS, max_bytes)


def _zlib(body: bytes, wbits: int, max_bytes: int) -> bytes:
    d = zlib.decompressobj(wbits)
    out = d.decompress(body, max_bytes + 1)
    if len(out) > max_bytes:
        raise BodyEncodingError("record_too_large", f"deflate: decodes to over max_record_bytes {max_bytes}")
    return out


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": lambda b, n: _bounded(GzipReader(io.BytesIO(b)), n, "gzip"),
    "x-gzip": lambda b, n: _bounded(GzipReader(io.BytesIO(b)), n, "gzip"),
    "deflate": _inflate,
    "br": lambda b, n: _bounded(BrotliReader(io.BytesIO(b)), n, "br"),
    "zstd": lambda b, n: _bounded(ZstdReader(io.BytesIO(b)), n, "zstd"),
}


def _is_plain_markup(body: bytes) -> bool:
    return body[:512].lstrip()[:1] == b"<"
