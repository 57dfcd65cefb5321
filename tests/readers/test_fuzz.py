"""Fuzz: random bytes and damaged copies of real files never raise out of a reader.

Every reader must turn any input into documents and counted skips. Each example
writes a mutated copy of a real bundled file (truncated, bytes flipped, junk
inserted) or plain random bytes, reads it, and checks the documents are well formed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataforge.readers.jsonl import JsonlReader
from dataforge.readers.parquet import ParquetReader
from dataforge.readers.text import TextReader
from dataforge.readers.warc import WarcReader, WetReader
from dataforge.stats import Stats

DATA = Path(__file__).resolve().parents[2] / "data"
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def damaged(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with a few random edits: cut, flipped bytes, inserted junk."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "flip", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "cut":
            del data[pos:]
        elif kind == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        else:
            del data[pos:pos + draw(st.integers(1, 512))]
    return bytes(data)


def check(reader_cls: type, data: bytes, suffix: str, **params) -> None:
    stats = Stats()
    reader = reader_cls(reader_cls.Params(**params), source="fuzz", stats=stats)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data)
        for doc in reader.read(str(path)):
            assert isinstance(doc.id, str) and doc.id
            assert isinstance(doc.text, str) and doc.text.strip()
            doc.text.encode("utf-8")  # writable as UTF-8 (no lone surrogates)
            json.dumps(doc.meta)


INLINE = {"isolation": "inline", "extract_timeout": 5.0}


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    for cls, suffix, params in [
        (JsonlReader, ".jsonl", {}), (JsonlReader, ".jsonl.gz", {}), (JsonlReader, ".jsonl.zst", {}),
        (TextReader, ".txt", {"split": "paragraph"}), (ParquetReader, ".parquet", {}),
        (WarcReader, ".warc.gz", INLINE), (WarcReader, ".warc", INLINE), (WetReader, ".warc.wet.gz", {}),
    ]:
        check(cls, data, suffix, **params)


@FUZZ
@given(damaged((DATA / "c4/olmo-c4-sample.01.jsonl.gz").read_bytes()))
def test_damaged_gzip_jsonl(data: bytes) -> None:
    check(JsonlReader, data, ".jsonl.gz")


@FUZZ
@given(damaged((DATA / "multilingual/hplt-fi.jsonl.zst").read_bytes()))
def test_damaged_zstd_jsonl(data: bytes) -> None:
    check(JsonlReader, data, ".jsonl.zst")


@FUZZ
@given(damaged((DATA / "arxiv/arxiv.jsonl").read_bytes()[:20_000]))
def test_damaged_plain_jsonl(data: bytes) -> None:
    check(JsonlReader, data, ".jsonl")


@FUZZ
@given(damaged((DATA / "warc/whirlwind.warc.gz").read_bytes()))
def test_damaged_gzip_warc(data: bytes) -> None:
    check(WarcReader, data, ".warc.gz", **INLINE)


@FUZZ
@given(damaged((DATA / "warc/bad/example-extra.warc").read_bytes()))
def test_damaged_plain_warc(data: bytes) -> None:
    check(WarcReader, data, ".warc", **INLINE)


@FUZZ
@given(damaged((DATA / "warc/whirlwind.warc.wet.gz").read_bytes()))
def test_damaged_wet(data: bytes) -> None:
    check(WetReader, data, ".warc.wet.gz")


@settings(max_examples=15, deadline=None)
@given(damaged((DATA / "web/fineweb-sample.parquet").read_bytes()))
def test_damaged_parquet(data: bytes) -> None:
    check(ParquetReader, data, ".parquet")
