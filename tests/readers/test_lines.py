"""Streaming lines out of plain/.gz/.zst files, and noticing truncation."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import zstandard

from dataforge.readers.lines import TruncatedInput, iter_lines


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
def test_lines_match_splitlines_across_block_boundaries(tmp_path: Path, data_dir: Path, suffix: str) -> None:
    raw = (data_dir / "wiki/wiki_demo.txt").read_bytes()
    path = tmp_path / f"w.txt{suffix}"
    packed = {"": raw, ".gz": gzip.compress(raw), ".zst": zstandard.ZstdCompressor().compress(raw)}[suffix]
    path.write_bytes(packed)
    assert list(iter_lines(str(path), block=1000)) == raw.splitlines(keepends=True)  # lines span blocks
    assert list(iter_lines(str(path))) == raw.splitlines(keepends=True)


def test_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"a\nb")
    assert list(iter_lines(str(path))) == [b"a\n", b"b"]


def test_truncated_gzip_raises_after_the_complete_lines(tmp_path: Path, data_dir: Path) -> None:
    raw = gzip.compress((data_dir / "wiki/wiki_demo.txt").read_bytes())
    path = tmp_path / "w.txt.gz"
    path.write_bytes(raw[: len(raw) // 2])
    got = []
    with pytest.raises(TruncatedInput, match="gzip"):
        for line in iter_lines(str(path)):
            got.append(line)
    assert got and all(line.endswith(b"\n") for line in got)
