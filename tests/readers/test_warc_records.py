"""Record iteration under damage, and HTTP body decoding."""

from __future__ import annotations

import gzip
import re
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


def _overrun_copy(data_dir: Path, extra: int = 5000) -> tuple[bytes, int]:
    """The CC excerpt, plain, with the 2nd response's Content-Length ``extra`` bytes too long."""
    plain = gzip.decompress((data_dir / CC).read_bytes())
    starts = [m.start() for m in re.finditer(rb"WARC/1\.0\r\n", plain)]
    second = [s for s in starts if b"WARC-Type: response" in plain[s:s + 300]][1]
    m = re.compile(rb"Content-Length: (\d+)\r\n").search(plain, second)
    assert m is not None
    bumped = plain[:m.start(1)] + str(int(m.group(1)) + extra).encode() + plain[m.end(1):]
    return bumped, second


def _per_record_gzip(plain: bytes) -> bytes:
    starts = [m.start() for m in re.finditer(rb"WARC/1\.0\r\n", plain)]
    return b"".join(gzip.compress(plain[a:b]) for a, b in zip(starts, [*starts[1:], len(plain)]))


@pytest.mark.parametrize("suffix", [".warc", ".warc.gz"])
def test_length_overrun_drops_that_record_and_keeps_the_next(tmp_path: Path, data_dir: Path, suffix: str) -> None:
    bumped, second = _overrun_copy(data_dir)
    path = tmp_path / f"overrun{suffix}"
    path.write_bytes(bumped if suffix == ".warc" else _per_record_gzip(bumped))
    good_offsets, _ = collect(data_dir / CC)
    skips: list[tuple] = []
    got = [(rec.stream_pos, payload) for rec, payload in iter_records(
        str(path), WarcRecordType.response, parse_http=True, max_bytes=1 << 30, skip=lambda *a: skips.append(a))]
    assert [s[2] for s in skips] == ["warc_length_overrun"]
    assert len(got) == 15  # every other response, the one after the overrun included
    assert not any(b"WARC-Type:" in payload for _, payload in got)  # no payload holds another record's header
    if suffix == ".warc":
        assert skips[0][1] == second and f"at byte {second + 1}" not in skips[0][3]


def test_a_warc_archived_inside_a_record_is_not_an_overrun(tmp_path: Path) -> None:
    inner = b"WARC/1.0\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:x>\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n"
    html = b"<html><body><pre>" + inner + b"</pre></body></html>"
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + html
    rec = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:outer>\r\n"
           b"Content-Type: application/http; msgtype=response\r\n"
           b"Content-Length: %d\r\n\r\n" % len(http) + http + b"\r\n\r\n")
    path = tmp_path / "nested.warc"
    path.write_bytes(rec + rec.replace(b"urn:outer", b"urn:after"))
    skips: list[tuple] = []
    got = [payload for _, payload in iter_records(str(path), WarcRecordType.response, parse_http=True,
                                                  max_bytes=1 << 20, skip=lambda *a: skips.append(a))]
    assert skips == [] and got == [html, html]  # the declared end is a record boundary: the length holds


def test_decoding_chains_stop_at_the_limit() -> None:
    bomb = gzip.compress(gzip.compress(b"<html>" + b" " * (64 << 20)))  # 64 MiB in ~0.1 KB, twice gzipped
    assert len(bomb) < 100_000
    with pytest.raises(BodyEncodingError) as big:
        decode_http_body(bomb, transfer_encoding=None, content_encoding="gzip, gzip", max_bytes=1 << 20)
    assert big.value.reason == "record_too_large" and "max_record_bytes 1048576" in str(big.value)
    page = b"<html>" + b" " * 1000
    chain = gzip.compress(zlib.compress(page))
    assert decode_http_body(chain, transfer_encoding=None, content_encoding="deflate, gzip", max_bytes=1006) == page
    with pytest.raises(BodyEncodingError, match="deflate"):  # one byte over the limit
        decode_http_body(chain, transfer_encoding=None, content_encoding="deflate, gzip", max_bytes=1005)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(page), page)
    with pytest.raises(BodyEncodingError, match="chunked"):
        decode_http_body(chunked, transfer_encoding="chunked", content_encoding=None, max_bytes=100)
