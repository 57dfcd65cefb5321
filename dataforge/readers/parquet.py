"""Parquet reader: record batches of the needed columns only, one Document per row.

``text_field`` becomes the text, ``id_field`` the id (else ``source/file:row``, rows
counted from 0 as in pyarrow), the other columns (or ``meta_fields``) go into
``meta`` converted to JSON-safe values (timestamps as ISO strings, bytes as base64).

A ``text_field`` the file's schema lacks is fatal (:class:`~.base.FieldNotFound`, with
the columns there are). A file that is not Parquet (damaged footer) or whose text
column is not a string column is skipped whole with ``not_parquet`` /
``text_column_not_string`` (counted, naming the file; the run goes on). A damaged row
group is skipped as ``corrupt_row_group`` (rows already read from it are kept) and
the next one is read. One row costs one row: a text that is not valid UTF-8 is
``invalid_utf8`` (``path:row``), one over ``max_record_bytes`` ``record_too_large``, a
null or blank one ``missing_text`` / ``empty_text``; a meta cell that is not valid
UTF-8 is decoded with U+FFFD.

Big files are read as many tasks, each a run of whole row groups (from the footer).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import AliasChoices, Field

from ..document import Document
from ..io import is_url
from .base import WHOLE, Reader, ReaderParams, Span, field_error, unsplittable


class ParquetParams(ReaderParams):
    """Options of the ``parquet`` reader."""

    # column holding the text (FineWeb, Dolma and HF datasets use "text"); the name every
    # reader uses (jsonl's text_field); text_column, this reader's old name, works too
    text_field: str = Field("text", validation_alias=AliasChoices("text_field", "text_column"))
    # column holding a stable id (FineWeb: "id"); absent -> source/file:row (old name: id_column)
    id_field: str | None = Field("id", validation_alias=AliasChoices("id_field", "id_column"))
    # keep only these other columns in meta (None: all of them; []: none) (old name: meta_columns)
    meta_fields: list[str] | None = Field(None, validation_alias=AliasChoices("meta_fields", "meta_columns"))
    # rows per record batch: bounds memory (1024 x a few KB of text); pyarrow's own
    # default of 65536 rows can hold hundreds of MB of web text at once (at most 2**20 rows).
    batch_size: int = Field(default=1024, ge=1, le=1 << 20)


class ParquetReader(Reader[ParquetParams]):
    """Reads Parquet files in record batches; big files as runs of row groups."""

    Params = ParquetParams
    suffixes = (".parquet",)

    def split(self, path: str, *, size: int, task_bytes: int) -> list[Span]:
        """Runs of whole row groups of about ``task_bytes`` (stored bytes), from the footer."""
        if size <= task_bytes or is_url(path):
            return [WHOLE]
        try:
            meta = pq.read_metadata(path)
        except (OSError, pa.ArrowException, ValueError):
            return [WHOLE]  # the task reports the damage
        groups = [(meta.row_group(g).num_rows, _stored_bytes(meta.row_group(g))) for g in range(meta.num_row_groups)]
        runs: list[tuple[int, int, int]] = []  # (first group, end group, first row)
        row = run_bytes = 0
        for g, (rows, stored) in enumerate(groups):
            if not runs or run_bytes + stored > task_bytes:
                runs.append((g, g + 1, row))
                run_bytes = 0
            runs[-1] = (runs[-1][0], g + 1, runs[-1][2])
            run_bytes += stored
            row += rows
        if len(runs) <= 1:
            unsplittable(path, size, f"{meta.num_row_groups} row group(s); write it with smaller row groups "
                                     "(pyarrow row_group_size) to read it as many tasks")
            return [WHOLE]
        return [Span(a, b, first_record=r, part=k, parts=len(runs)) for k, (a, b, r) in enumerate(runs)]

    def read(self, path: str, span: Span | None = None) -> Iterator[Document]:
        span = span or WHOLE
        try:
            pf = pq.ParquetFile(path)
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            self.skip(path, None, "unreadable_file", str(exc))
            return
        except (OSError, pa.ArrowException, ValueError) as exc:  # bad footer/metadata
            self.skip(path, None, "not_parquet", f"{exc}; the file is damaged or not Parquet")
            return
        with pf:
            columns = self._columns(path, pf.schema_arrow)
            if columns is None:
                return
            meta = pf.metadata
            end = meta.num_row_groups if span.end is None else min(span.end, meta.num_row_groups)
            first_row = sum(meta.row_group(g).num_rows for g in range(min(span.start, end)))
            for group in range(span.start, end):  # one bad row group costs only its rows
                row = first_row
                try:
                    for batch in pf.iter_batches(batch_size=self.params.batch_size, row_groups=[group],
                                                 columns=columns):
                        yield from self._rows(path, batch, row)
                        row += batch.num_rows
                except (OSError, pa.ArrowException, ValueError) as exc:
                    self.skip(path, f"row {row}", "corrupt_row_group", f"row group {group}: {exc}")
                first_row += meta.row_group(group).num_rows

    def _columns(self, path: str, schema: pa.Schema) -> list[str] | None:
        """Columns to read, or None (counted) when the text column is not a string."""
        p = self.params
        names = schema.names
        if p.text_field not in names:
            raise field_error(path, None, option="text_field", name=p.text_field, present=names,
                              what="file's columns", label="columns")
        if not _is_string(schema.field(p.text_field).type):
            self.skip(path, None, "text_column_not_string",
                      f"column {p.text_field!r} is {schema.field(p.text_field).type}; "
                      "set text_field to a string column")
            return None
        keep = names if p.meta_fields is None else [n for n in names if n in p.meta_fields]
        wanted = {p.text_field, *([p.id_field] if p.id_field in names else []), *keep}
        return [n for n in names if n in wanted]  # file order: stable meta key order

    def _rows(self, path: str, batch: pa.RecordBatch, first_row: int) -> Iterator[Document]:
        p = self.params
        arrays = dict(zip(batch.schema.names, batch.columns))
        text_array = arrays.pop(p.text_field)
        texts = _pylist(text_array, strict=True)
        sizes = _sizes(text_array, p.max_record_bytes)
        cols = {name: _pylist(a, strict=False) for name, a in arrays.items()}
        ids = cols.pop(p.id_field, None) if p.id_field else None
        for i, text in enumerate(texts):
            row = first_row + i
            if isinstance(text, UnicodeDecodeError):
                self.skip(path, f"row {row}", "invalid_utf8", str(text))
                continue
            if sizes is not None and sizes[i] > p.max_record_bytes:
                self.skip(path, f"row {row}", "record_too_large",
                          f"{sizes[i]} bytes > max_record_bytes {p.max_record_bytes}")
                continue
            if text is None:
                self.skip(path, f"row {row}", "missing_text")
                continue
            if not isinstance(text, str) or not text.strip():
                self.skip(path, f"row {row}", "empty_text")
                continue
            raw_id = ids[i] if ids is not None else None
            doc_id = str(raw_id) if raw_id is not None and str(raw_id) else self.doc_id(path, row)
            meta = {k: jsonable(v[i]) for k, v in cols.items() if v[i] is not None}
            yield Document(id=doc_id, text=text, source=self.source, meta=meta)


def _stored_bytes(group: pq.RowGroupMetaData) -> int:
    return sum(group.column(c).total_compressed_size for c in range(group.num_columns))


def _pylist(array: pa.Array, *, strict: bool) -> list[Any]:
    """``array.to_pylist()``; where a value is not valid UTF-8, that value alone becomes
    the UnicodeDecodeError (``strict``) or, for a string, its U+FFFD decoding (else None)."""
    try:
        return array.to_pylist()
    except UnicodeDecodeError:
        pass
    out: list[Any] = []
    for i in range(len(array)):
        try:
            out.append(array[i].as_py())
        except UnicodeDecodeError as exc:
            if strict:
                out.append(exc)
            else:
                raw = pc.cast(array.slice(i, 1), pa.large_binary())[0].as_py() if _is_string(array.type) else None
                out.append(raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else None)
    return out


def _sizes(array: pa.Array, limit: int) -> list[int] | None:
    """Byte lengths of a string array's values, or None when none is over ``limit``."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    lengths = pc.binary_length(array)
    top = pc.max(lengths).as_py()
    if top is None or top <= limit:
        return None
    return [n or 0 for n in lengths.to_pylist()]


def _is_string(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def jsonable(value: Any) -> Any:
    """A Parquet cell as a JSON-serialisable value (meta must stay JSON)."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # map columns come back as lists of (key, value) tuples
        return [jsonable(v) for v in value]
    return value
