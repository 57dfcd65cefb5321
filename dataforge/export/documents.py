"""What a "document" is when packed rows are turned back into documents (Megatron's sequences).

The token stream of a split is every row's real tokens (``row[:length]``: padding is not
part of it), rows in manifest order. A document starts where a shard's ``doc_starts`` says
one starts, and ends where the next one starts:

* **EOS stays inside its document.** dataforge appends EOS to every document before packing
  (as Megatron's ``preprocess_data.py --append-eod`` does), so a document's last token is
  its EOS; boundaries come from ``doc_starts`` only, never from finding EOS tokens (an EOS id
  may also stand inside a text).
* **A document cut across rows is joined back** when the rows are in stream order (concat
  packing with ``shuffle: false`` in the manifest): the piece that opens a row without a
  ``doc_starts`` entry at 0 continues the previous row's last document, across shard files.
* **Shuffled rows cannot be joined** (the row that held a document's beginning is somewhere
  else): every row start is also a boundary, so a document cut by the packer stays in
  pieces, each its own document. Pad packing (one document per row, SFT included) also cuts
  at every row: a document truncated to ``seq_len`` is the part that was kept.
* The last document of a split may be cut short: the packer drops the tail that does not
  fill a row (the manifest's ``tokens_dropped_tail``).

Everything here is pure and vectorised over a chunk of rows; ``DocumentCutter`` carries the
one open document from chunk to chunk (and shard to shard), so memory stays constant.
"""

from __future__ import annotations

import numpy as np

from .source import Chunk, ExportError


def real_tokens(chunk: Chunk) -> np.ndarray:
    """The chunk's part of the token stream: each row's first ``length`` tokens, end to end.

    A view (no copy) when every row is full, as with concat packing."""
    tokens, lengths = chunk.tokens, chunk.lengths
    seq_len = tokens.shape[1]
    if lengths.size and int(lengths.min()) == seq_len:
        return tokens.reshape(-1)
    return tokens[np.arange(seq_len)[None, :] < lengths[:, None]]


def real_mask(chunk: Chunk) -> np.ndarray:
    """The loss mask of ``real_tokens`` (SFT shards), aligned token for token."""
    if chunk.mask is None:
        raise ValueError("real_mask needs an SFT chunk")
    seq_len = chunk.tokens.shape[1]
    return chunk.mask[np.arange(seq_len)[None, :] < chunk.lengths[:, None]]


def starts_in_stream(chunk: Chunk, *, every_row: bool) -> np.ndarray:
    """Sorted positions, in the chunk's part of the stream, where a document begins.

    ``every_row`` adds each row's first token (rows not in stream order, or pad packing).
    A ``doc_starts`` entry at or past its row's length is refused: it would start a
    document in the padding."""
    lengths = chunk.lengths.astype(np.int64)
    n = lengths.shape[0]
    base = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1], out=base[1:])
    counts = np.diff(chunk.start_offsets)
    row_of = np.repeat(np.arange(n), counts)
    values = chunk.start_values.astype(np.int64)
    bad = np.flatnonzero(values >= lengths[row_of])
    if bad.size:
        r = int(row_of[bad[0]])
        raise ExportError(f"{chunk.path}: row {chunk.first_row + r}: doc_starts has {int(values[bad[0]])}, "
                          f"at or past the row's {int(lengths[r])} real tokens; rewrite the output with dataforge")
    pos = base[row_of] + values
    if every_row:
        pos = np.concatenate((pos, base[lengths > 0]))
    return np.unique(pos)


class DocumentCutter:
    """Turns document starts in consecutive chunks of one stream into document lengths."""

    def __init__(self) -> None:
        self.open = 0  # tokens of the document still open at the end of the last chunk

    def feed(self, total: int, starts: np.ndarray) -> np.ndarray:
        """Lengths of the documents that end inside a chunk of ``total`` stream tokens whose
        documents begin at ``starts`` (sorted, chunk-local)."""
        if starts.size == 0:
            self.open += total
            return np.zeros(0, dtype=np.int64)
        first = self.open + int(starts[0])
        inner = np.diff(starts).astype(np.int64)
        self.open = total - int(starts[-1])
        return np.concatenate(([first], inner)) if first > 0 else inner

    def close(self) -> np.ndarray:
        """The last document's length (the stream's end closes it)."""
        last, self.open = self.open, 0
        return np.asarray([last] if last > 0 else [], dtype=np.int64)


def document_lengths(chunk: Chunk, cutter: DocumentCutter, *, every_row: bool) -> np.ndarray:
    """``cutter.feed`` for one chunk: the documents that end in it."""
    return cutter.feed(int(chunk.lengths.astype(np.int64).sum()), starts_in_stream(chunk, every_row=every_row))
