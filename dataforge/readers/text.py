"""Plain-text reader (.txt, .txt.gz, .txt.zst): a document per file, line or paragraph.

``split: file`` (a book), ``line`` (one article per line, as wiki dumps often are) or
``paragraph`` (blocks separated by blank lines). Ids are ``source/file:line`` with
the 1-based line the document starts on (``:1`` for a whole file). Text is stripped
of surrounding whitespace; empty documents are skipped as ``empty_text``.

Invalid UTF-8 skips that document as ``invalid_utf8`` (``errors: replace`` keeps it
with U+FFFD instead). A document over ``max_record_bytes`` is ``record_too_large``
(never held whole). A truncated .gz/.zst is ``truncated_file`` (a damaged member
``corrupt_data``): in ``file`` mode the document is incomplete and dropped; in the
other modes what was read is kept.

``split: line`` files are read as many tasks when big (like JSONL); ``file`` and
``paragraph`` files are read whole, as one task each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from ..document import Document
from .base import WHOLE, Reader, ReaderParams, Span, unsplittable
from .compressed import Gap, pieces
from .lines import TooLarge, broken_at, count_lines, owned_lines
from .split import split_by_bytes


class TextParams(ReaderParams):
    """Options of the ``text`` reader."""

    # what one document is: the whole file, one line, or a blank-line-separated block
    split: Literal["file", "line", "paragraph"] = "file"
    # invalid UTF-8: skip the document (counted) or decode it with U+FFFD replacements
    errors: Literal["skip", "replace"] = "skip"


class TextReader(Reader[TextParams]):
    """Reads plain text files."""

    Params = TextParams
    suffixes = (".txt", ".txt.gz", ".txt.zst", ".md")

    def split(self, path: str, *, size: int, task_bytes: int) -> list[Span]:
        if self.params.split == "line":
            return split_by_bytes(path, size=size, task_bytes=task_bytes)
        if size > task_bytes:
            unsplittable(path, size, f"split: {self.params.split} reads a file whole")
        return [WHOLE]

    def count(self, path: str, span: Span) -> int | None:
        return count_lines(path, span)

    def read(self, path: str, span: Span | None = None) -> Iterator[Document]:
        span = span or WHOLE
        try:
            if self.params.split == "file":
                yield from self._file(path)
            else:
                yield from self._lines(path, span)
        except OSError as exc:
            self.skip(path, None, "unreadable_file", str(exc))

    def _file(self, path: str) -> Iterator[Document]:
        limit = self.params.max_record_bytes
        held: list[bytes] = []
        size = 0
        for item in pieces(path):
            if isinstance(item, Gap):
                self.skip(path, None, item.reason, f"{item.detail}; the document is incomplete")
                return
            size += len(item.data)
            if size > limit:
                self.skip(path, None, "record_too_large", f"over max_record_bytes {limit}")
                return
            held.append(item.data)
        yield from self._emit(path, 1, b"".join(held))

    def _lines(self, path: str, span: Span) -> Iterator[Document]:
        """Documents of ``split: line`` and ``split: paragraph``."""
        limit = self.params.max_record_bytes
        paragraphs = self.params.split == "paragraph"
        block: list[bytes] = []  # the paragraph so far
        block_size, start = 0, 0
        line_no = span.first_record - 1
        for item in owned_lines(path, span, max_bytes=limit):
            if isinstance(item, bytes):
                line_no += 1
                if not paragraphs:
                    yield from self._emit(path, line_no, item)
                elif item.strip():
                    start = start or line_no
                    block_size += len(item) + 1
                    block.append(item)
                    if block_size > limit:
                        block = []  # too large: keep counting its size, hold nothing
                elif start:
                    yield from self._paragraph(path, start, block, block_size)
                    block, block_size, start = [], 0, 0
                continue
            if isinstance(item, TooLarge):
                line_no += 1
                if paragraphs:  # the paragraph it is in becomes too large
                    start = start or line_no
                    block, block_size = [], block_size + item.size + 1
                else:
                    self.skip(path, line_no, "record_too_large", f"{item.size} bytes > max_record_bytes {limit}")
                continue
            where, line_no = broken_at(line_no, item)
            self.skip(path, where, item.reason, item.detail)
        if start:
            yield from self._paragraph(path, start, block, block_size)

    def _paragraph(self, path: str, start: int, block: list[bytes], size: int) -> Iterator[Document]:
        if size > self.params.max_record_bytes:
            self.skip(path, start, "record_too_large", f"paragraph over max_record_bytes {self.params.max_record_bytes}")
            return
        yield from self._emit(path, start, b"\n".join(block))

    def _emit(self, path: str, line_no: int, raw: bytes) -> Iterator[Document]:
        """Zero or one Document from ``raw`` (skips counted)."""
        try:
            text = raw.decode("utf-8-sig")  # -sig: a BOM is not text
        except UnicodeDecodeError as exc:
            if self.params.errors == "skip":
                self.skip(path, line_no, "invalid_utf8", str(exc))
                return
            text = raw.decode("utf-8", errors="replace")
        text = text.strip()
        if not text:
            if self.params.split != "paragraph":  # blank lines separate paragraphs
                self.skip(path, line_no, "empty_text", quiet=True)
            return
        yield Document(id=self.doc_id(path, line_no), text=text, source=self.source)
