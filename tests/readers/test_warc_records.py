"""Record iteration under damage, and HTTP body decoding."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest
import zstandard
from fastwarc.warc import WarcRecordType

from dataforge.readers.warc_records import BodyEncodingError, decode_http_body, iter_records

CC = "warc/cc-excerpt.warc.gz"


def collect(path: Path) -> tuple[list[int], list[tuple]]:
    skips: list[tuple] = []
    offsets = [rec.stream_pos for rec, _ in iter_records(
        str(path), WarcRecordType.response, parse_http=True, max_bytes=1 << 30,
        skip=lambda *a: skips.append(a))]
    return offsets, skips


def test_offsets_are_byte_positions_in_the_stored_file(data_dir: Path) -> None:
    offsets, skips = collect(data_dir / CC)
    assert len(offsets) == 16 and skips == []
    raw = (data_dir / CC).read_bytes()
    for off in offsets:  # each reported offset starts a gzip member holding a WARC record
        assert gzip.GzipFile(fileobj=__import__("io").BytesIO(raw[off:])).read(8) == b"WARC/1.0"


def test_plain_warc_with_junk_between_records_resumes(tmp_path: Path, data_dir: Path) -> None:
    plain = gzip.decompress((data_dir / CC).read_bytes())
    good_offsets, _ = collect(data_dir / CC)
    cut = plain.index(b"WARC/1.0", 200_000)  # a record boundary deep in the file
    path = tmp_path / "junk.warc"
    path.write_bytes(plain[:cut] + b"NOT A RECORD\r\n" * 3 + plain[cut:])
    offsets, skips = collect(path)
    assert len(offsets) == 16
    assert [s[2] for s in skips] == ["corrupt_record"]
    assert "resuming at byte" in skips[0][3]


def test_zstd_compressed_warc(tmp_path: Path, data_dir: Path) -> None:
    plain = gzip.decompress((data_dir / CC).read_bytes())
    path = tmp_path / "cc.warc.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(plain))
    offsets, skips = collect(path)
    assert len(offsets) == 16 and skips == []


def test_decode_http_body() -> None:
    html = b"<html><body>hello</body></html>"
    assert decode_http_body(gzip.compress(html), transfer_encoding=None, max_bytes=1 << 20, content_encoding="gzip") == html
    assert decode_http_body(zlib.compress(html), transfer_encoding=None, max_bytes=1 << 20, content_encoding="deflate") == html
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = raw_deflate.compress(html) + raw_deflate.flush()
    assert decode_http_body(body, transfer_encoding=None, max_bytes=1 << 20, content_encoding="deflate") == html
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(html), html)
    assert decode_http_body(chunked, transfer_encoding="chunked", content_encoding=None, max_bytes=1 << 20) == html
    # header says gzip but the crawler stored it decoded: used as stored
    assert decode_http_body(html, transfer_encoding=None, max_bytes=1 << 20, content_encoding="gzip") == html
    with pytest.raises(BodyEncodingError) as bad:
        decode_http_body(b"\x00\x01binary", transfer_encoding=None, max_bytes=1 << 20, content_encoding="gzip")
    assert bad.value.reason == "bad_content_encoding"
    with pytest.raises(BodyEncodingError) as unknown:
        decode_http_body(html, transfer_encoding=None, max_bytes=1 << 20, content_encoding="compress")
    assert unknown.value.reason == "unsupported_content_encoding"
