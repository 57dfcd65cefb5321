"""WARC (.warc, .warc.gz) and WET readers: crawl records in, plain-text Documents out.

``warc``: HTTP ``response`` records with status 200 and an HTML content type, decoded
(charset from the server when it holds, else detected) and extracted to text with
resiliparse (default) or trafilatura, under a per-page time limit. ``wet``: the
``conversion`` records of a Common Crawl WET file, whose text is already extracted.

Every record not turned into a Document is counted as ``skipped.<reason>`` under the
``read`` stats label: ``http_3xx``/``http_4xx``/``http_5xx``/``http_status_unknown``,
``not_html``, ``not_http``, ``record_too_large`` (a payload, or a body decoded by its
Content-Encoding/Transfer-Encoding, over ``max_record_bytes``), ``truncated_record``,
``warc_length_overrun``, ``corrupt_record``, ``bad_content_encoding``,
``unsupported_content_encoding``, ``empty_extraction``, ``extract_timeout``,
``extract_error``, ``empty_text``. Expected filtering (status, type, empty pages) is
logged at DEBUG; damage (corrupt, truncated) at WARNING.

Big files are read as many tasks: a .warc.gz of one gzip member per record (the
standard layout) at member starts, a plain .warc at record starts; ids do not depend
on it (record ids, or byte offsets).

Document: ``id`` = the WARC-Record-ID (``source/file:offset`` if absent); ``meta``
has ``url``, ``date`` (WARC-Date), ``content_type`` (HTTP mime type) and
``warc_record_id``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import ClassVar, TypeVar

from fastwarc.warc import WarcRecord, WarcRecordType
from pydantic import Field

from ..document import Document
from ..stats import Stats
from .base import WHOLE, Reader, ReaderParams, Span, unsplittable
from .compressed import kind_of
from .extract import ExtractOptions, HtmlExtractor, decode_html, looks_like_html
from .split import split_by_bytes
from .warc_records import BodyEncodingError, decode_http_body, iter_records

log = logging.getLogger(__name__)

#: filtering outcomes that are normal for a crawl: logged quietly, still counted
_EXPECTED = frozenset({"not_html", "empty_extraction", "empty_text"})


class WarcParams(ReaderParams, ExtractOptions):
    """Options of the ``warc`` reader (plus the extraction options)."""

    # HTTP content types treated as HTML (datatrove's WarcReader keeps text/html only;
    # XHTML is HTML to both extractors).
    content_types: list[str] = ["text/html", "application/xhtml+xml"]
    # records with a longer payload (or body, once decoded) are skipped unread (Common
    # Crawl truncates at 1 MiB, so 10 MiB only stops pathological non-CC captures).
    max_record_bytes: int = Field(default=10 * 1024 * 1024, ge=1)


class WetParams(ReaderParams):
    """Options of the ``wet`` reader."""

    # same cap as WarcParams.max_record_bytes
    max_record_bytes: int = Field(default=10 * 1024 * 1024, ge=1)


W = TypeVar("W", WarcParams, WetParams)


def _record_meta(rec: WarcRecord) -> dict[str, str]:
    headers = rec.headers
    meta = {
        "url": _unbracket(headers.get("WARC-Target-URI") or ""),
        "date": headers.get("WARC-Date") or "",
        "warc_record_id": _unbracket(headers.get("WARC-Record-ID") or ""),
    }
    return {k: v for k, v in meta.items() if v}


def _unbracket(value: str) -> str:
    """WARC 1.0 writes URIs as ``<...>`` (wget does); the value inside is what we keep."""
    value = value.strip()
    return value[1:-1] if value.startswith("<") and value.endswith(">") else value


def status_reason(status: int | None) -> str | None:
    """None for HTTP 200, else the skip reason for the status class."""
    if status == 200:
        return None
    if status is None or not 100 <= status <= 599:
        return "http_status_unknown"
    return f"http_{status // 100}xx"


class _RecordReader(Reader[W]):
    """Common plumbing: cut files at records, iterate records, count what is not kept."""

    record_types: ClassVar[WarcRecordType]
    parse_http: ClassVar[bool]

    def split(self, path: str, *, size: int, task_bytes: int) -> list[Span]:
        if kind_of(path) == "zstd":
            if size > task_bytes:
                unsplittable(path, size, "zstd WARCs are read whole")
            return [WHOLE]
        return split_by_bytes(path, size=size, task_bytes=task_bytes)

    def _skip(self, path: str, offset: int | str | None, reason: str, detail: str = "") -> None:
        self.skip(path, offset, reason, detail, quiet=reason in _EXPECTED or reason.startswith("http_"))

    def _records(self, path: str, span: Span | None) -> Iterator[tuple[WarcRecord, bytes]]:
        try:
            yield from iter_records(path, self.record_types, parse_http=self.parse_http,
                                    max_bytes=self.params.max_record_bytes, skip=self._skip, span=span or WHOLE)
        except OSError as exc:  # the file itself cannot be opened
            self.skip(path, None, "unreadable_file", str(exc))

    def _document(self, path: str, rec: WarcRecord, text: str, meta: dict[str, str]) -> Document:
        doc_id = meta.get("warc_record_id") or self.doc_id(path, rec.stream_pos)
        return Document(id=doc_id, text=text, source=self.source, meta=meta)


class WarcReader(_RecordReader[WarcParams]):
    """HTML responses of a WARC file, extracted to text."""

    Params = WarcParams
    suffixes = (".warc", ".warc.gz", ".warc.zst")
    record_types = WarcRecordType.response
    parse_http = True

    def __init__(self, params: WarcParams, *, source: str, stats: Stats) -> None:
        super().__init__(params, source=source, stats=stats)
        self.extractor = HtmlExtractor(params)
        self._html_types = {t.lower() for t in params.content_types}

    def read(self, path: str, span: Span | None = None) -> Iterator[Document]:
        try:
            yield from self._read(path, span)
        finally:
            self.extractor.close()  # no extractor process outlives a file

    def _read(self, path: str, span: Span | None) -> Iterator[Document]:
        for rec, payload in self._records(path, span):
            offset = rec.stream_pos
            http = rec.http_headers
            if http is None:  # a response record that is not an HTTP message
                self._skip(path, offset, "not_http", rec.headers.get("Content-Type") or "")
                continue
            reason = status_reason(http.status_code)
            if reason is not None:
                self._skip(path, offset, reason, http.status_line or "")
                continue
            mime = (rec.http_content_type or "").lower()
            if mime and mime not in self._html_types:  # decided before any decompression
                self._skip(path, offset, "not_html", mime)
                continue
            try:
                body = decode_http_body(
                    payload,
                    transfer_encoding=http.get("Transfer-Encoding"),
                    content_encoding=http.get("Content-Encoding"),
                    max_bytes=self.params.max_record_bytes,
                )
            except BodyEncodingError as exc:
                self._skip(path, offset, exc.reason, str(exc))
                continue
            if not mime and not looks_like_html(body):  # untyped response: sniff it
                self._skip(path, offset, "not_html", "no content type")
                continue
            result = self.extractor.extract(decode_html(body, rec.http_charset))
            if result.text is None:
                self._skip(path, offset, result.reason or "extract_error", result.detail)
                continue
            meta = _record_meta(rec)
            meta["content_type"] = mime or "text/html"
            yield self._document(path, rec, result.text, meta)


class WetReader(_RecordReader[WetParams]):
    """``conversion`` records of a WET file: text as extracted by the crawler."""

    Params = WetParams
    suffixes = (".warc.wet", ".warc.wet.gz", ".wet.gz")
    record_types = WarcRecordType.conversion
    parse_http = False

    def read(self, path: str, span: Span | None = None) -> Iterator[Document]:
        for rec, payload in self._records(path, span):
            text = payload.decode("utf-8", errors="replace").strip()
            if not text:
                self._skip(path, rec.stream_pos, "empty_text")
                continue
            meta = _record_meta(rec)
            content_type = rec.headers.get("Content-Type")
            if content_type:
                meta["content_type"] = content_type
            yield self._document(path, rec, text, meta)
