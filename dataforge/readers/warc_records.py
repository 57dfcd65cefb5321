"""WARC records, read robustly: truncated records detected, corrupt stretches skipped.

fastwarc stops at the first corrupt record and silently returns a short payload for a
truncated one. :func:`iter_records` adds what a pipeline needs on top:

* a payload shorter than its ``Content-Length`` is reported as ``truncated_record``;
* a record larger than ``max_bytes`` is reported as ``too_large`` and not read;
* on a parse or decompression error it reports ``corrupt_record`` with the byte
  offset, then scans forward for the next record start (a gzip member for
  ``.warc.gz``, a ``WARC/1.`` line for plain files) and goes on from there. One
  corrupt stretch is counted once, however many restarts it takes to pass it.

Offsets are byte positions in the file as stored (compressed offsets for .warc.gz),
so ``dd``/``fastwarc`` can seek straight to a reported record.
"""

from __future__ import annotations

import io
import logging
import zlib
from collections.abc import Callable, Iterator

from fastwarc.stream_io import BrotliReader, ChunkedReader, GzipReader, ZstdReader
from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

log = logging.getLogger(__name__)

#: called as skip(path, offset, reason, detail) for every record not yielded
SkipFn = Callable[[str, "int | str | None", str, str], None]

_GZIP_MAGIC = b"\x1f\x8b\x08"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_WARC_MAGIC = b"WARC/1."
#: give up on a file after this many restarts (a file of pure garbage ends sooner)
_MAX_RESTARTS = 10_000
_SCAN_CHUNK = 1 << 20


def iter_records(
    path: str,
    record_types: WarcRecordType,
    *,
    parse_http: bool,
    max_bytes: int,
    skip: SkipFn,
) -> Iterator[tuple[WarcRecord, bytes]]:
    """Yield ``(record, payload)`` for complete records of ``record_types``.

    ``payload`` is the record body after the HTTP headers (when ``parse_http``),
    still transfer/content-encoded (see :func:`decode_http_body`). ``record`` is valid
    only until the next item is requested.
    """
    with open(path, "rb") as fh:
        magic = _record_magic(fh.read(4))
        start: int | None = 0
        in_corrupt_stretch = False
        restarts = 0
        while start is not None:
            fh.seek(start)
            last = start - 1  # start offset of the last record parsed in this pass
            try:
                # all types are iterated (and filtered below) so ``last`` tracks every
                # record: a restart then never re-reads a stretch it already passed
                for rec in ArchiveIterator(fh, parse_http=parse_http, auto_decode="none"):
                    last = rec.stream_pos
                    in_corrupt_stretch = False
                    if not rec.record_type & record_types:
                        continue
                    if rec.content_length > max_bytes:
                        skip(path, last, "too_large", f"{rec.content_length} bytes > max_record_bytes {max_bytes}")
                        continue
                    payload = rec.reader.read()
                    if len(payload) < rec.content_length:
                        skip(path, last, "truncated_record", f"{len(payload)} of {rec.content_length} bytes")
                        continue
                    yield rec, payload
                return
            except Exception as exc:  # fastwarc raises OSError; anything else is corrupt data too
                after = max(last, start)
                start = _find(fh, magic, after + 1)
                restarts += 1
                if not in_corrupt_stretch:
                    resume = f"resuming at byte {start}" if start is not None else "rest of file unreadable"
                    skip(path, after, "corrupt_record", f"{exc} (after byte {after}; {resume})")
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


def _find(fh: io.BufferedReader, magic: bytes, pos: int) -> int | None:
    """Offset of the next ``magic`` at or after ``pos``, reading in chunks."""
    fh.seek(pos)
    overlap = b""
    base = pos
    while chunk := fh.read(_SCAN_CHUNK):
        buf = overlap + chunk
        i = buf.find(magic)
        if i >= 0:
            return base - len(overlap) + i
        overlap = buf[-(len(magic) - 1):]
        base += len(chunk)
    return None


class BodyEncodingError(Exception):
    """The HTTP body cannot be decoded; ``reason`` is the skip reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def decode_http_body(payload: bytes, *, transfer_encoding: str | None, content_encoding: str | None) -> bytes:
    """Undo ``Transfer-Encoding: chunked`` and ``Content-Encoding`` (gzip, deflate, br, zstd).

    Crawlers often store the body already de-chunked or decompressed but keep the
    header, so a body that fails to decode is used as stored when it already looks
    like text; otherwise :class:`BodyEncodingError` says why.
    """
    body = payload
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        try:
            body = ChunkedReader(io.BytesIO(body)).read()
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
            body = decoder(body)
        except Exception as exc:
            if _is_plain_markup(body):
                return body
            raise BodyEncodingError("bad_content_encoding", f"{coding}: {exc}") from exc
    return body


def _inflate(body: bytes) -> bytes:
    try:
        return zlib.decompress(body)
    except zlib.error:  # many servers send raw deflate without the zlib header
        return zlib.decompress(body, -zlib.MAX_WBITS)


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda b: GzipReader(io.BytesIO(b)).read(),
    "x-gzip": lambda b: GzipReader(io.BytesIO(b)).read(),
    "deflate": _inflate,
    "br": lambda b: BrotliReader(io.BytesIO(b)).read(),
    "zstd": lambda b: ZstdReader(io.BytesIO(b)).read(),
}


def _is_plain_markup(body: bytes) -> bool:
    return body[:512].lstrip()[:1] == b"<"
