"""Plain-text reader (.txt, .txt.gz, .txt.zst): a document per file, line or paragraph.

``split: file`` (a book), ``line`` (one article per line, as wiki dumps often are) or
``paragraph`` (blocks separated by blank lines). Ids are ``source/file:line`` with
the 1-based line the document starts on (``:1`` for a whole file). Text is stripped
of surrounding whitespace; empty documents are skipped as ``empty_text``.

Invalid UTF-8 skips that document as ``invalid_utf8`` (``errors: replace`` keeps it
with U+FFFD instead). A truncated .gz/.zst is ``truncated_file``: in ``file`` mode the
document is incomplete and dropped; in the other modes what was read is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from ..document import Document
from .base import Reader, ReaderParams
from .lines import TruncatedInput, iter_blocks, iter_lines


class TextParams(ReaderParams):
    """Options of the ``text`` reader."""

    # what one document is: the whole file, one line, or a blank-line-separated block
    split: Literal["file", "line", "paragraph"] = "file"
    # invalid UTF-8: skip the document (counted) or decode it with U+FFFD replacements
    errors: Literal["skip", "replace"] = "skip"


class TextReader(Reader):
    """Reads plain text files."""

    Params = TextParams
    suffixes = (".txt", ".txt.gz", ".txt.zst", ".md")

    def read(self, path: str) -> Iterator[Document]:
        split = self.params.split  # type: ignore[attr-defined]
        line_no = 0
        try:
            if split == "file":
                yield from self._emit(path, 1, b"".join(iter_blocks(path)))
            elif split == "line":
                for line_no, raw in enumerate(iter_lines(path), start=1):
                    yield from self._emit(path, line_no, raw)
            else:
                for line_no, raw in self._paragraphs(path):
                    yield from self._emit(path, line_no, raw)
        except OSError as exc:
            self.skip(path, None, "unreadable_file", str(exc))
        except TruncatedInput as exc:
            where = line_no + 1 if split != "file" else None
            self.skip(path, where, "truncated_file", f"{exc}; rest of file skipped")

    @staticmethod
    def _paragraphs(path: str) -> Iterator[tuple[int, bytes]]:
        """(first line number, bytes) of each blank-line-separated block."""
        block: list[bytes] = []
        start = 0
        for line_no, raw in enumerate(iter_lines(path), start=1):
            if raw.strip():
                if not block:
                    start = line_no
                block.append(raw)
            elif block:
                yield start, b"".join(block)
                block = []
        if block:
            yield start, b"".join(block)

    def _emit(self, path: str, line_no: int, raw: bytes) -> Iterator[Document]:
        """Zero or one Document from ``raw`` (skips counted)."""
        try:
            text = raw.decode("utf-8-sig")  # -sig: a BOM is not text
        except UnicodeDecodeError as exc:
            if self.params.errors == "skip":  # type: ignore[attr-defined]
                self.skip(path, line_no, "invalid_utf8", str(exc))
                return
            text = raw.decode("utf-8", errors="replace")
        text = text.strip()
        if not text:
            if self.params.split != "paragraph":  # type: ignore[attr-defined]  # blank lines separate paragraphs
                self.skip(path, line_no, "empty_text", quiet=True)
            return
        yield Document(id=self.doc_id(path, line_no), text=text, source=self.source)
