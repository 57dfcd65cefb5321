"""The reader contract."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import ClassVar

from ..document import Document
from ..stage import Params
from ..stats import Stats

log = logging.getLogger(__name__)

#: stats label under which readers count what they read and skipped
READ_LABEL = "read"


class ReaderParams(Params):
    """Options every reader has (set inline in an input's mapping in the pipeline file)."""


class Reader:
    """Reads one file at a time into Documents.

    Subclasses set ``Params`` and implement ``read(path)``. A corrupt record is
    reported with ``self.skip(path, where, reason)`` (logged as ``path:where: skipped:
    reason`` and counted as ``skipped.<reason>``) and the stream goes on; a file that
    cannot be read further (truncated gzip) ends that file's stream after a skip.
    Successful documents are counted by the runner (``docs_out``/``bytes_out``).
    """

    Params: ClassVar[type[ReaderParams]] = ReaderParams
    #: file-name suffixes this reader expects (for the plan's warnings; not enforced)
    suffixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: ReaderParams, *, source: str, stats: Stats) -> None:
        self.params = params
        self.source = source
        self.stats = stats

    def read(self, path: str) -> Iterator[Document]:
        raise NotImplementedError

    def skip(
        self, path: str, where: int | str | None, reason: str, detail: str = "", *, quiet: bool = False
    ) -> None:
        """Log and count one skipped record (``reason`` is a short snake_case key).

        ``quiet`` logs at DEBUG instead of WARNING: for expected filtering (a crawl's
        redirects, non-HTML records), which is counted but is not damage.
        """
        loc = f"{path}:{where}" if where is not None else path
        level = logging.DEBUG if quiet else logging.WARNING
        log.log(level, "%s: skipped: %s%s", loc, reason, f" ({detail})" if detail else "")
        self.stats.add(READ_LABEL, self.source, f"skipped.{reason}")

    def doc_id(self, path: str, where: int | str) -> str:
        """The fallback id: ``source/file:line`` (or ``:offset``)."""
        return f"{self.source}/{path}:{where}"
