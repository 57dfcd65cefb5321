"""JSON Lines reader (.jsonl, .jsonl.gz, .jsonl.zst): one object per line, streamed.

``text_field`` becomes the text, ``id_field`` the id (else ``source/file:line``, lines
counted from 1); the other fields go into ``meta`` (all, or the ``meta_fields`` named).
A nested ``meta`` object -- also when it is a JSON *string*, as in RedPajama's C4 --
is parsed and its keys lifted into ``meta``, so ``meta["url"]`` is there either way;
top-level fields win a clash.

Skipped and counted (path:line logged): ``invalid_utf8``, ``bad_json``,
``not_an_object``, ``missing_text_field``, ``text_not_string``, ``empty_text``,
``invalid_unicode`` (lone surrogates), ``record_too_large`` (a line over
``max_record_bytes``, dropped as it streams by). A truncated .gz/.zst is
``truncated_file``; a damaged member/frame is ``corrupt_data`` and reading goes on at
the next good one (what was read before is kept).

A wrong ``text_field`` is fatal (:class:`~.base.FieldNotFound`): when none of the first
100 objects of a file has the field, nothing of the file would be kept.

Big files are read as many tasks: plain files cut at any byte, .gz/.zst with many
members/frames (bgzip, pzstd) at member starts (see :mod:`.lines`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..document import Document
from .base import WHOLE, Reader, ReaderParams, Span, field_error
from .lines import TooLarge, broken_at, count_lines, owned_lines
from .split import split_by_bytes

#: a file whose first this-many objects all lack ``text_field`` has a wrong field name
#: (our choice: 100 objects tell a renamed field from a few damaged records)
FIELD_CHECK_RECORDS = 100


class JsonlParams(ReaderParams):
    """Options of the ``jsonl`` reader."""

    # field holding the document text (Dolma/RedPajama/C4 all use "text")
    text_field: str = "text"
    # field holding a stable id (Dolma: "id"); absent -> source/file:line
    id_field: str | None = "id"
    # keep only these other fields in meta (None: all of them; []: none)
    meta_fields: list[str] | None = None


class FieldCheck:
    """Is ``field`` in any of a file's first ``n`` objects? Raises FieldNotFound if not."""

    def __init__(self, path: str, field: str, *, option: str, n: int = FIELD_CHECK_RECORDS) -> None:
        self.path, self.field, self.option, self.n = path, field, option, n
        self.first_line: int | None = None
        self.seen = 0
        self.keys: set[str] = set()
        self.done = False

    def see(self, record: dict[str, Any], line_no: int) -> None:
        if self.done:
            return
        if self.field in record:
            self.done = True
            return
        self.first_line = line_no if self.first_line is None else self.first_line
        self.seen += 1
        self.keys.update(str(k) for k in record)
        if self.seen >= self.n:
            self.fail()

    def fail(self) -> None:
        self.done = True
        raise field_error(self.path, self.first_line, option=self.option, name=self.field, present=sorted(self.keys))


class JsonlReader(Reader[JsonlParams]):
    """Reads JSON Lines, one Document per line."""

    Params = JsonlParams
    suffixes = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".ndjson")

    def split(self, path: str, *, size: int, task_bytes: int) -> list[Span]:
        return split_by_bytes(path, size=size, task_bytes=task_bytes)

    def count(self, path: str, span: Span) -> int | None:
        return count_lines(path, span)

    def read(self, path: str, span: Span | None = None) -> Iterator[Document]:
        span = span or WHOLE
        p = self.params
        # the field check runs on the file's first records, so in its first part only
        check = FieldCheck(path, p.text_field, option="text_field") if span.part == 0 else None
        line_no = span.first_record - 1
        try:
            for item in owned_lines(path, span, max_bytes=p.max_record_bytes):
                if isinstance(item, bytes):
                    line_no += 1
                    if item.strip():
                        doc = self._parse(path, line_no, item, check)
                        if doc is not None:
                            yield doc
                elif isinstance(item, TooLarge):
                    line_no += 1
                    self.skip(path, line_no, "record_too_large",
                              f"{item.size} bytes > max_record_bytes {p.max_record_bytes}")
                else:
                    where, line_no = broken_at(line_no, item)
                    self.skip(path, where, item.reason, item.detail)
        except OSError as exc:
            self.skip(path, None, "unreadable_file", str(exc))
            return
        if check is not None and not check.done and check.seen:
            if span.end is not None:  # the first part ended early: look on into the file
                check = self._recheck(path)
            if check is not None and not check.done and check.seen:
                check.fail()

    def _recheck(self, path: str) -> FieldCheck:
        """The field check on the file's first objects, wherever its first part ended."""
        check = FieldCheck(path, self.params.text_field, option="text_field")
        for line_no, item in enumerate(owned_lines(path, max_bytes=self.params.max_record_bytes), start=1):
            record = _object(item) if isinstance(item, bytes) else None
            if record is not None:
                check.see(record, line_no)
            if check.done:
                break
        return check

    def _parse(self, path: str, line_no: int, raw: bytes, check: FieldCheck | None) -> Document | None:
        p = self.params
        try:
            line = raw.decode("utf-8-sig")  # -sig: a leading BOM is not JSON
        except UnicodeDecodeError as exc:
            self.skip(path, line_no, "invalid_utf8", str(exc))
            return None
        try:
            record = json.loads(line)
        except ValueError as exc:  # JSONDecodeError, and RecursionError-free bad numbers
            self.skip(path, line_no, "bad_json", str(exc))
            return None
        except RecursionError:
            self.skip(path, line_no, "bad_json", "nested too deeply")
            return None
        if not isinstance(record, dict):
            self.skip(path, line_no, "not_an_object", type(record).__name__)
            return None
        if check is not None:
            check.see(record, line_no)
        text = record.get(p.text_field)
        reason = text_problem(text, p.text_field)
        if reason is None and isinstance(text, str) and "\\u" in line and has_lone_surrogate(text):
            reason = "invalid_unicode"
        if reason is not None or not isinstance(text, str):
            self.skip(path, line_no, reason or "text_not_string", f"field {p.text_field!r}")
            return None
        raw_id = record.get(p.id_field) if p.id_field else None
        doc_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else self.doc_id(path, line_no)
        meta = build_meta(record, exclude={p.text_field, p.id_field}, keep=p.meta_fields)
        return Document(id=doc_id, text=text, source=self.source, meta=meta)


def _object(raw: bytes) -> dict[str, Any] | None:
    """The JSON object on a line, or None."""
    try:
        record = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def text_problem(text: Any, field: str) -> str | None:
    """Why ``text`` cannot be a document's text, or None."""
    if text is None:
        return "missing_text_field"
    if not isinstance(text, str):
        return "text_not_string"
    if not text.strip():
        return "empty_text"
    return None


def has_lone_surrogate(text: str) -> bool:
    """JSON may escape half a surrogate pair (``\\ud800``); such text cannot be written as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def build_meta(record: dict[str, Any], *, exclude: set[str | None], keep: list[str] | None) -> dict[str, Any]:
    """The record's other fields, with a nested ``meta`` object (or JSON string) lifted in."""
    meta: dict[str, Any] = {}
    nested = record.get("meta")
    if isinstance(nested, str) and nested.lstrip().startswith("{"):
        try:
            nested = json.loads(nested)
        except ValueError:
            pass
    if isinstance(nested, dict) and "meta" not in exclude:
        meta.update(nested)
    for key, value in record.items():
        if key in exclude or (key == "meta" and isinstance(nested, dict)):
            continue
        meta[key] = value
    if keep is not None:
        meta = {k: v for k, v in meta.items() if k in keep}
    return meta
