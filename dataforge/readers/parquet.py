"""Parquet reader: record batches of the needed columns only, one Document per row.

``text_column`` becomes the text, ``id_column`` the id (else ``source/file:row``, rows
counted from 0 as in pyarrow), the other columns (or ``meta_columns``) go into
``meta`` converted to JSON-safe values (timestamps as ISO strings, bytes as base64).

A file that is not Parquet, or has no usable text column, is skipped whole with
``not_parquet`` / ``missing_text_column`` / ``text_column_not_string`` (counted; the
run goes on). A damaged row group is skipped as ``corrupt_row_group`` (rows already
read from it are kept) and the next one is read. Rows with
a null or blank text are skipped as ``missing_text`` / ``empty_text``.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from ..document import Document
from .base import Reader, ReaderParams


class ParquetParams(ReaderParams):
    """Options of the ``parquet`` reader."""

    # column holding the text (FineWeb, Dolma and HF datasets use "text")
    text_column: str = "text"
    # column holding a stable id (FineWeb: "id"); absent -> source/file:row
    id_column: str | None = "id"
    # keep only these other columns in meta (None: all of them; []: none)
    meta_columns: list[str] | None = None
    # rows per record batch: bounds memory (1024 x a few KB of text); pyarrow's own
    # default of 65536 rows can hold hundreds of MB of web text at once.
    batch_size: int = Field(default=1024, gt=0)


class ParquetReader(Reader):
    """Reads Parquet files in record batches."""

    Params = ParquetParams
    suffixes = (".parquet",)

    def read(self, path: str) -> Iterator[Document]:
        p: ParquetParams = self.params  # type: ignore[assignment]
        try:
            pf = pq.ParquetFile(path)
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            self.skip(path, None, "unreadable_file", str(exc))
            return
        except (OSError, pa.ArrowException, ValueError) as exc:  # bad footer/metadata
            self.skip(path, None, "not_parquet", str(exc))
            return
        columns = self._columns(path, pf.schema_arrow, p)
        if columns is None:
            return
        with pf:
            first_row = 0
            for group in range(pf.num_row_groups):  # one bad row group costs only its rows
                row = first_row
                try:
                    for batch in pf.iter_batches(batch_size=p.batch_size, row_groups=[group], columns=columns):
                        yield from self._rows(path, batch, row, p)
                        row += batch.num_rows
                except (OSError, pa.ArrowException, ValueError) as exc:
                    self.skip(path, row, "corrupt_row_group", f"row group {group}: {exc}")
                first_row += pf.metadata.row_group(group).num_rows

    def _columns(self, path: str, schema: pa.Schema, p: ParquetParams) -> list[str] | None:
        """Columns to read, or None (counted) when the text column is unusable."""
        names = schema.names
        if p.text_column not in names:
            self.skip(path, None, "missing_text_column",
                      f"no column {p.text_column!r}; columns are {names}; set text_column")
            return None
        if not _is_string(schema.field(p.text_column).type):
            self.skip(path, None, "text_column_not_string",
                      f"column {p.text_column!r} is {schema.field(p.text_column).type}")
            return None
        keep = names if p.meta_columns is None else [n for n in names if n in p.meta_columns]
        wanted = {p.text_column, *([p.id_column] if p.id_column in names else []), *keep}
        return [n for n in names if n in wanted]  # file order: stable meta key order

    def _rows(self, path: str, batch: pa.RecordBatch, first_row: int, p: ParquetParams) -> Iterator[Document]:
        cols = {name: batch.column(i).to_pylist() for i, name in enumerate(batch.schema.names)}
        texts = cols.pop(p.text_column)
        ids = cols.pop(p.id_column, None) if p.id_column else None
        for i, text in enumerate(texts):
            row = first_row + i
            if text is None:
                self.skip(path, row, "missing_text")
                continue
            if not text.strip():
                self.skip(path, row, "empty_text")
                continue
            raw_id = ids[i] if ids is not None else None
            doc_id = str(raw_id) if raw_id is not None and str(raw_id) else self.doc_id(path, row)
            meta = {k: jsonable(v[i]) for k, v in cols.items() if v[i] is not None}
            yield Document(id=doc_id, text=text, source=self.source, meta=meta)


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
