"""Lines a part of a file owns: plain/.gz/.zst, huge lines, damage, and the compat iter_lines."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest
import zstandard

from dataforge.readers.base import Span
from dataforge.readers.lines import Broken, TooLarge, TruncatedInput, count_lines, iter_lines, owned_lines

PACK = {"": lambda b: b, ".gz": gzip.compress, ".zst": zstandard.ZstdCompressor().compress}


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
def test_whole_file_lines_match_split(tmp_path: Path, data_dir: Path, suffix: str) -> None:
    raw = (data_dir / "wiki/wiki_demo.txt").read_bytes()
    path = tmp_path / f"w.txt{suffix}"
    path.write_bytes(PACK[suffix](raw))
    want = raw.split(b"\n")[:-1]  # the file ends with a newline
    assert list(owned_lines(str(path))) == want
    assert count_lines(str(path)) == len(want)
    assert list(iter_lines(str(path))) == raw.splitlines(keepends=True)  # compat: with newlines


def test_last_line_without_newline_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"a\n\n\nb")
    assert list(owned_lines(str(path))) == [b"a", b"", b"", b"b"]
    assert count_lines(str(path)) == 4
    assert list(iter_lines(str(path))) == [b"a\n", b"\n", b"\n", b"b"]


def test_plain_parts_follow_the_hadoop_rule(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"aaa\nbbb\nccc\n")  # lines start at bytes 0, 4, 8
    # a part owns the lines whose first byte it holds, and reads the one crossing its end
    assert list(owned_lines(str(path), Span(0, 4))) == [b"aaa"]
    assert list(owned_lines(str(path), Span(0, 5))) == [b"aaa", b"bbb"]
    assert list(owned_lines(str(path), Span(4, 5))) == [b"bbb"]
    assert list(owned_lines(str(path), Span(5, 8))) == []
    assert list(owned_lines(str(path), Span(5, None))) == [b"ccc"]
    assert [count_lines(str(path), Span(a, b)) for a, b in [(0, 4), (0, 5), (4, 5), (5, 8), (5, None)]] == [1, 2, 1, 0, 1]


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
def test_a_huge_line_is_cut_not_assembled(tmp_path: Path, suffix: str) -> None:
    huge = b"x" * 300_000
    raw = b"first\n" + huge + b"\nlast\n"
    path = tmp_path / f"h.txt{suffix}"
    path.write_bytes(PACK[suffix](raw))
    got = list(owned_lines(str(path), max_bytes=1000))
    assert got == [b"first", TooLarge(300_000), b"last"]
    assert list(owned_lines(str(path), max_bytes=300_000)) == [b"first", huge, b"last"]  # at the limit: kept
    assert count_lines(str(path)) == 3


def test_gzip_bomb_line_stays_in_bounded_memory(tmp_path: Path) -> None:
    # 1 GiB of one line in a ~1 MB member: read in pieces of at most 256 KiB
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    path = tmp_path / "bomb.txt.gz"
    with path.open("wb") as out:
        out.write(comp.compress(b"before\n"))
        block = b"a" * (1 << 20)
        for _ in range(1024):
            out.write(comp.compress(block))
        out.write(comp.compress(b"\nafter\n") + comp.flush())
    assert path.stat().st_size < 2 << 20
    assert list(owned_lines(str(path), max_bytes=1 << 16)) == [b"before", TooLarge(1 << 30), b"after"]


def test_truncated_gzip_cuts_only_the_last_line(tmp_path: Path, data_dir: Path) -> None:
    raw = (data_dir / "wiki/wiki_demo.txt").read_bytes()
    packed = gzip.compress(raw)
    path = tmp_path / "w.txt.gz"
    path.write_bytes(packed[: len(packed) // 2])
    got = list(owned_lines(str(path)))
    assert isinstance(got[-1], Broken) and got[-1].reason == "truncated_file" and got[-1].partial
    assert got[:-1] == raw.split(b"\n")[: len(got) - 1]  # every complete line before the break
    assert count_lines(str(path)) == len(got)  # the cut line takes a number
    with pytest.raises(TruncatedInput, match="truncated_file"):
        list(iter_lines(str(path)))


def test_a_corrupt_member_costs_that_member_only(tmp_path: Path) -> None:
    members = [gzip.compress(b"%d line\n" % i * 50) for i in range(4)]
    bad = bytearray(members[1])
    bad[20:40] = bytes(20)  # garble the deflate data of member 1
    path = tmp_path / "m.txt.gz"
    path.write_bytes(members[0] + bytes(bad) + members[2] + members[3])
    got = list(owned_lines(str(path)))
    broken = [g for g in got if isinstance(g, Broken)]
    assert len(broken) == 1 and broken[0].reason == "corrupt_data" and "byte " in broken[0].detail
    lines = [g for g in got if isinstance(g, bytes)]
    # the restart drops what precedes its first newline (it may finish a line of the lost member)
    assert lines[:50] == [b"0 line"] * 50 and lines[50:] == [b"2 line"] * 49 + [b"3 line"] * 50
