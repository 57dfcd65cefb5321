"""WARC and WET readers on the bundled crawl files (real Common Crawl, Dolma, warcio test files)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from dataforge.readers.warc import WarcReader, WetReader, status_reason

CC = "warc/cc-excerpt.warc.gz"


def test_common_crawl_excerpt(read, data_dir: Path) -> None:
    res = read(WarcReader, data_dir / CC)
    assert len(res.docs) == 16 and res.skipped == {}
    first = res.docs[0]
    assert first.id == "urn:uuid:c4c112a5-3503-4483-abf8-51a0dd86dd53"  # the WARC-Record-ID
    assert first.meta == {
        "url": "http://003338.cn/l41/481397.html",
        "date": "2020-08-08T17:27:41Z",
        "warc_record_id": first.id,
        "content_type": "text/html",
    }
    assert all(d.text.strip() == d.text and d.text for d in res.docs)
    assert len({d.id for d in res.docs}) == 16


def test_charsets_are_decoded(read, data_dir: Path) -> None:
    docs = {d.meta["url"]: d.text for d in read(WarcReader, data_dir / CC).docs}
    assert "Стратегия пожарной безопасности" in docs["http://01spb.ru/company/"]  # declared windows-1251
    assert "中山英才网" in docs["http://0760.jxtdw.com/area/sanxiang/"]  # declared gb2312, really GBK


def test_wget_warc_with_bracketed_uris_and_chunked_bodies(read, data_dir: Path) -> None:
    res = read(WarcReader, data_dir / "warc/dolma-wget.warc.gz")
    assert len(res.docs) == 15 and res.skipped == {}
    assert res.docs[0].meta["url"] == "https://creativecommons.org/"  # WARC 1.0 "<...>" removed
    assert "Creative Commons" in res.docs[0].text  # body was Transfer-Encoding: chunked


def test_wet_conversion_records(read, data_dir: Path) -> None:
    res = read(WetReader, data_dir / "warc/whirlwind.warc.wet.gz")
    assert len(res.docs) == 1 and res.skipped == {}
    doc = res.docs[0]
    assert doc.id == "urn:uuid:ba729a40-ff84-4085-8d48-0a5b2ee0c42d"
    assert doc.meta["url"] == "https://an.wikipedia.org/wiki/Escopete"
    assert doc.meta["date"] == "2024-05-18T01:58:10Z"
    assert doc.text.startswith("Escopete - Biquipedia")


def test_warc_and_wet_of_the_same_page_agree(read, data_dir: Path) -> None:
    warc = read(WarcReader, data_dir / "warc/whirlwind.warc.gz").docs
    assert len(warc) == 1 and warc[0].meta["url"] == "https://an.wikipedia.org/wiki/Escopete"
    assert "Escopete" in warc[0].text


def test_non_200_and_non_html_are_skipped_and_counted(read, tmp_path: Path, data_dir: Path) -> None:
    plain = gzip.decompress((data_dir / CC).read_bytes())
    assert plain.count(b"HTTP/1.1 200 OK") == 16
    # same lengths, so every record stays valid: the 1st and 2nd responses get other
    # statuses, the last one another content type
    mutated = plain.replace(b"HTTP/1.1 200 OK", b"HTTP/1.1 404 NO", 1)
    mutated = mutated.replace(b"HTTP/1.1 200 OK", b"HTTP/1.1 301 MO", 1)
    head, sep, tail = mutated.rpartition(b"Content-Type: text/html")
    assert sep
    mutated = head + b"Content-Type: image/png" + tail
    path = tmp_path / "mutated.warc"
    path.write_bytes(mutated)
    res = read(WarcReader, path)
    assert res.skipped == {"http_4xx": 1, "http_3xx": 1, "not_html": 1}
    assert len(res.docs) == 13


def test_bad_http_status_line(read, data_dir: Path) -> None:
    # warcio's test file: one good response, one with "HTTPX/1.1 200 OK", and revisits
    res = read(WarcReader, data_dir / "warc/bad/example-extra.warc")
    assert len(res.docs) == 1 and res.skipped == {"http_status_unknown": 1}
    assert res.docs[0].text.startswith("Example Domain")


def test_gzip_body_declared_but_not_chunked(read, data_dir: Path) -> None:
    res = read(WarcReader, data_dir / "warc/bad/example-bad-non-chunked.warc.gz")
    assert [d.text.split("\n")[0] for d in res.docs] == ["Example Domain"] and res.skipped == {}
    res = read(WarcReader, data_dir / "warc/bad/example-wrong-chunks.warc.gz")
    assert len(res.docs) == 1 and res.skipped == {}


def test_truncated_warc_file_keeps_the_records_around_the_damage(read, data_dir: Path, caplog) -> None:
    path = data_dir / "warc/bad/example-trunc.warc"
    res = read(WarcReader, path)
    assert res.skipped == {"corrupt_record": 1}
    assert [d.id for d in res.docs] == ["urn:uuid:a9c51e3e-0221-11e7-bf66-0242ac120005"]
    assert f"{path}:1197: skipped: corrupt_record" in caplog.text  # path and byte offset


def test_truncated_gzip_warc(read, tmp_path: Path, data_dir: Path) -> None:
    raw = (data_dir / CC).read_bytes()
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(raw[:65000])  # inside the 7th response's gzip member
    res = read(WarcReader, path)
    assert len(res.docs) == 6 and res.skipped == {"truncated_record": 1}
    whole = read(WarcReader, data_dir / CC).docs
    assert [d.id for d in res.docs] == [d.id for d in whole[:6]]


def test_garbage_gzip_member_in_the_middle(read, tmp_path: Path, data_dir: Path) -> None:
    raw = (data_dir / CC).read_bytes()
    path = tmp_path / "garbage.warc.gz"
    at = 42425  # start of a record's gzip member
    path.write_bytes(raw[:at] + gzip.compress(b"this is not a WARC record\r\n\r\n") + b"junk" + raw[at:])
    res = read(WarcReader, path)
    assert len(res.docs) == 16 and res.skipped == {"corrupt_record": 1}


def test_flipped_bytes_lose_only_that_record(read, tmp_path: Path, data_dir: Path) -> None:
    raw = bytearray((data_dir / CC).read_bytes())
    for i in range(50000, 50040):  # inside the 6th response's gzip member
        raw[i] ^= 0xFF
    path = tmp_path / "flipped.warc.gz"
    path.write_bytes(bytes(raw))
    res = read(WarcReader, path)
    assert len(res.docs) == 15 and res.skipped == {"corrupt_record": 1}


def test_too_large_records_are_not_read(read, data_dir: Path) -> None:
    res = read(WarcReader, data_dir / CC, max_record_bytes=20_000)
    assert res.skipped == {"record_too_large": 8} and len(res.docs) == 8


def test_trafilatura_is_selectable(read, data_dir: Path) -> None:
    fast = read(WarcReader, data_dir / "warc/whirlwind.warc.gz").docs[0]
    precise = read(WarcReader, data_dir / "warc/whirlwind.warc.gz", extractor="trafilatura").docs[0]
    assert precise.id == fast.id and precise.meta == fast.meta
    assert precise.text != fast.text  # a different extractor ran
    assert "Hilario López Herrer" in precise.text and "Hilario López Herrer" in fast.text
    # the two really differ: trafilatura keeps a list item resiliparse's main-content pass drops
    assert "parroquial de l'Asunción" in precise.text and "parroquial de l'Asunción" not in fast.text


def test_not_a_warc_at_all(read, tmp_path: Path) -> None:
    path = tmp_path / "random.warc.gz"
    path.write_bytes(bytes(range(256)) * 40)
    res = read(WarcReader, path)
    assert res.docs == [] and res.skipped == {"corrupt_record": 1}
    assert read(WarcReader, tmp_path / "missing.warc.gz").skipped == {"unreadable_file": 1}


def test_unknown_option_is_refused() -> None:
    with pytest.raises(ValueError, match="extractr"):
        WarcReader.Params(extractr="trafilatura")


@pytest.mark.parametrize(
    ("status", "reason"),
    [(200, None), (404, "http_4xx"), (302, "http_3xx"), (503, "http_5xx"), (None, "http_status_unknown"), (999, "http_status_unknown")],
)
def test_status_reason(status, reason) -> None:
    assert status_reason(status) == reason


def warc_response(html: bytes, uri: str, record_id: str, content_type: str | None = "text/html") -> bytes:
    """One WARC/1.0 response record around ``html`` (what a crawler would write)."""
    typed = f"Content-Type: {content_type}\r\n".encode() if content_type else b""
    http = b"HTTP/1.1 200 OK\r\n" + typed + b"\r\n" + html
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Record-ID: <{record_id}>\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
        f"WARC-Target-URI: {uri}\r\nContent-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http)}\r\n\r\n"
    )
    return head.encode() + http + b"\r\n\r\n"


def test_a_pathological_page_times_out_and_the_file_goes_on(read, tmp_path: Path, data_dir: Path) -> None:
    deep = b"<html><body>" + b"<div>" * 20_000 + b"deep" + b"</div>" * 20_000 + b"</body></html>"
    path = tmp_path / "slow.warc.gz"
    path.write_bytes(
        gzip.compress(warc_response(deep, "http://deep.example/", "urn:uuid:deep"))
        + (data_dir / "warc/whirlwind.warc.gz").read_bytes()
    )
    res = read(WarcReader, path, extract_timeout=1.0)
    assert res.skipped == {"extract_timeout": 1}
    assert [d.meta["url"] for d in res.docs] == ["https://an.wikipedia.org/wiki/Escopete"]


def test_untyped_response_is_sniffed(read, tmp_path: Path) -> None:
    page = b"<!DOCTYPE html><html><body><p>" + b"Sniffed page with enough words to keep. " * 5 + b"</p></body></html>"
    path = tmp_path / "untyped.warc"
    path.write_bytes(
        warc_response(page, "http://a.example/", "urn:uuid:a", content_type=None)
        + warc_response(b"%PDF-1.4 binary", "http://b.example/", "urn:uuid:b", content_type=None)
    )
    res = read(WarcReader, path)
    assert [d.id for d in res.docs] == ["urn:uuid:a"] and res.docs[0].meta["content_type"] == "text/html"
    assert res.skipped == {"not_html": 1}
