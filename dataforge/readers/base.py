"""The reader contract: one input file (or one part of it) -> a stream of Documents.

Big files are read as many tasks. The runner asks the reader, in the driver, how to
cut a file (:meth:`Reader.split`: cheap, never a scan), asks each part in a worker how
many records start in it (:meth:`Reader.count`), numbers the parts by a prefix sum
(:func:`number_spans`), and reads each part as its own task (:meth:`Reader.read`).
Document ids and skip messages are the same whichever way a file was cut.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Generic, TypeVar

from pydantic import Field

from ..document import Document
from ..errors import ConfigError
from ..stage import Params
from ..stats import Stats

log = logging.getLogger(__name__)

#: stats label under which readers count what they read and skipped
READ_LABEL = "read"


class ReaderParams(Params):
    """Options every reader has (set inline in an input's mapping in the pipeline file)."""

    # a record (line, row, WARC payload, decoded HTTP body, whole text file) longer than
    # this is skipped as record_too_large and never held in memory whole. Our choice:
    # 64 MiB is far above any real document (Common Crawl truncates pages at 1 MiB) and
    # small enough that a worker survives a decompression bomb.
    max_record_bytes: int = Field(default=64 * 1024 * 1024, ge=1)


P = TypeVar("P", bound=ReaderParams)


@dataclass(frozen=True)
class Span:
    """The part of one input file that one task reads.

    ``start``/``end`` are byte offsets (Parquet: row-group indices); a part owns the
    records that *start* in ``[start, end)`` (``end`` None: to the end of the file).
    ``first_record`` numbers the part's first record (line number, row index) for
    fallback ids and messages: exact from :meth:`Reader.split` when the file's index
    says so (Parquet), else fixed by :func:`number_spans` from :meth:`Reader.count`.
    """

    start: int
    end: int | None
    first_record: int = 1
    part: int = 0
    parts: int = 1

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end is None


WHOLE = Span(0, None)


def byte_spans(size: int, task_bytes: int) -> list[Span]:
    """``ceil(size / task_bytes)`` parts of (nearly) equal size; the last runs to the end."""
    if task_bytes < 1:
        raise ConfigError(f"task_bytes must be at least 1 (got {task_bytes})")
    parts = max(1, -(-size // task_bytes))
    if parts == 1:
        return [WHOLE]
    cuts = [size * k // parts for k in range(parts)]
    ends: list[int | None] = [*cuts[1:], None]
    return [Span(start, end, part=k, parts=parts) for k, (start, end) in enumerate(zip(cuts, ends))]


def number_spans(spans: Sequence[Span], counts: Sequence[int | None]) -> list[Span]:
    """Fix each part's ``first_record`` by a prefix sum of the records counted in the
    parts before it (``counts[k]`` from :meth:`Reader.count` on ``spans[k]``). When the
    reader returned None (its :meth:`Reader.split` numbered the parts already), the
    spans are returned as they are."""
    if len(spans) != len(counts):
        raise ValueError(f"{len(spans)} spans but {len(counts)} counts")
    if any(c is None for c in counts):
        return list(spans)
    out: list[Span] = []
    first = spans[0].first_record if spans else 1
    for span, n in zip(spans, counts):
        out.append(replace(span, first_record=first))
        first += int(n or 0)
    return out


class FieldNotFound(ConfigError):
    """The pipeline names a text field/column the input's records do not have.

    Found while reading (the first records of a file, or a Parquet schema), but it is
    the pipeline file that is wrong, so it is fatal like any ConfigError: every record
    would be skipped and the run would end "successfully" with no output. Picklable
    (one message argument), so it crosses process and Ray boundaries intact.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)


def field_error(path: str, where: int | None, *, option: str, name: str, present: Sequence[str],
                what: str = "records", label: str = "fields") -> FieldNotFound:
    """``path:where: <option> 'x' is not in the records (did you mean 'y'? fields: a, b)``."""
    fields = sorted(set(present))
    close = difflib.get_close_matches(name, fields, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    loc = f"{path}:{where}" if where is not None else path
    listing = ", ".join(fields) if fields else "none"
    return FieldNotFound(f"{loc}: {option} {name!r} is not in the {what} ({hint}{label}: {listing}); "
                         f"set {option} in this input's options")


class Reader(Generic[P]):
    """Reads one file, or one part of it, into Documents.

    Subclasses set ``Params`` and implement ``read(path, span)``; files they can cut
    into parts also implement ``split`` and ``count``. A corrupt record is reported
    with ``self.skip(path, where, reason)`` (logged as ``path:where: skipped: reason``
    and counted as ``skipped.<reason>``) and the stream goes on. Successful documents
    are counted by the runner (``docs_out``/``bytes_out``).
    """

    Params: ClassVar[type[ReaderParams]] = ReaderParams
    #: file-name suffixes this reader expects (for the plan's warnings; not enforced)
    suffixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: P, *, source: str, stats: Stats) -> None:
        self.params: P = params
        self.source = source
        self.stats = stats

    def split(self, path: str, *, size: int, task_bytes: int) -> list[Span]:
        """How to cut ``path`` (``size`` bytes) into parts of about ``task_bytes``.

        Runs in the driver, so it is cheap: a stat, a Parquet footer, a few small reads,
        never a scan. ``[WHOLE]`` when the file is small or cannot be cut (logged as a
        warning naming the file and why, when it is larger than ``task_bytes``).
        """
        if size > task_bytes:
            unsplittable(path, size, "this reader reads whole files")
        return [WHOLE]

    def count(self, path: str, span: Span) -> int | None:
        """How many records (lines, rows) start in ``span``, for :func:`number_spans`.
        Runs in a worker, for parts of a cut file only. None when ``split`` numbered
        the parts itself (Parquet row groups, WARC records named by offset)."""
        return None

    def read(self, path: str, span: Span | None = None) -> Iterator[Document]:
        """The documents of the records that start in ``span`` (None: the whole file)."""
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


def unsplittable(path: str, size: int, why: str) -> None:
    """Warn that a big file runs as one task, and why."""
    log.warning("%s: %d bytes, read as one task: %s", path, size, why)
