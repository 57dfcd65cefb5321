"""The ``extract_html`` stage: documents whose text is raw HTML -> plain text.

For inputs that carry HTML in a field (e.g. a JSONL dump of crawled pages read with
``text_field: html``). Same extractor (``fast`` by default), options and time limit as
the ``warc`` reader. A page whose extraction fails, times out, crashes the extractor or
comes out empty is dropped and counted as ``dropped.<reason>`` (``empty_extraction``,
``extract_timeout``, ``extract_error``, ``extract_crash``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

from ..document import Document
from ..stage import Stage, TaskContext
from .extract import ExtractOptions, HtmlExtractor


class ExtractHtmlParams(ExtractOptions):
    """Options of the ``extract_html`` stage (the extraction options only)."""


class ExtractHtml(Stage[ExtractHtmlParams]):
    """Replace each document's HTML text with its extracted plain text."""

    Params: ClassVar[type[ExtractHtmlParams]] = ExtractHtmlParams
    #: the drop reasons it counts (stats.json dropped.<reason>) and what each means
    reasons: ClassVar[dict[str, str]] = {
        "empty_extraction": "the extractor found no main text in the page",
        "extract_timeout": "extraction took longer than `extract_timeout` seconds (the page's child process was killed)",
        "extract_error": "the extractor raised an error on the page",
        "extract_crash": "the extraction process died on the page (isolation: process)",
    }
    rewrites_text: ClassVar[bool] = True

    def __init__(self, params: ExtractHtmlParams, ctx: TaskContext) -> None:
        super().__init__(params, ctx)
        self.extractor = HtmlExtractor(params)

    def process(self, docs: Iterable[Document]) -> Iterator[Document]:
        for doc in docs:
            result = self.extractor.extract(doc.text)
            if result.text is None:
                reason = result.reason or "extract_error"
                self.ctx.log.debug("%s: dropped: %s %s", doc.id, reason, result.detail)
                self.dropped(doc, reason)
                continue
            doc.text = result.text
            yield doc

    def close(self) -> None:
        self.extractor.close()
        super().close()
