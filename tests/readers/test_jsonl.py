"""JSONL reader on the bundled JSONL files, and every kind of bad line."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import pytest
import zstandard

from dataforge.readers.base import FieldNotFound
from dataforge.readers.jsonl import JsonlReader, build_meta, text_problem


def test_redpajama_c4_meta_string_is_parsed_into_meta(read, data_dir: Path) -> None:
    path = data_dir / "c4/tiny_c4_sample.jsonl"
    res = read(JsonlReader, path)
    assert len(res.docs) == 449 and res.skipped == {}
    first = res.docs[0]
    assert first.id == f"src/{path}:1"  # no id field: source/file:line
    assert first.source == "src"
    assert first.text.startswith("lorazepam nombre comercial mexico")
    # the JSON-string "meta" is parsed and its keys lifted into meta
    assert first.meta == {
        "timestamp": "2019-04-24T02:17:53Z",
        "url": first.meta["url"],
        "language": "en",
        "source": "c4",
    }
    assert first.meta["url"].startswith("http://laness.us/")
    assert res.docs[-1].id == f"src/{path}:449"


def test_gzip_jsonl_with_url_and_date_fields(read, data_dir: Path) -> None:
    res = read(JsonlReader, data_dir / "c4/olmo-c4-sample.01.jsonl.gz")
    assert len(res.docs) == 10 and res.skipped == {}
    assert set(res.docs[0].meta) == {"url", "date"}
    assert res.docs[0].meta["url"].startswith("https://www.kentlive.news/")


def test_zstd_jsonl_integer_ids_and_meta_restriction(read, data_dir: Path) -> None:
    path = data_dir / "multilingual/hplt-fi.jsonl.zst"
    res = read(JsonlReader, path)
    assert len(res.docs) == 20
    assert [d.id for d in res.docs[:3]] == ["0", "1", "2"]  # the input's own ids, as strings
    assert {"document_lang", "url", "langs", "scores", "collection"} <= set(res.docs[0].meta)
    only = read(JsonlReader, path, meta_fields=["url", "document_lang"])
    assert set(only.docs[0].meta) == {"url", "document_lang"}
    none = read(JsonlReader, path, meta_fields=[], id_field=None)
    assert none.docs[0].meta == {} and none.docs[0].id == f"src/{path}:1"


def test_nested_meta_dict_is_lifted(read, data_dir: Path) -> None:
    res = read(JsonlReader, data_dir / "arxiv/arxiv.jsonl")
    assert len(res.docs) == 20
    assert res.docs[0].meta["arxiv_id"] == "2208.13940"
    assert "meta" not in res.docs[0].meta


def test_text_field_option(read, tmp_path: Path, data_dir: Path) -> None:
    lines = (data_dir / "c4/olmo-c4-sample.01.jsonl.gz").open("rb")
    path = tmp_path / "renamed.jsonl"
    with gzip.open(lines) as src, path.open("w") as out:
        for line in src:
            rec = json.loads(line)
            out.write(json.dumps({"body": rec["text"], "doc": "d" + rec["date"]}) + "\n")
    res = read(JsonlReader, path, text_field="body", id_field="doc")
    assert len(res.docs) == 10 and res.docs[0].id.startswith("d2019")
    # the default field is in none of the records: fatal, naming the fields there are
    with pytest.raises(FieldNotFound, match=rf"{path}:1: text_field 'text' is not in the records \(fields: body, doc\)"):
        read(JsonlReader, path)


def test_every_bad_line_is_counted_and_the_rest_kept(read, tmp_path: Path, data_dir: Path) -> None:
    good = (data_dir / "c4/tiny_c4_sample.jsonl").read_bytes().splitlines()[:10]
    bad = [
        good[0],
        good[1][:50],  # cut mid-string: broken JSON
        b"\xff\xfe" + good[2],  # invalid UTF-8
        b"[1, 2]",  # valid JSON, not an object
        b'{"text": 5}',
        b'{"url": "x"}',  # lacks the field (the file's other records have it: not fatal)
        b'{"text": "   "}',
        b'{"text": "half a pair \\ud800 here"}',  # lone surrogate: cannot be written as UTF-8
        b"",  # blank lines are ignored, not counted
        good[3],
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(bad) + b"\n")
    res = read(JsonlReader, path)
    assert [d.id for d in res.docs] == [f"src/{path}:1", f"src/{path}:10"]
    assert res.skipped == {
        "bad_json": 1,
        "invalid_utf8": 1,
        "not_an_object": 1,
        "text_not_string": 1,
        "missing_text_field": 1,
        "empty_text": 1,
        "invalid_unicode": 1,
    }


def test_skip_is_logged_with_path_and_line(read, tmp_path: Path, caplog) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "ok"}\n{broken\n')
    read(JsonlReader, path)
    assert f"{path}:2: skipped: bad_json" in caplog.text


def test_truncated_gzip_keeps_lines_before_the_break(read, tmp_path: Path, data_dir: Path) -> None:
    raw = (data_dir / "c4/olmo-c4-sample.01.jsonl.gz").read_bytes()
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(raw[: len(raw) // 2])
    res = read(JsonlReader, path)
    assert 0 < len(res.docs) < 10
    assert res.skipped == {"truncated_file": 1}
    full = read(JsonlReader, data_dir / "c4/olmo-c4-sample.01.jsonl.gz")
    assert [d.text for d in res.docs] == [d.text for d in full.docs[: len(res.docs)]]


def test_truncated_zstd_is_reported_not_silent(read, tmp_path: Path, data_dir: Path) -> None:
    raw = (data_dir / "multilingual/hplt-fi.jsonl.zst").read_bytes()
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(raw[: len(raw) * 3 // 4])
    res = read(JsonlReader, path)
    assert res.skipped == {"truncated_file": 1}
    assert len(res.docs) < 20


def test_concatenated_zstd_frames_are_all_read(read, tmp_path: Path) -> None:
    frame = zstandard.ZstdCompressor()
    path = tmp_path / "two.jsonl.zst"
    path.write_bytes(frame.compress(b'{"text": "a"}\n') + frame.compress(b'{"text": "b"}\n'))
    res = read(JsonlReader, path)
    assert [d.text for d in res.docs] == ["a", "b"] and res.skipped == {}


def test_missing_file_is_counted(read, tmp_path: Path) -> None:
    res = read(JsonlReader, tmp_path / "nope.jsonl")
    assert res.docs == [] and res.skipped == {"unreadable_file": 1}


def test_text_problem_rule() -> None:
    assert text_problem("hello", "text") is None
    assert text_problem(None, "text") == "missing_text_field"
    assert text_problem(["a"], "text") == "text_not_string"
    assert text_problem("\n\t ", "text") == "empty_text"


def test_build_meta_top_level_wins_and_bad_json_string_is_kept() -> None:
    rec = {"text": "t", "url": "top", "meta": '{"url": "nested", "lang": "en"}'}
    assert build_meta(rec, exclude={"text"}, keep=None) == {"url": "top", "lang": "en"}
    rec = {"text": "t", "meta": "{not json"}
    assert build_meta(rec, exclude={"text"}, keep=None) == {"meta": "{not json"}


def _records(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def test_wrong_text_field_is_fatal_with_a_suggestion(read, tmp_path: Path) -> None:
    path = _records(tmp_path / "x.jsonl", [{"id": i, "text": f"doc {i}", "url": "u"} for i in range(3)])
    with pytest.raises(FieldNotFound) as err:
        read(JsonlReader, path, text_field="txt")
    assert str(err.value).startswith(f"{path}:1: text_field 'txt' is not in the records "
                                     "(did you mean 'text'? fields: id, text, url); set text_field")
    assert err.value.exit_code == 2  # a ConfigError: the pipeline file is what is wrong
    assert pickle.loads(pickle.dumps(err.value)).args == err.value.args  # crosses process/Ray boundaries


def test_field_check_counts_objects_only_and_stops_at_the_first_hit(read, tmp_path: Path) -> None:
    # 99 objects without the field, junk lines between, then one with it: a real file with damage
    recs = [json.dumps({"body": i}) for i in range(99)] + ["[1]", "{bad", json.dumps({"text": "found"})]
    path = tmp_path / "late.jsonl"
    path.write_text("\n".join(recs) + "\n" + json.dumps({"body": 1}) + "\n")
    res = read(JsonlReader, path)
    assert [d.text for d in res.docs] == ["found"] and res.skipped["missing_text_field"] == 100
    # 100 objects without it: fatal, even though the 101st has it
    path.write_text("".join(json.dumps({"body": i}) + "\n" for i in range(100)) + json.dumps({"text": "x"}) + "\n")
    with pytest.raises(FieldNotFound, match="'text' is not in the records"):
        read(JsonlReader, path)


def test_field_check_only_in_the_first_part_and_past_its_end(tmp_path: Path) -> None:
    from dataforge.readers.base import Span
    from dataforge.stats import Stats

    path = _records(tmp_path / "p.jsonl", [{"body": "a"}, {"body": "b"}, {"text": "c"}])
    reader = JsonlReader(JsonlReader.Params(id_field=None), source="s", stats=Stats())
    # part 0 holds only the two records without the field: it looks on into the file and finds it
    assert list(reader.read(str(path), Span(0, 5, part=0, parts=2))) == []
    # a later part never checks (its records are not the file's first)
    later = _records(tmp_path / "q.jsonl", [{"body": "a"}, {"body": "b"}])
    assert list(reader.read(str(later), Span(5, None, first_record=2, part=1, parts=2))) == []
    with pytest.raises(FieldNotFound):
        list(reader.read(str(later), Span(0, 5, part=0, parts=2)))


def test_a_huge_line_costs_one_record(read, tmp_path: Path, caplog) -> None:
    path = tmp_path / "huge.jsonl.zst"
    raw = b'{"text": "a"}\n{"text": "' + b"x" * 200_000 + b'"}\n{"text": "b"}\n'
    path.write_bytes(zstandard.ZstdCompressor().compress(raw))
    res = read(JsonlReader, path, max_record_bytes=100_000)
    assert [d.text for d in res.docs] == ["a", "b"] and res.skipped == {"record_too_large": 1}
    assert f"{path}:2: skipped: record_too_large (200012 bytes > max_record_bytes 100000)" in caplog.text
    assert len(read(JsonlReader, path).docs) == 3  # the default limit (64 MiB) keeps it


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), 1.5, "many"])
def test_max_record_bytes_is_range_checked(bad) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="max_record_bytes"):
        JsonlReader.Params(max_record_bytes=bad)
