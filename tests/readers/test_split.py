"""One file read whole and as many parts gives the same documents, ids and skip counts.

Each case reads a real file whole, then cut by ``split(task_bytes)`` for many sizes (1
byte, sizes that cut inside lines, members and records, bigger than the file), numbers
the parts by the prefix sum of ``count()`` as the runner does, reads every part, and
compares the concatenation with the whole read.
"""

from __future__ import annotations

import gzip
import io
import logging
import random
import zlib
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataforge.errors import ConfigError
from dataforge.readers.base import READ_LABEL, WHOLE, Reader, Span, number_spans
from dataforge.readers.compressed import find_member
from dataforge.readers.jsonl import JsonlReader
from dataforge.readers.parquet import ParquetReader
from dataforge.readers.text import TextReader
from dataforge.readers.warc import WarcReader, WetReader
from dataforge.stats import Stats

INLINE = {"isolation": "inline", "extract_timeout": 10.0}


def run(cls: type[Reader[Any]], path: Path, task_bytes: int | None, **params: Any) -> tuple[list[tuple], dict, int]:
    """(documents as tuples, skip counts, number of parts) of a whole or a cut read."""
    stats = Stats()
    reader = cls(cls.Params(**params), source="src", stats=stats)
    spans = [WHOLE] if task_bytes is None else reader.split(str(path), size=path.stat().st_size, task_bytes=task_bytes)
    if len(spans) > 1:
        spans = number_spans(spans, [reader.count(str(path), s) for s in spans])
    docs = [(d.id, d.text, d.meta) for s in spans for d in reader.read(str(path), s)]
    return docs, stats.totals(READ_LABEL), len(spans)


def same_split_or_whole(cls: type[Reader[Any]], path: Path, sizes: list[int], **params: Any) -> int:
    """Assert every cut read equals the whole read; returns the most parts seen."""
    whole, whole_skips, _ = run(cls, path, None, **params)
    assert whole, "the case must have documents"
    most = 1
    for task_bytes in sizes:
        docs, skips, parts = run(cls, path, task_bytes, **params)
        assert docs == whole, f"task_bytes={task_bytes} ({parts} parts)"
        assert skips == whole_skips, f"task_bytes={task_bytes}"
        most = max(most, parts)
    return most


def jsonl_with_bad_lines(data_dir: Path, n: int) -> bytes:
    good = (data_dir / "c4/tiny_c4_sample.jsonl").read_bytes().split(b"\n")[:n]
    bad = [b"{broken", b"", b"[1]", b'{"text": "  "}', b"\xff\xfe", b'{"url": "no text"}']
    return b"\n".join(line for i, g in enumerate(good) for line in (g, bad[i % len(bad)])) + b"\n"


def members(raw: bytes, *, kind: str, seed: int, n: int) -> bytes:
    """``raw`` in ``n`` members/frames cut at random bytes (lines cross member boundaries, as in bgzip)."""
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(raw)), n - 1))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)])]
    if kind == "gzip":
        return b"".join(gzip.compress(c, mtime=0) for c in chunks)
    return b"".join(zstandard.ZstdCompressor(write_checksum=True).compress(c) for c in chunks)


