"""Parquet reader on the bundled FineWeb sample, and files it cannot use."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataforge.readers.base import FieldNotFound
from dataforge.readers.parquet import ParquetReader, jsonable
from dataforge.stats import Stats

FINEWEB = "web/fineweb-sample.parquet"


def test_fineweb_rows_ids_and_meta(read, data_dir: Path) -> None:
    res = read(ParquetReader, data_dir / FINEWEB)
    assert len(res.docs) == 100 and res.skipped == {}
    first = res.docs[0]
    assert first.id == "<urn:uuid:2cb3abbd-7305-4de9-8d53-6b9b8e8641a0>"  # the file's own id column
    assert set(first.meta) == {"score", "reasoning", "url", "timestamp", "model", "input_tokens", "text_length"}
    assert first.meta["url"] == "http://bbwk.org/"
    json.dumps(first.meta)  # timestamp column converted: meta stays JSON
    assert isinstance(first.meta["timestamp"], str)
    assert len({d.id for d in res.docs}) == 100


def test_small_batches_give_the_same_documents(read, data_dir: Path) -> None:
    whole = read(ParquetReader, data_dir / FINEWEB)
    batched = read(ParquetReader, data_dir / FINEWEB, batch_size=7)
    assert [(d.id, d.text) for d in batched.docs] == [(d.id, d.text) for d in whole.docs]


def test_id_fallback_and_meta_columns(read, data_dir: Path) -> None:
    path = data_dir / FINEWEB
    res = read(ParquetReader, path, id_column=None, meta_columns=["url"])
    assert res.docs[0].id == f"src/{path}:0" and res.docs[99].id == f"src/{path}:99"
    assert res.docs[0].meta == {"url": "http://bbwk.org/"}


def test_missing_text_column_is_fatal_with_a_suggestion(read, data_dir: Path) -> None:
    path = data_dir / FINEWEB
    with pytest.raises(FieldNotFound, match=rf"{path}: text_field 'txt' is not in the file's columns "
                                            r"\(did you mean 'text'\? columns: id, input_tokens, .*url\)"):
        read(ParquetReader, path, text_field="txt")
    with pytest.raises(FieldNotFound, match=r"'body' is not in the file's columns \(columns: id, "):
        read(ParquetReader, path, text_column="body")  # the old option name works; nothing close: no suggestion


def test_non_string_text_column_skips_the_file(read, data_dir: Path, caplog) -> None:
    res = read(ParquetReader, data_dir / FINEWEB, text_column="score")
    assert res.docs == [] and res.skipped == {"text_column_not_string": 1}
    assert f"{data_dir / FINEWEB}: skipped: text_column_not_string (column 'score' is int8; set text_field to a string column)" in caplog.text


def test_null_and_blank_texts_are_counted(read, tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": ["a doc", None, "  ", "another"], "id": ["x", "y", None, None]}), path)
    res = read(ParquetReader, path)
    assert [(d.id, d.text) for d in res.docs] == [("x", "a doc"), (f"src/{path}:3", "another")]
    assert res.skipped == {"missing_text": 1, "empty_text": 1}


def test_not_parquet_truncated_and_missing_files(read, tmp_path: Path, data_dir: Path) -> None:
    raw = (data_dir / FINEWEB).read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(raw[: len(raw) // 2])
    assert read(ParquetReader, cut).skipped == {"not_parquet": 1}
    assert read(ParquetReader, tmp_path / "none.parquet").skipped == {"unreadable_file": 1}


def test_a_corrupt_row_group_costs_only_its_rows(read, tmp_path: Path, data_dir: Path) -> None:
    table = pq.read_table(data_dir / FINEWEB)
    path = tmp_path / "groups.parquet"
    pq.write_table(table, path, row_group_size=25)  # 4 row groups
    meta = pq.ParquetFile(path).metadata
    col = meta.row_group(1).column(table.schema.names.index("text"))
    start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
    raw = bytearray(path.read_bytes())
    for i in range(start + 64, start + col.total_compressed_size - 64):  # garble group 1's text pages
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    res = read(ParquetReader, path)
    assert res.skipped == {"corrupt_row_group": 1}
    ids = [d.id for d in res.docs]
    assert len(ids) == 75
    assert ids == [d.id for i, d in enumerate(read(ParquetReader, data_dir / FINEWEB).docs) if not 25 <= i < 50]


def test_jsonable() -> None:
    assert jsonable(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05"
    assert jsonable({"a": [dt.date(2024, 1, 2)], 1: b"\x00"}) == {"a": ["2024-01-02"], "1": "AA=="}


def _unchecked_strings(values: list[bytes]) -> pa.Array:
    """A string array holding bytes as they are (as a buggy writer leaves them: not validated)."""
    raw = pa.array(values, type=pa.binary())
    return pa.Array.from_buffers(pa.string(), len(raw), raw.buffers())


def test_one_row_of_invalid_utf8_costs_that_row_only(read, tmp_path: Path, caplog) -> None:
    texts = [b"document number %d" % i for i in range(1000)]
    texts[500] = b"bad \xff bytes"
    urls = [b"http://x/%d" % i for i in range(1000)]
    urls[3] = b"http://x/\xfe"
    path = tmp_path / "utf8.parquet"
    pq.write_table(pa.table({"text": _unchecked_strings(texts), "url": _unchecked_strings(urls)}), path,
                   row_group_size=400)
    res = read(ParquetReader, path, batch_size=128)
    assert len(res.docs) == 999 and res.skipped == {"invalid_utf8": 1}
    assert f"{path}:row 500: skipped: invalid_utf8" in caplog.text
    assert res.docs[500].text == "document number 501" and res.docs[500].id == f"src/{path}:501"
    assert res.docs[3].meta["url"] == "http://x/\ufffd"  # a bad meta cell is decoded, the row kept


def test_too_large_text_is_skipped(read, tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"text": ["short", "x" * 5000, "also short"]}), path)
    res = read(ParquetReader, path, max_record_bytes=1000)
    assert [d.text for d in res.docs] == ["short", "also short"] and res.skipped == {"record_too_large": 1}


def test_damaged_footer_is_a_skip_naming_the_file(read, tmp_path: Path, data_dir: Path, caplog) -> None:
    raw = (data_dir / FINEWEB).read_bytes()
    path = tmp_path / "cut.parquet"
    path.write_bytes(raw[:-100])
    res = read(ParquetReader, path)
    assert res.docs == [] and res.skipped == {"not_parquet": 1}
    assert f"{path}: skipped: not_parquet" in caplog.text and "damaged or not Parquet" in caplog.text
    reader = ParquetReader(ParquetReader.Params(), source="s", stats=Stats())
    assert len(reader.split(str(path), size=10 ** 9, task_bytes=1)) == 1  # unreadable footer: one task, which reports it
