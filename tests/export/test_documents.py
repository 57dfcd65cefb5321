"""The rule that turns packed rows back into documents (dataforge/export/documents.py), on inline rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from dataforge.export.documents import DocumentCutter, document_lengths, real_tokens, starts_in_stream
from dataforge.export.source import Chunk, ExportError


def chunk(rows: list[list[int]], starts: list[list[int]], lengths: list[int] | None = None,
          first_row: int = 0) -> Chunk:
    tokens = np.asarray(rows, dtype=np.uint16)
    offsets = np.concatenate(([0], np.cumsum([len(s) for s in starts]))).astype(np.int64)
    return Chunk(path=Path("t.arrow"), first_row=first_row, tokens=tokens,
                 lengths=np.asarray(lengths or [tokens.shape[1]] * len(rows), dtype=np.uint32),
                 start_offsets=offsets, start_values=np.asarray([v for s in starts for v in s], dtype=np.uint32),
                 mask=None, table=pa.table({"x": [0] * len(rows)}))


def test_a_document_crossing_rows_is_joined_in_order() -> None:
    # docs: [1 2 3 4 5 0] [6 0] [7 8 9 ...: rows of 4
    c = chunk([[1, 2, 3, 4], [5, 0, 6, 0], [7, 8, 9, 9]], [[0], [2], [0]])
    cutter = DocumentCutter()
    assert document_lengths(c, cutter, every_row=False).tolist() == [6, 2]
    # the next chunk (next shard) continues the open document, then one starts at 1
    c2 = chunk([[9, 0, 5, 5]], [[2]])
    assert document_lengths(c2, cutter, every_row=False).tolist() == [4 + 2]
    assert cutter.close().tolist() == [2]


def test_shuffled_rows_cut_at_every_row_start() -> None:
    c = chunk([[1, 2, 3, 4], [5, 0, 6, 0], [7, 8, 9, 9]], [[0], [2], [0]])
    cutter = DocumentCutter()
    assert document_lengths(c, cutter, every_row=True).tolist() == [4, 2, 2]
    assert cutter.close().tolist() == [4]


def test_a_row_with_no_start_continues_the_document_whole() -> None:
    c = chunk([[1, 2, 3, 4], [5, 6, 7, 8], [9, 0, 1, 0]], [[0], [], [2]])
    cutter = DocumentCutter()
    assert document_lengths(c, cutter, every_row=False).tolist() == [10]
    assert cutter.close().tolist() == [2]
    assert document_lengths(c, DocumentCutter(), every_row=True).tolist() == [4, 4, 2]


def test_padding_is_not_part_of_the_stream() -> None:
    c = chunk([[1, 2, 0, 0], [3, 4, 5, 0]], [[0], [0]], lengths=[2, 3])
    assert real_tokens(c).tolist() == [1, 2, 3, 4, 5]
    assert starts_in_stream(c, every_row=True).tolist() == [0, 2]
    full = chunk([[1, 2], [3, 4]], [[0], [1]])
    assert np.shares_memory(real_tokens(full), full.tokens)  # full rows: no copy


def test_a_stream_that_opens_mid_document_keeps_the_piece() -> None:
    cutter = DocumentCutter()
    assert document_lengths(chunk([[1, 2, 0, 3]], [[3]]), cutter, every_row=False).tolist() == [3]
    assert cutter.close().tolist() == [1]


@pytest.mark.parametrize("bad", [4, 9])
def test_a_start_in_the_padding_is_refused_with_the_row(bad: int) -> None:
    c = chunk([[1, 2, 3, 4], [1, 2, 0, 0]], [[0], [0, bad]], lengths=[4, 4 if bad > 4 else 2], first_row=10)
    with pytest.raises(ExportError, match=r"t\.arrow: row 11: doc_starts has"):
        starts_in_stream(c, every_row=False)