def test_plain_jsonl(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "c4.jsonl"
    path.write_bytes(jsonl_with_bad_lines(data_dir, 60))
    size = path.stat().st_size
    parts = same_split_or_whole(JsonlReader, path, [997, 4096, 65_536, size // 2 + 1, size, size * 2], id_field=None)
    assert parts > 100


def test_tiny_jsonl_cut_at_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"text": "a"}\n\n{bad\n{"text": "b"}\r\n{"text": "c"}\n\n\n{"text": "d"}')
    assert same_split_or_whole(JsonlReader, path, [1, 2, 3, 5, 13, 14, 15], id_field=None) == path.stat().st_size


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_many_member_compressed_jsonl(tmp_path: Path, data_dir: Path, kind: str) -> None:
    path = tmp_path / ("c4.jsonl.gz" if kind == "gzip" else "c4.jsonl.zst")
    path.write_bytes(members(jsonl_with_bad_lines(data_dir, 60), kind=kind, seed=1, n=40))
    size = path.stat().st_size
    assert same_split_or_whole(JsonlReader, path, [97, 3000, size // 3, size], id_field=None) > 40
    tiny = tmp_path / ("tiny.jsonl.gz" if kind == "gzip" else "tiny.jsonl.zst")
    tiny.write_bytes(members(b'{"text": "a"}\n\n{bad\n{"text": "bb"}\n{"text": "c"}', kind=kind, seed=2, n=9))
    assert same_split_or_whole(JsonlReader, tiny, [1, 2, 30], id_field=None) > 100


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n=st.integers(2, 30), task_bytes=st.integers(1, 4000),
       kind=st.sampled_from(["gzip", "zstd", "plain"]))
def test_random_cuts(tmp_path: Path, seed: int, n: int, task_bytes: int, kind: str) -> None:
    rng = random.Random(seed)
    lines = [(b'{"text": "%d %s"}' % (i, b"w" * rng.choice([0, 3, 90, 700]))) if rng.random() < 0.8
             else rng.choice([b"", b"{x", b"\xff"]) for i in range(rng.randint(5, 80))]
    raw = b"\n".join(lines) + rng.choice([b"", b"\n"])
    path = tmp_path / f"r{seed}.jsonl{'.gz' if kind == 'gzip' else '.zst' if kind == 'zstd' else ''}"
    path.write_bytes(raw if kind == "plain" else members(raw, kind=kind, seed=seed, n=min(n, len(raw) - 1)))
    whole = run(JsonlReader, path, None, id_field=None)
    cut = run(JsonlReader, path, task_bytes, id_field=None)
    assert cut[:2] == whole[:2]


def test_text_lines(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "alice.txt.gz"
    path.write_bytes(members((data_dir / "books/alice.txt").read_bytes(), kind="gzip", seed=2, n=30))
    size = path.stat().st_size
    assert same_split_or_whole(TextReader, path, [1000, 9000, size // 2], split="line") > 30
    plain = data_dir / "wiki/wiki_demo.txt"
    assert same_split_or_whole(TextReader, plain, [50_000, 333_333], split="line") > 3


def test_parquet_row_groups(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "fw.parquet"
    pq.write_table(pq.read_table(data_dir / "web/fineweb-sample.parquet"), path, row_group_size=7)
    size = path.stat().st_size
    assert same_split_or_whole(ParquetReader, path, [1, 20_000, size // 3], id_column=None, batch_size=3) == 15
    spans = ParquetReader(ParquetReader.Params(), source="s", stats=Stats()).split(str(path), size=size, task_bytes=1)
    assert [(s.start, s.end, s.first_record) for s in spans[:3]] == [(0, 1, 0), (1, 2, 7), (2, 3, 14)]


def test_warc_gz_and_plain_warc(tmp_path: Path, data_dir: Path) -> None:
    path = data_dir / "warc/cc-excerpt.warc.gz"
    assert same_split_or_whole(WarcReader, path, [1000, 5000, 40_000], **INLINE) > 100
    plain = tmp_path / "cc.warc"
    plain.write_bytes(gzip.decompress(path.read_bytes()))
    assert same_split_or_whole(WarcReader, plain, [1000, 30_000, 100_000], **INLINE) > 100
    small = data_dir / "warc/bad/example-extra.warc"  # warcio's: revisits, a bad status line
    assert same_split_or_whole(WarcReader, small, [1, 100], **INLINE) > 1000


def test_wet(tmp_path: Path, data_dir: Path) -> None:
    path = data_dir / "warc/whirlwind.warc.wet.gz"
    assert same_split_or_whole(WetReader, path, [1, 300]) > 3


def test_single_stream_gzip_is_one_task_with_a_warning(tmp_path: Path, data_dir: Path, caplog) -> None:
    path = tmp_path / "one.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl_with_bad_lines(data_dir, 30)))
    reader = JsonlReader(JsonlReader.Params(), source="s", stats=Stats())
    with caplog.at_level(logging.WARNING):
        assert reader.split(str(path), size=path.stat().st_size, task_bytes=100) == [WHOLE]
    assert f"{path}: " in caplog.text and "single gzip member" in caplog.text and "bgzip" in caplog.text
    caplog.clear()
    assert reader.split(str(path), size=path.stat().st_size, task_bytes=10 ** 9) == [WHOLE]
    assert caplog.text == ""  # small enough: no warning


def test_text_files_and_paragraphs_are_never_cut(tmp_path: Path, data_dir: Path, caplog) -> None:
    path = data_dir / "books/alice.txt"
    for split in ("file", "paragraph"):
        reader = TextReader(TextReader.Params(split=split), source="s", stats=Stats())
        assert reader.split(str(path), size=path.stat().st_size, task_bytes=1000) == [WHOLE]
        assert f"split: {split} reads a file whole" in caplog.text


def test_number_spans_is_a_prefix_sum() -> None:
    spans = [Span(0, 10, part=0, parts=3), Span(10, 20, part=1, parts=3), Span(20, None, part=2, parts=3)]
    assert [s.first_record for s in number_spans(spans, [4, 0, 7])] == [1, 5, 5]
    assert number_spans(spans, [None, None, None]) == spans  # the reader numbered them itself
    with pytest.raises(ValueError, match="3 spans but 2 counts"):
        number_spans(spans, [1, 2])


def test_task_bytes_below_one_is_refused(data_dir: Path) -> None:
    reader = JsonlReader(JsonlReader.Params(), source="s", stats=Stats())
    for bad in (0, -1):
        with pytest.raises(ConfigError, match="task_bytes must be at least 1"):
            reader.split(str(data_dir / "arxiv/arxiv.jsonl"), size=1000, task_bytes=bad)


def test_a_gzip_member_inside_stored_data_is_not_a_boundary(tmp_path: Path) -> None:
    inner = gzip.compress(b'{"text": "inner"}\n', mtime=0)  # a valid member, CRC and all...
    first = _stored_gzip(b'{"text": "outer"}\n' + inner + b"\n")  # ...lying literally inside member 0
    second = gzip.compress(b'{"text": "next"}\n', mtime=0)
    path = tmp_path / "nest.jsonl.gz"
    path.write_bytes(first + second)
    with path.open("rb") as fh:
        assert find_member(fh, "gzip", 1, None) == len(first)  # not the inner member (garbage follows it)
    assert same_split_or_whole(JsonlReader, path, [1, 7, 50]) > 50


def _stored_gzip(data: bytes) -> bytes:
    """A gzip member of stored (uncompressed) deflate blocks: ``data`` appears in it as is."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=0, mtime=0) as g:
        g.write(data)
    assert data in buf.getvalue()
    return buf.getvalue()


def test_damaged_member_no_document_twice(tmp_path: Path, data_dir: Path) -> None:
    raw = members(jsonl_with_bad_lines(data_dir, 40), kind="gzip", seed=3, n=20)
    good = tmp_path / "good.jsonl.gz"
    good.write_bytes(raw)
    bad = bytearray(raw)
    mid = len(raw) // 2
    bad[mid:mid + 30] = bytes(30)
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(bytes(bad))
    truth = [d[1] for d in run(JsonlReader, good, None, id_field=None)[0]]
    for task_bytes in (None, 97, 700, 5000):
        docs, skips, _ = run(JsonlReader, path, task_bytes, id_field=None)
        ids, texts = [d[0] for d in docs], [d[1] for d in docs]
        assert len(ids) == len(set(ids)) and len(texts) == len(set(texts)) == len(set(texts) & set(truth))
        assert len(docs) >= len(truth) - 6  # one member (and the line it cut) lost, the rest kept
        assert skips.get("skipped.corrupt_data", 0) == (1 if task_bytes is None else skips.get("skipped.corrupt_data", 0))


def _bgzf_block(data: bytes) -> bytes:
    """One BGZF block (SAM/BAM spec sec. 4.1): a gzip member with a 'BC' extra subfield."""
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = comp.compress(data) + comp.flush()
    bsize = 18 + len(body) + 8 - 1
    head = b"\x1f\x8b\x08\x04" + bytes(4) + b"\x00\xff" + (6).to_bytes(2, "little") + b"BC" + \
        (2).to_bytes(2, "little") + bsize.to_bytes(2, "little")
    return head + body + zlib.crc32(data).to_bytes(4, "little") + len(data).to_bytes(4, "little")


def test_bgzf_is_recognised_from_its_header(tmp_path: Path, data_dir: Path, caplog) -> None:
    raw = jsonl_with_bad_lines(data_dir, 40)
    path = tmp_path / "b.jsonl.gz"
    path.write_bytes(b"".join(_bgzf_block(raw[i:i + 5000]) for i in range(0, len(raw), 5000)))
    assert gzip.decompress(path.read_bytes()) == raw
    assert same_split_or_whole(JsonlReader, path, [3000, 20_000], id_field=None) > 3
    assert "read as one task" not in caplog.text


def test_zstd_warc_is_one_task(tmp_path: Path, data_dir: Path, caplog) -> None:
    path = tmp_path / "cc.warc.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(gzip.decompress((data_dir / "warc/cc-excerpt.warc.gz").read_bytes())))
    reader = WarcReader(WarcReader.Params(**INLINE), source="s", stats=Stats())
    assert reader.split(str(path), size=path.stat().st_size, task_bytes=1000) == [WHOLE]
    assert "zstd WARCs are read whole" in caplog.text
