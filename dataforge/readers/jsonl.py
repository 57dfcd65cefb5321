"""JSON Lines reader (.jsonl, .jsonl.gz, .jsonl.zst): one object per line, streamed.

``text_field`` becomes the text, ``id_field`` the id (else ``source/file:line``, lines
counted from 1); the other fields go into ``meta`` (all, or the ``meta_fields`` named).
A nested ``meta`` object -- also when it is a JSON *string*, as in RedPajama's C4 --
is parsed and its keys lifted into ``meta``, so ``meta["url"]`` is there either way;
top-level fields win a clash.

Skipped and counted (path:line logged): ``invalid_utf8``, ``bad_json``,
``not_an_object``, ``missing_text_field``, ``text_not_string``, ``empty_text``,
``invalid_unicode`` (lone surrogates). A truncated or corrupt .gz/.zst ends the file
with ``truncated_file`` (what was read before is kept).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..document import Document
from .base import Reader, ReaderParams
from .lines import TruncatedInput, iter_lines


class JsonlParams(ReaderParams):
    """Options of the ``jsonl`` reader."""

    # field holding the document text (Dolma/RedPajama/C4 all use "text")
    text_field: str = "text"
    # field holding a stable id (Dolma: "id"); absent -> source/file:line
    id_field: str | None = "id"
    # keep only these other fields in meta (None: all of them; []: none)
    meta_fields: list[str] | None = None


class JsonlReader(Reader):
    """Reads JSON Lines, one Document per line."""

    Params = JsonlParams
    suffixes = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".ndjson")

    def read(self, path: str) -> Iterator[Document]:
        p: JsonlParams = self.params  # type: ignore[assignment]
        line_no = 0
        lines = iter_lines(path)
        try:
            for line_no, raw in enumerate(lines, start=1):
                if not raw.strip():
                    continue
                doc = self._parse(path, line_no, raw, p)
                if doc is not None:
                    yield doc
        except OSError as exc:
            self.skip(path, None, "unreadable_file", str(exc))
        except TruncatedInput as exc:
            self.skip(path, line_no + 1, "truncated_file", f"{exc}; rest of file skipped")
        finally:
            lines.close()

    def _parse(self, path: str, line_no: int, raw: bytes, p: JsonlParams) -> Document | None:
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
        text = record.get(p.text_field)
        reason = text_problem(text, p.text_field)
        if reason is None and "\\u" in line and has_lone_surrogate(text):  # type: ignore[arg-type]
            reason = "invalid_unicode"
        if reason is not None:
            self.skip(path, line_no, reason, f"field {p.text_field!r}")
            return None
        raw_id = record.get(p.id_field) if p.id_field else None
        doc_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else self.doc_id(path, line_no)
        meta = build_meta(record, exclude={p.text_field, p.id_field}, keep=p.meta_fields)
        return Document(id=doc_id, text=text, source=self.source, meta=meta)  # type: ignore[arg-type]


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
